"""Parking: a case waiting only on its inbox keeps no trio task (a base of ``Case``).

A plain case that blocks with no child task ends its runner task and parks
its inbox (:meth:`~wftrio.runtime._inbox.Inbox.park`); the next message
starts a runner again, in the parked task's contextvars.  These are the
runner's methods for it, in a base of :class:`~wftrio.runtime._runner.Case`
(over :class:`~wftrio.runtime._case_record.CaseRecord`).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import trio

from wftrio.engine import idle, wake
from wftrio.runtime._case_record import CaseRecord
from wftrio.runtime._messages import Message

if TYPE_CHECKING:
    from wftrio.runtime._children import Children
    from wftrio.runtime._durable import Resumed

__all__ = ["Parking", "same_vars"]

_MISSING = object()


def same_vars(a: contextvars.Context, b: contextvars.Context) -> bool:
    """Whether contexts ``a`` and ``b`` hold the same variables with the same objects."""
    if len(a) != len(b):
        return False
    get = b.get
    for k, v in a.items():  # noqa: SIM110 - no generator: one call per parked case
        if get(k, _MISSING) is not v:
            return False
    return True


class Parking(CaseRecord):
    """The parking methods of :class:`~wftrio.runtime._runner.Case`, and the field it writes."""

    __slots__ = ("_context",)

    kids: Children | None
    resumed: Resumed | None
    _context: contextvars.Context | None
    run: Callable[..., Coroutine[Any, Any, None]]
    _end_task: Callable[[], Coroutine[Any, Any, None]]

    def _may_park(self) -> bool:
        """Whether the runner task may end while the case waits (see :meth:`run`).

        Only a plain case with no live child: no timeout (its cancel scope
        lives in the task), no replay, not durable (its store and resume
        bookkeeping stay with the task), no effect or timer in flight, and
        not while the substrate closes.
        """
        kids = self.kids
        return (
            self.replay is None
            and self.durable is None
            and self.resumed is None
            and self.opts.timeout is None
            and not self.sub.closing
            and (kids is None or (kids.live == 0 and not kids.unstarted and kids.held is None))
        )

    def park(self) -> bool:
        """Park the inbox with the case itself as its receiver (see :meth:`run`).

        The receiver is the case (:meth:`__call__`), not a bound method of
        it, and the runner's contextvars context, kept for the task that
        resumes the case, is shared with the previous parked case when both
        hold the same variables with the same objects (the usual case: every
        runner copies its context from the same caller).  Each is one object
        fewer per waiting case for the cyclic collector to traverse
        (docs/BENCHMARKS.md, figure 12b), as are the state's three empty
        lists, shared while it idles (``engine.idle``; ``wake`` in
        :meth:`_restart`).  A shared context is never entered:
        :meth:`_restart` runs in a copy.
        """
        if not self.inbox.park(self):
            return False
        context = trio.lowlevel.current_task().context
        shared = self.sub.parked_context
        if shared is not None and same_vars(context, shared):
            context = shared
        else:
            self.sub.parked_context = context
        self._context = context
        if self.st is not None:
            idle(self.st)  # its empty lists shared until _restart (engine/_idle.py)
        return True

    def __call__(self, batch: list[Message]) -> None:
        """Start the runner task of a parked case again with ``batch`` (the inbox calls it)."""
        self._restart(self.run, None, batch)

    def _restart(self, fn: Callable[..., Any], *args: Any) -> None:
        """Start ``fn(*args)`` as the case's runner task, in the parked task's contextvars."""
        nursery = self.sub._nursery
        context = self._context
        assert nursery is not None
        assert context is not None
        self._context = None
        if self.st is not None:
            wake(self.st)
        # the new task copies the current context: (a copy of) the parked
        # runner's, so the case's code sees the contextvars it saw before it
        # waited; a copy because other parked cases may share it (park)
        context.copy().run(nursery.start_soon, fn, *args, name=f"wftrio case {self.case_id}")

    def stop_parked(self) -> None:
        """At shutdown: a parked case's runner starts again and is cancelled where it waited.

        The substrate has cancelled the case nursery: the new task's first
        checkpoint raises ``trio.Cancelled``, as ``receive`` would have in
        a runner blocked there, and the case ends as any other does at
        shutdown.
        """
        if self.inbox.unpark() is not None:
            self._restart(self._stopped)

    async def _stopped(self) -> None:
        try:
            await trio.lowlevel.checkpoint()  # cancelled: the substrate is closing
        except BaseException:
            await self._end_task()
            raise
        await self.run(None, [])  # pragma: no cover - not cancelled: carry on waiting
