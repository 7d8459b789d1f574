"""Trace sinks and the trace-sink task that fans events in from every case.

A case runner commits each burst's events to its case's in-memory store
(what ``sub.events`` and ``CaseResult.trace`` read) and, when any sink is
attached, sends the same batch over one bounded memory channel to the
substrate's trace-sink task.  A full channel blocks the runner
(backpressure): events are never dropped.  The sink task calls each sink's
``write``; a sink that raises is disabled and logged, never failing a case.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, Protocol, TypeAlias, runtime_checkable

import trio

from wftrio.serialize import write_jsonl
from wftrio.trace import TraceEvent

__all__ = [
    "CallbackSink",
    "JsonlSink",
    "MemorySink",
    "SinkHub",
    "TraceSink",
    "as_sink",
]

logger = logging.getLogger("wftrio.runtime")


@runtime_checkable
class TraceSink(Protocol):
    """Anything with ``write(events)``; ``close()`` is called at shutdown if present.

    ``write`` runs in the substrate's trace-sink task, synchronously, with a
    batch of events in the order one case recorded them (batches of
    different cases interleave).  It should be quick: while it runs, cases
    that produce events wait for room in the sink channel.
    """

    def write(self, events: Sequence[TraceEvent]) -> None:
        """Consume a batch of events."""
        ...


class MemorySink:
    """Keep every event in memory (a substrate-wide view across cases)."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def write(self, events: Sequence[TraceEvent]) -> None:
        self.events.extend(events)

    def for_case(self, case_id: str) -> list[TraceEvent]:
        """The events of one case, in recorded order."""
        return [ev for ev in self.events if ev.case_id == case_id]

    def __repr__(self) -> str:
        return f"<MemorySink events={len(self.events)}>"


class JsonlSink:
    """Append events to a JSON-lines file (one event per line).

    Args:
        target: a path (opened for appending, closed at shutdown) or an open
            text file (flushed, not closed, at shutdown).

    Lines are written with :func:`wftrio.serialize.write_jsonl` and read back
    with :func:`wftrio.serialize.read_jsonl`.
    """

    __slots__ = ("_fp", "_owned", "name")

    def __init__(self, target: str | os.PathLike[str] | IO[str]) -> None:
        if isinstance(target, str | os.PathLike):
            self._fp: IO[str] = open(target, "a", encoding="utf-8")  # noqa: SIM115
            self._owned = True
            self.name = os.fspath(target)
        else:
            self._fp = target
            self._owned = False
            self.name = getattr(target, "name", repr(target))

    def write(self, events: Sequence[TraceEvent]) -> None:
        write_jsonl(events, self._fp)

    def close(self) -> None:
        """Flush; close the file if this sink opened it."""
        if self._owned:
            self._fp.close()
        else:
            self._fp.flush()

    def __repr__(self) -> str:
        return f"<JsonlSink {self.name!r}>"


class CallbackSink:
    """Call ``fn(event)`` for every event."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[TraceEvent], object]) -> None:
        self.fn = fn

    def write(self, events: Sequence[TraceEvent]) -> None:
        fn = self.fn
        for ev in events:
            fn(ev)

    def __repr__(self) -> str:
        return f"<CallbackSink {self.fn!r}>"


SinkLike: TypeAlias = "TraceSink | Callable[[TraceEvent], object]"


def as_sink(obj: object) -> TraceSink:
    """A sink object as is; a plain callable wrapped in :class:`CallbackSink`.

    Raises:
        TypeError: ``obj`` has no ``write`` method and is not callable.
    """
    if isinstance(obj, TraceSink):
        return obj
    if callable(obj):
        return CallbackSink(obj)
    raise TypeError(
        f"{obj!r} is not a trace sink: expected an object with write(events) or a callable"
    )


Batch: TypeAlias = "tuple[tuple[TraceSink, ...], list[TraceEvent]]"


class SinkHub:
    """The bounded sink channel and the trace-sink task reading it.

    Args:
        sinks: substrate-wide sinks (receive every case's events).
        buffer: channel capacity in batches.
    """

    def __init__(self, sinks: Iterable[object], buffer: int) -> None:
        if buffer < 1:
            raise ValueError(f"sink_buffer must be >= 1, got {buffer}")
        self.sinks: tuple[TraceSink, ...] = tuple(as_sink(s) for s in sinks)
        self._send, self._recv = trio.open_memory_channel[Batch](buffer)
        self._seen: dict[int, TraceSink] = {id(s): s for s in self.sinks}
        self.disabled: dict[int, TraceSink] = {}
        self.batches = 0
        self.events = 0

    async def send(self, targets: tuple[TraceSink, ...], events: list[TraceEvent]) -> None:
        """Queue a batch for ``targets``, waiting while the channel is full.

        If cancelled, the batch was not queued (the caller keeps it).
        """
        await self._send.send((targets, events))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The trace-sink task: deliver batches until the channel is closed.

        Shielded from cancellation so that cases being cancelled can still
        flush their last events; it ends when :meth:`aclose` closes the
        sending side (after the last case runner has exited), then closes
        the sinks that have a ``close`` method.
        """
        with trio.CancelScope(shield=True):
            task_status.started()
            async with self._recv:
                async for targets, events in self._recv:
                    self._deliver(targets, events)
            for sink in self._seen.values():
                close = getattr(sink, "close", None)
                if close is None:
                    continue
                try:
                    close()
                except Exception:
                    logger.exception("trace sink %r raised on close", sink)

    def _deliver(self, targets: tuple[TraceSink, ...], events: list[TraceEvent]) -> None:
        self.batches += 1
        self.events += len(events)
        disabled = self.disabled
        for sink in targets:
            key = id(sink)
            if key in disabled:
                continue
            self._seen.setdefault(key, sink)
            try:
                sink.write(events)
            except Exception:
                disabled[key] = sink
                logger.exception("trace sink %r raised; it is disabled from now on", sink)

    async def aclose(self) -> None:
        """Close the sending side; the sink task drains what is queued and ends."""
        await self._send.aclose()

    def statistics(self) -> dict[str, Any]:
        """Batches/events delivered, sinks disabled, channel occupancy."""
        st = self._send.statistics()
        return {
            "batches": self.batches,
            "events": self.events,
            "disabled": len(self.disabled),
            "queued": st.current_buffer_used,
            "capacity": st.max_buffer_size,
        }
