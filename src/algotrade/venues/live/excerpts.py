"""Short, safe descriptions of what a venue answered or raised, for error messages."""

from __future__ import annotations

import httpx

__all__ = ["body_excerpt", "describe_error"]

BODY_EXCERPT = 200  # characters of a reply body quoted in an error message


def body_excerpt(response: httpx.Response) -> str:
    """The reply body with white space folded, cut to ``BODY_EXCERPT`` characters."""
    text = " ".join(response.text.split())
    if len(text) > BODY_EXCERPT:
        text = text[:BODY_EXCERPT] + "…"
    return repr(text) if text else "(empty body)"


def describe_error(exc: Exception) -> str:
    """``Type: message``, or the type alone when the message is empty."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
