"""Run a recursive algorithm over a term without Python recursion.

Terms may be nested far deeper than Python's recursion limit (a loop
building ``t = seq(t, step)`` 10,000 times), so code that is naturally
recursive over a term is written as a generator instead: where it would
call itself it ``yield``\\ s the arguments of the call and receives the
result, and :func:`trampoline` runs the generators on an explicit stack.
The order of side effects is exactly that of the recursive version.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

__all__ = ["Recursive", "trampoline"]

R = TypeVar("R")

# a generator that yields the argument tuples of its recursive calls, is sent
# their results, and returns its own result
Recursive = Generator[tuple[Any, ...], R, R]


def trampoline(step: Callable[..., Recursive[R]], *args: Any) -> R:
    """Return ``step(*args)``'s result, running each yielded call on a stack.

    ``step`` is a generator function; ``yield (a, b)`` inside it means
    "the result of ``step(a, b)``".
    """
    stack = [step(*args)]
    value: Any = None
    while True:
        try:
            call = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            value = stop.value
            if not stack:
                return value  # type: ignore[no-any-return]
            continue
        stack.append(step(*call))
        value = None
