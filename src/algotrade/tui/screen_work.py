"""Screen workers that outlive their screen.

A screen's worker awaits the daemon, then fills the screen's widgets. When the user leaves the
screen meanwhile, Textual takes the screen down in steps: off the stack at once, its widgets
removed next, its workers cancelled last. An answer that arrives in between finds no widgets,
and the ``NoMatches`` it raises fails the worker, which ends the whole TUI (seen in CI as a
flaky role test; reproduced by ``tests/tui/test_tui_screen_close.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from textual.app import ScreenError, ScreenStackError
from textual.css.query import NoMatches
from textual.screen import Screen

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=Screen[Any])


def is_shown(screen: Screen[Any]) -> bool:
    """Whether ``screen`` is still on the app's screen stack (shown, or under one shown)."""
    return screen in screen.app.screen_stack


def while_shown(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R | None]]:
    """Wrap a screen's worker coroutine so that, once its screen has left the stack, missing
    widgets or a dismiss that is too late end the worker quietly: there is nothing left to
    show its answer on. While the screen is still shown, the same errors are real defects and
    propagate as before."""

    @functools.wraps(method)
    async def run(screen: S, /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return await method(screen, *args, **kwargs)
        except (NoMatches, ScreenError, ScreenStackError):
            if is_shown(screen):
                raise
            return None

    return run
