"""Argument checks shared by the algebra and the layers above it.

Every check raises :class:`~wftrio.errors.TermTypeError` (a ``TypeError``
and a ``ValueError``) whose message names the node and the argument, e.g.
``loop(times=-3): times must be an int >= 0``.  Upper layers use
:func:`is_int` for their own "an int, not a bool" tests and raise their own
error types.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, TypeGuard

from wftrio.errors import TermTypeError

__all__ = [
    "check_callable",
    "check_condition",
    "check_int",
    "check_name",
    "check_number",
    "fn_name",
    "is_async_callable",
    "is_int",
    "is_name",
    "is_number",
    "name_problem",
]


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an ``int`` and not a ``bool`` (``True`` is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is a finite ``int`` or ``float`` (not a ``bool``, NaN or inf)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_int(where: str, arg: str, value: object, *, low: int = 0) -> int:
    """Return ``value`` if it is an int (not a bool) >= ``low``.

    Raises:
        TermTypeError: anything else, naming ``where`` and ``arg``.
    """
    if not is_int(value) or value < low:
        raise TermTypeError(f"{where}({arg}={value!r}): {arg} must be an int >= {low}")
    return value


def check_number(where: str, arg: str, value: object, *, low: float, strict: bool) -> float:
    """Return ``value`` as a float if it is a finite number >= ``low`` (> when ``strict``).

    Raises:
        TermTypeError: anything else, naming ``where`` and ``arg``.
    """
    if not is_number(value) or value < low or (strict and value == low):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise TermTypeError(f"{where}: {arg}={value!r} must be a finite number {bound}")
    return float(value)


def name_problem(value: object) -> str | None:
    """Why ``value`` is no name, or ``None`` when it is one.

    A name is a non-empty ``str`` that UTF-8 can encode: a lone surrogate
    (``"\\ud800"``, what a bad decode leaves) cannot be written to a trace,
    a snapshot or a store, so it is refused where the name enters.
    """
    if not isinstance(value, str):
        return "must be a non-empty string"
    if not value:
        return "must be a non-empty string, not empty"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"holds a lone surrogate at index {exc.start} (not valid Unicode text)"
    return None


def is_name(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a name: a non-empty string of valid Unicode text."""
    return name_problem(value) is None


def check_name(where: str, arg: str, value: object) -> str:
    """Return ``value`` if it is a name (a non-empty string of valid Unicode text).

    Raises:
        TermTypeError: anything else, naming ``where`` and ``arg``.
    """
    problem = name_problem(value)
    if problem is not None:
        raise TermTypeError(f"{where}: {arg} {problem}, got {value!r}")
    assert isinstance(value, str)
    return value


def check_callable(where: str, arg: str, value: object) -> Callable[..., Any]:
    """Return ``value`` if it is callable.

    Raises:
        TermTypeError: anything else, naming ``where`` and ``arg``.
    """
    if not callable(value):
        raise TermTypeError(
            f"{where}: {arg} must be callable, got {value!r} ({type(value).__name__})"
        )
    return value


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` returns an awaitable or an async iterator.

    Sees through ``functools.partial`` and callable objects whose
    ``__call__`` is ``async def``.
    """
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return True
    if not inspect.isroutine(fn) and not isinstance(fn, type):
        call = getattr(type(fn), "__call__", None)  # noqa: B004 - the class, not the object
        return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
    return False


def check_condition(where: str, arg: str, value: object) -> Callable[..., Any]:
    """Return ``value`` if it is a synchronous callable (a condition or a count).

    Conditions are evaluated by the reducer inside one reduction step, so
    they must be pure and synchronous: an ``async def`` would never run.

    Raises:
        TermTypeError: not callable, or an ``async def`` function.
    """
    fn = check_callable(where, arg, value)
    if is_async_callable(fn):
        raise TermTypeError(
            f"{where}: {arg}={fn_name(fn)} is async; conditions are pure and synchronous; "
            "use an effect before the choice"
        )
    return fn


def fn_name(fn: object) -> str:
    """The name a term's repr shows for a function: its qualified name, or its repr."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else repr(fn)
