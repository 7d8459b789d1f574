"""The substrate's count of live cases: a plain int, and an event for ``drain``.

It replaces a ``trio_util.AsyncValue``, whose setter walks its waiters on
every change: a case start and a case end each touch the count, so it is on
the hot path of every case (figures 7 and 11 of ``python -m wftrio.bench``).
"""

from __future__ import annotations

import trio
import trio.lowlevel

__all__ = ["LiveCount"]


class LiveCount:
    """How many cases are live; :meth:`wait_zero` waits until none is.

    A case start adds 1 to ``value`` directly (``Substrate._launch``).
    """

    __slots__ = ("_idle", "value")

    def __init__(self) -> None:
        self.value = 0
        self._idle: trio.Event | None = None  # made for the first waiter, set at 0

    def dec(self) -> None:
        v = self.value = self.value - 1
        if v == 0 and self._idle is not None:
            self._idle.set()
            self._idle = None

    async def wait_zero(self) -> None:
        """Return once the count is 0 (at once, after a checkpoint, if it is now)."""
        if self.value == 0:
            await trio.lowlevel.checkpoint()
            return
        idle = self._idle
        if idle is None:
            idle = self._idle = trio.Event()
        await idle.wait()
