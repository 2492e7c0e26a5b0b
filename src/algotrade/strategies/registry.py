"""Find a strategy class by built-in name or load it from a user's ``.py`` file.

Built-ins are imported lazily, so listing them or loading one does not import the others.
A user file is executed as a fresh module (a unique name per load, so two files with the same
stem never collide) and must define exactly one ``Strategy`` subclass, or several of which
one has ``name`` equal to the file's stem. Every failure is a one-line ``ConfigError``.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from algotrade.core.errors import ConfigError
from algotrade.core.strategy import Strategy

# name → "module:ClassName", imported on first use.
_BUILTINS: dict[str, str] = {
    "grid": "algotrade.strategies.grid:Grid",
    "ma_crossover": "algotrade.strategies.ma_crossover:MACrossover",
    "quad_ma": "algotrade.strategies.quad_ma:QuadMA",
    "rsi": "algotrade.strategies.rsi:RSIReversion",
}

_load_counter = itertools.count(1)


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
    """Instantiate a strategy; string values (from ``--param k=v``) are coerced by pydantic."""
    return get_strategy_class(name_or_path)(params)


def load_strategy_file(path: Path, *, shown_as: str | None = None) -> type[Strategy]:
    """Execute a user strategy file and return the ``Strategy`` subclass it defines."""
    label = shown_as or str(path)
    if not path.is_file():
        raise ConfigError(f"strategy file {label} not found")
    module_name = f"algotrade_user_strategy_{next(_load_counter)}_{_identifier(path.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"strategy file {label} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before executing: dataclasses and pydantic resolve the module's annotations
    # through sys.modules while the class bodies run.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ConfigError(
            f"strategy file {label} failed to import: {_describe_import_error(exc, path)}"
        ) from exc
    return _pick_strategy(module, path, label)


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
    if len(candidates) == 1:
        return candidates[0]
    named = [cls for cls in candidates if cls.name == path.stem]
    if len(named) == 1:
        return named[0]
    classes = ", ".join(sorted(cls.__name__ for cls in candidates))
    raise ConfigError(
        f"strategy file {label} defines several strategies ({classes}); "
        f"set name = {path.stem!r} on the one to run"
    )


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
