"""``wf.MemoryStore``: cases live in memory only (the default without a path)."""

from __future__ import annotations

from collections.abc import Sequence

import trio

from wftrio.stores._base import StoredCase

__all__ = ["MemoryStore"]


class MemoryStore:
    """Keeps nothing: when the process stops, its cases are gone.

    The substrate never hands a non-durable store a case's events, so a
    case on it costs exactly what it did before stores existed.
    """

    __slots__ = ()

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
