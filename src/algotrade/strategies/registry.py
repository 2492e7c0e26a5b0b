"""Find a strategy class by built-in name or load it from a user's ``.py`` file.

Built-ins are imported lazily, so listing them or loading one does not import the others.
A user file must define exactly one ``Strategy`` subclass, or several of which one has ``name``
equal to the file's stem. It is executed once per content: loading the same file again (every
bot validated or started from it) reuses the class, and a file whose bytes changed is executed
again under the same module name, so ``sys.modules`` holds one entry per file, never one per
load. Every failure is a one-line ``ConfigError``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from algotrade.core.errors import ConfigError
from algotrade.core.strategy import Strategy, StrategyParams

# name → "module:ClassName", imported on first use.
_BUILTINS: dict[str, str] = {
    "grid": "algotrade.strategies.grid:Grid",
    "ma_crossover": "algotrade.strategies.ma_crossover:MACrossover",
    "quad_ma": "algotrade.strategies.quad_ma:QuadMA",
    "rsi": "algotrade.strategies.rsi:RSIReversion",
}


@dataclass(frozen=True, slots=True)
class _LoadedFile:
    digest: str  # sha256 of the file's bytes when it was executed
    strategy: type[Strategy]


# resolved path → the strategy its current content defines.
_loaded_files: dict[Path, _LoadedFile] = {}
# Bots are validated and started from the daemon's loop and from executor threads.
_load_lock = threading.Lock()


def builtin_strategy_names() -> list[str]:
    """Names of the built-in strategies, sorted, without importing them."""
    return sorted(_BUILTINS)


def builtin_strategies() -> dict[str, type[Strategy]]:
    """All built-in strategies by name (imports each of them)."""
    return {name: _import_builtin(name) for name in builtin_strategy_names()}


def get_strategy_class(name_or_path: str) -> type[Strategy]:
    """A built-in strategy by name, or the strategy defined in a ``.py`` file."""
    if name_or_path.endswith(".py"):
        return load_strategy_file(Path(name_or_path), shown_as=name_or_path)
    if name_or_path not in _BUILTINS:
        known = ", ".join(builtin_strategy_names())
        raise ConfigError(
            f"unknown strategy {name_or_path!r}; built-in strategies are {known}, "
            "or give the path of a .py file"
        )
    return _import_builtin(name_or_path)


def create_strategy(name_or_path: str, params: Mapping[str, Any] | None = None) -> Strategy:
    """Instantiate a strategy; string values (from ``--param k=v``) are coerced by pydantic.
    An unknown parameter name is a ``ConfigError`` that lists the valid ones (checked by
    ``Strategy.parse_params``, so every way of creating a strategy gets it)."""
    return get_strategy_class(name_or_path)(params)


def load_strategy_file(path: Path, *, shown_as: str | None = None) -> type[Strategy]:
    """The ``Strategy`` subclass a user file defines, executing the file only when its content
    is new: the same bytes give the same class (and no new ``sys.modules`` entry)."""
    label = shown_as or str(path)
    try:
        resolved = path.resolve(strict=True)
        source = resolved.read_bytes() if resolved.is_file() else None
    except FileNotFoundError:
        source = None
    except OSError as exc:
        raise ConfigError(f"strategy file {label} cannot be read: {exc.strerror or exc}") from None
    if source is None:
        raise ConfigError(f"strategy file {label} not found")
    digest = hashlib.sha256(source).hexdigest()
    with _load_lock:
        loaded = _loaded_files.get(resolved)
        if loaded is not None and loaded.digest == digest:
            return loaded.strategy
        strategy = _execute_file(resolved, path, label)
        _loaded_files[resolved] = _LoadedFile(digest, strategy)
        return strategy


def _execute_file(resolved: Path, path: Path, label: str) -> type[Strategy]:
    # One module name per file (its stem for tracebacks, a hash of its path so that two files
    # with the same stem never collide); a changed file replaces its own entry.
    path_hash = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    module_name = f"algotrade_user_strategy_{_identifier(path.stem)}_{path_hash}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(f"strategy file {label} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    # Registered before executing: dataclasses and pydantic resolve the module's annotations
    # through sys.modules while the class bodies run.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        return _pick_strategy(module, path, label)
    except Exception as exc:
        # The previous content's module stays (its classes may be running in bots).
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            del sys.modules[module_name]
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(
            f"strategy file {label} failed to import: {_describe_import_error(exc, path)}"
        ) from exc


def _import_builtin(name: str) -> type[Strategy]:
    module_name, class_name = _BUILTINS[name].split(":")
    cls: type[Strategy] = getattr(importlib.import_module(module_name), class_name)
    return cls


def _pick_strategy(module: ModuleType, path: Path, label: str) -> type[Strategy]:
    # Only classes defined in the file count: an imported base or built-in is not the user's.
    candidates = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
    ]
    if not candidates:
        raise ConfigError(f"strategy file {label} defines no subclass of Strategy")
    named = [cls for cls in candidates if cls.name == path.stem]
    if len(candidates) > 1 and len(named) != 1:
        classes = ", ".join(sorted(cls.__name__ for cls in candidates))
        raise ConfigError(
            f"strategy file {label} defines several strategies ({classes}); "
            f"set name = {path.stem!r} on the one to run"
        )
    chosen = candidates[0] if len(candidates) == 1 else named[0]
    params = chosen.Params
    # Parameters are validated (and listed by ``strategies show``) through this model.
    if not (isinstance(params, type) and issubclass(params, StrategyParams)):
        raise ConfigError(
            f"strategy file {label}: {chosen.__name__}.Params must be a subclass of "
            f"StrategyParams, got {params!r}"
        )
    return chosen


def _describe_import_error(exc: Exception, path: Path) -> str:
    """``Type: message (line N)``, N being the line in the user's file, on one line."""
    if isinstance(exc, SyntaxError):
        message, line = exc.msg, exc.lineno
    else:
        message = str(exc)
        line = None
        resolved = str(path.resolve())
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename in (str(path), resolved):
                line = frame.lineno  # the deepest frame in the user's file
    text = f"{type(exc).__name__}: {' '.join(message.split())}" if message else type(exc).__name__
    return f"{text} (line {line})" if line is not None else text


def _identifier(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)
