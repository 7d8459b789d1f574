"""``wf.MemoryStore``: cases live in memory only (the default without a path)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import trio

from wftrio.errors import OptionError
from wftrio.stores._base import StoredCase

__all__ = ["MemoryStore"]


class MemoryStore:
    """Keeps nothing: when the process stops, its cases are gone.

    The substrate never hands a non-durable store a case's events, so a
    case on it costs exactly what it did before stores existed.

    Args:
        clock: a wall clock, in seconds (default ``time.time``), accepted
            for symmetry with :class:`~wftrio.stores.SQLiteStore`; nothing
            is stored, so a case's timers stay on trio's clock.

    Raises:
        OptionError: ``clock`` is not callable.
    """

    __slots__ = ("clock",)

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        if not callable(clock):
            raise OptionError(
                f"MemoryStore(): clock={clock!r}, expected a callable returning seconds"
            )
        self.clock = clock

    @property
    def durable(self) -> bool:
        """Always False."""
        return False

    async def open(self, nursery: trio.Nursery) -> Sequence[StoredCase | Exception]:
        """Nothing to resume."""
        await trio.lowlevel.checkpoint()
        return ()

    async def aclose(self) -> None:
        """Nothing to release."""
        await trio.lowlevel.checkpoint()

    def __repr__(self) -> str:
        return "MemoryStore()"
