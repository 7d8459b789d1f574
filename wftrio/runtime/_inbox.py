"""A case's inbox: a bounded, single-receiver memory channel.

Modelled on ``trio._channel``'s memory channel (a ``*_nowait`` core with
the async methods as checkpointing wrappers, explicit close semantics), cut
down to what a case runner needs so that a waiting case costs one slotted
object instead of a channel's three objects, deque and parking lots
(~2.5 KB, more than a whole waiting task):

* one receiver, the case runner, which takes *everything* queued at once
  (``receive`` returns a batch, in send order);
* any number of senders; ``send`` blocks while ``capacity`` items are
  queued (backpressure), ``put`` is for the case's own child tasks
  (effect results, timer firings) and ignores the capacity, so a child
  never waits on its parent;
* ``close`` wakes blocked senders with ``trio.ClosedResourceError`` and
  returns what was still queued, so nothing is dropped unseen;
* the receiver may also wait with no task at all (:meth:`Inbox.park`): the
  first item sent (or a :meth:`Inbox.wake`) then calls a function with the
  batch, where a blocked task would have been rescheduled with it.  A case
  waiting only on signals keeps no trio task this way (issue 12, figure 7).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio
from outcome import Error, Value
from trio.lowlevel import (
    Abort,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
    reschedule,
    wait_task_rescheduled,
)

__all__ = ["NO_INBOX", "Inbox", "InboxStatistics"]


@attrs.frozen
class InboxStatistics:
    """What ``Inbox.statistics()`` reports."""

    queued: int
    capacity: int
    senders_waiting: int
    receiver_waiting: bool
    closed: bool


class Inbox:
    """A bounded inbox with one receiver.

    Invariants: ``_items`` is ``None`` or non-empty; a blocked (or parked)
    receiver exists only while ``_items`` is ``None``; blocked senders exist
    only while ``len(_items) >= capacity``.  ``_receiver`` is the blocked
    receiver's task, or the function a parked receiver is resumed with.
    """

    __slots__ = ("_capacity", "_closed", "_items", "_receiver", "_senders")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"inbox capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._closed = False
        self._items: list[Any] | None = None
        self._receiver: Task | Callable[[list[Any]], None] | None = None
        self._senders: dict[Task, Any] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return (len(self._items) if self._items else 0) + (
            len(self._senders) if self._senders else 0
        )

    # -- sending -------------------------------------------------------------

    def send_nowait(self, item: Any) -> None:
        """Queue ``item`` without blocking.

        Raises:
            trio.WouldBlock: ``capacity`` items are already queued.
            trio.ClosedResourceError: the inbox is closed.
        """
        if self._closed:
            raise trio.ClosedResourceError("the inbox is closed")
        items = self._items
        if items is not None and len(items) >= self._capacity:
            raise trio.WouldBlock
        self._append(item)

    def put(self, item: Any) -> bool:
        """Queue ``item`` regardless of capacity (for the case's own children).

        Returns False (and queues nothing) when the inbox is closed: the case
        has finished and has no use for the item.
        """
        if self._closed:
            return False
        items = self._items
        if items is not None:  # (no receiver waits while items are queued)
            items.append(item)
        else:
            self._append(item)
        return True

    def _append(self, item: Any) -> None:
        task = self._receiver
        if task is not None:
            self._receiver = None
            if type(task) is Task:
                reschedule(task, Value([item]))
            else:
                task([item])
        elif self._items is None:
            self._items = [item]
        else:
            self._items.append(item)

    async def send(self, item: Any) -> None:
        """Queue ``item``, waiting while the inbox is full.

        Always a checkpoint.  If cancelled, the item was not queued.

        Raises:
            trio.ClosedResourceError: the inbox is (or gets) closed.
        """
        await checkpoint_if_cancelled()
        try:
            self.send_nowait(item)
        except trio.WouldBlock:
            pass
        else:
            await cancel_shielded_checkpoint()
            return
        task = current_task()
        if self._senders is None:
            self._senders = {}
        senders = self._senders
        senders[task] = item

        def abort(_: Any) -> Abort:
            del senders[task]
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    # -- receiving -----------------------------------------------------------

    def receive_nowait(self) -> list[Any] | None:
        """Take everything queued (in send order), or ``None`` if nothing is."""
        items = self._items
        self._items = None
        senders = self._senders
        if senders:
            # make room: admit blocked senders, oldest first, up to capacity
            admitted: list[Any] = []
            for task in list(senders):
                if len(admitted) >= self._capacity:
                    break
                admitted.append(senders.pop(task))
                reschedule(task, Value(None))
            if items is None:
                items = admitted
            else:
                self._items = admitted
        return items

    def receive(self) -> Awaitable[list[Any]]:
        """Wait for and take everything queued, as a list in send order.

        Await the result at once (``batch = await inbox.receive()``); it is
        always a checkpoint, and if cancelled nothing was taken.  Returns an
        empty list when :meth:`wake` was called with nothing queued.

        A plain method returning an awaitable rather than an ``async def``:
        a case waits here for most of its life, and this keeps one
        coroutine frame (and a closure) off every waiting case.
        """
        items = self.receive_nowait()
        if items:
            return self._ready(items)
        if self._receiver is not None:
            raise trio.BusyResourceError("another task is already receiving from this inbox")
        self._receiver = current_task()
        return wait_task_rescheduled(self._abort_receive)  # noqa: ASYNC105 - awaited by the caller

    @property
    def parked(self) -> bool:
        """Whether the receiver waits parked (see :meth:`park`)."""
        r = self._receiver
        return r is not None and type(r) is not Task

    def park(self, resume: Callable[[list[Any]], None]) -> bool:
        """Wait for the next batch without a task: ``resume(batch)`` is called with it.

        The first item sent (or put) is passed to ``resume`` as a batch of
        one, synchronously in the sender, exactly where a receiver blocked
        in :meth:`receive` would have been rescheduled with it; items sent
        after it queue until the receiver takes them.  :meth:`wake` calls
        ``resume([])``.  Returns False (and parks nothing) when an item is
        already queued or the inbox is closed: take those instead.

        Raises:
            trio.BusyResourceError: a receiver is already waiting.
        """
        if self._items or self._closed:
            return False
        if self._receiver is not None:
            raise trio.BusyResourceError("another task is already receiving from this inbox")
        self._receiver = resume
        return True

    def unpark(self) -> Callable[[list[Any]], None] | None:
        """Take back a parked receiver's function (not called); ``None`` if none is parked."""
        r = self._receiver
        if r is None or type(r) is Task:
            return None
        self._receiver = None
        return r

    def _abort_receive(self, _: Any) -> Abort:
        self._receiver = None
        return Abort.SUCCEEDED

    async def _ready(self, items: list[Any]) -> list[Any]:
        try:
            await checkpoint()
        except BaseException:
            # cancelled: put the batch back in front, as if never taken
            rest = self._items
            self._items = items + rest if rest else items
            raise
        return items

    def wake(self) -> None:
        """Make a blocked ``receive`` return (an empty batch if nothing is queued).

        A parked receiver is resumed with an empty batch.
        """
        task = self._receiver
        if task is not None:
            self._receiver = None
            if type(task) is Task:
                reschedule(task, Value([]))
            else:
                task([])

    # -- closing -------------------------------------------------------------

    def close(self) -> list[Any]:
        """Close the inbox and return the items queued but not received.

        Blocked senders get ``trio.ClosedResourceError`` (their items were
        never accepted); a blocked receiver gets an empty batch; a parked
        one is dropped (not resumed).  Closing twice returns ``[]`` the second time.
        """
        if self._closed:
            return []
        self._closed = True
        left = self._items or []
        self._items = None
        senders = self._senders
        if senders:
            # their items were never accepted: the senders learn it from the error
            for task in senders:
                reschedule(task, Error(trio.ClosedResourceError("the case has finished")))
            senders.clear()
        r = self._receiver
        if r is not None:  # (none, for a case that never waited)
            self._receiver = None
            if type(r) is Task:  # a blocked receiver gets an empty batch
                reschedule(r, Value([]))
            # a parked one is dropped, not resumed
        return left

    def statistics(self) -> InboxStatistics:
        """Queue length, capacity and waiting tasks."""
        return InboxStatistics(
            queued=len(self._items) if self._items else 0,
            capacity=self._capacity,
            senders_waiting=len(self._senders) if self._senders else 0,
            receiver_waiting=self._receiver is not None,
            closed=self._closed,
        )

    def __repr__(self) -> str:
        return f"<Inbox queued={len(self)} capacity={self._capacity} closed={self._closed}>"


def _closed_inbox() -> Inbox:
    inbox = Inbox(1)
    inbox.close()
    return inbox


NO_INBOX = _closed_inbox()
"""The inbox of a case that has none yet: shared, closed and empty.

A case gets its own :class:`Inbox` when it first needs one (before its
runner task starts, or before it becomes visible while its store row is
written); a case that finishes in its first burst never does, and keeps
this one (a closed inbox, as any finished case's is).  Nothing can be
queued in it: ``put`` returns False, ``send`` raises
``trio.ClosedResourceError``.
"""
