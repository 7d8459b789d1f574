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

    A case start adds 1 to ``value`` directly (``Substrate._launch``), and
    a case end takes 1 off it and calls :meth:`at_zero` when that leaves 0
    and ``idle`` is set (``Substrate.case_finished``): no call per case.
    """

    __slots__ = ("idle", "value")

    def __init__(self) -> None:
        self.value = 0
        self.idle: trio.Event | None = None  # made for the first waiter, set at 0

    def at_zero(self) -> None:
        """The count has dropped to 0: wake the waiters of :meth:`wait_zero`."""
        idle = self.idle
        if idle is not None:
            self.idle = None
            idle.set()

    async def wait_zero(self) -> None:
        """Return once the count is 0 (at once, after a checkpoint, if it is now)."""
        if self.value == 0:
            await trio.lowlevel.checkpoint()
            return
        idle = self.idle
        if idle is None:
            idle = self.idle = trio.Event()
        await idle.wait()
