"""Trace sinks and the trace-sink task that fans events in from every case.

A case runner commits each burst's events to its case's in-memory store
(what ``sub.events`` and ``CaseResult.trace`` read) and, when any sink is
attached, sends the same batch over one bounded memory channel to the
substrate's trace-sink task.  A full channel blocks the runner
(backpressure): events are never dropped.  The sink task calls each sink's
``write``; nothing a sink does can fail a case:

* an event a sink cannot write (``write`` raises ``TypeError`` /
  ``ValueError``, e.g. a payload that is not JSON, or
  :class:`~wftrio.errors.SinkEventError` naming the events) costs that
  event alone, for that sink alone: the case it belongs to counts it
  (``CaseInfo.sink_errors``, ``SubstrateStats.sink_errors``) and keeps a
  ``sink_error`` note; the sink stays enabled for every case;
* a sink that raises anything else is broken: it is disabled and logged.

The hub holds a reference to a case (and to its per-case sink) only while
one of its batches is queued: a finished case's sink is released.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import IO, Any, Protocol, TypeAlias, TypeGuard, runtime_checkable

import trio

from wftrio.errors import OptionError, SinkEventError
from wftrio.serialize import write_jsonl
from wftrio.trace import TraceEvent

__all__ = [
    "check_sinks",
    "ordered",
    "CallbackSink",
    "JsonlSink",
    "MemorySink",
    "SinkHub",
    "SinkSlot",
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
    with :func:`wftrio.serialize.read_jsonl`.  A batch is serialised before
    anything is written: an event that cannot be (a payload that is not
    JSON) is left out, and reported in a :class:`SinkEventError` after the
    rest of the batch was written.
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
        buf = io.StringIO()
        failed: list[tuple[TraceEvent, BaseException]] = []
        for ev in events:
            mark = buf.tell()
            try:
                write_jsonl((ev,), buf)
            except (TypeError, ValueError, RecursionError) as exc:
                buf.seek(mark)
                buf.truncate()
                failed.append((ev, exc))
        self._fp.write(buf.getvalue())
        if failed:
            raise SinkEventError(failed)

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
        """Call ``fn`` for each event; an event it raises ``TypeError`` /
        ``ValueError`` for is reported in a :class:`SinkEventError` after the
        others were delivered (anything else propagates at once)."""
        fn = self.fn
        failed: list[tuple[TraceEvent, BaseException]] | None = None
        for ev in events:
            try:
                fn(ev)
            except (TypeError, ValueError) as exc:
                if failed is None:
                    failed = []
                failed.append((ev, exc))
        if failed:
            raise SinkEventError(failed)

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


class SinkSlot:
    """One attached sink and its health: how a case or the hub refers to a sink.

    ``disabled`` is set when the sink raised something other than an
    event-level error (it is broken); ``shared`` for substrate-wide sinks
    (closed at shutdown), not for per-case ones (their owner closes them).
    """

    __slots__ = ("disabled", "shared", "sink")

    def __init__(self, sink: TraceSink, shared: bool) -> None:
        self.sink = sink
        self.shared = shared
        self.disabled = False

    def __repr__(self) -> str:
        return f"<SinkSlot {self.sink!r}{' disabled' if self.disabled else ''}>"


SinkNote: TypeAlias = "Callable[[TraceSink, TraceEvent, BaseException], None]"
"""Called for an event a sink could not write (the case's ``sink_failed``)."""

Batch: TypeAlias = "tuple[SinkNote, tuple[SinkSlot, ...], list[TraceEvent]]"


class SinkHub:
    """The bounded sink channel and the trace-sink task reading it.

    Args:
        sinks: substrate-wide sinks (receive every case's events).
        buffer: channel capacity in batches.
    """

    def __init__(self, sinks: Iterable[object], buffer: int) -> None:
        if buffer < 1:
            raise ValueError(f"sink_buffer must be >= 1, got {buffer}")
        self.sinks: tuple[SinkSlot, ...] = tuple(SinkSlot(as_sink(s), True) for s in sinks)
        self._buffer = buffer
        # the channel, made when the sink task starts (most substrates have no sink)
        self._send: trio.MemorySendChannel[Batch] | None = None
        self._recv: trio.MemoryReceiveChannel[Batch] | None = None
        self._nursery: trio.Nursery | None = None
        self._running = False
        self.disabled = 0
        self.batches = 0
        self.events = 0
        self.sink_errors = 0

    async def send(
        self, note: SinkNote, targets: tuple[SinkSlot, ...], events: list[TraceEvent]
    ) -> None:
        """Queue a batch of one case's events for ``targets``, waiting while the channel is full.

        ``note`` is told about each event a sink could not write.  If
        cancelled, the batch was not queued (the caller keeps it).
        """
        await self._channel()[0].send((note, targets, events))

    def _channel(self) -> tuple[trio.MemorySendChannel[Batch], trio.MemoryReceiveChannel[Batch]]:
        if self._send is None or self._recv is None:
            self._send, self._recv = trio.open_memory_channel[Batch](self._buffer)
        return self._send, self._recv

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The trace-sink task: deliver batches until the channel is closed.

        Shielded from cancellation so that cases being cancelled can still
        flush their last events; it ends when :meth:`aclose` closes the
        sending side (after the last case runner has exited), then closes
        the substrate-wide sinks that have a ``close`` method.
        """
        recv = self._channel()[1]
        with trio.CancelScope(shield=True):
            task_status.started()
            async with recv:
                async for note, targets, events in recv:
                    self._deliver(note, targets, events)
                    del note, targets, events  # hold no case between batches
            for slot in self.sinks:
                close = getattr(slot.sink, "close", None)
                if close is None:
                    continue
                try:
                    close()
                except Exception:
                    logger.exception("trace sink %r raised on close", slot.sink)

    def _deliver(
        self, note: SinkNote, targets: tuple[SinkSlot, ...], events: list[TraceEvent]
    ) -> None:
        self.batches += 1
        self.events += len(events)
        for slot in targets:
            if slot.disabled:
                continue
            sink = slot.sink
            try:
                sink.write(events)
            except SinkEventError as exc:
                for ev, err in exc.failed:
                    self._event_failed(note, sink, ev, err)
            except (TypeError, ValueError) as exc:
                if len(events) == 1:
                    self._event_failed(note, sink, events[0], exc)
                else:
                    self._one_by_one(note, slot, events)
            except Exception:
                self._disable(slot)

    def _one_by_one(self, note: SinkNote, slot: SinkSlot, events: list[TraceEvent]) -> None:
        """A sink refused a batch: offer it the events one at a time."""
        for ev in events:
            try:
                slot.sink.write([ev])
            except (TypeError, ValueError) as exc:
                self._event_failed(note, slot.sink, ev, exc)
            except Exception:
                self._disable(slot)
                return

    def _event_failed(
        self, note: SinkNote, sink: TraceSink, ev: TraceEvent, exc: BaseException
    ) -> None:
        self.sink_errors += 1
        try:
            note(sink, ev, exc)
        except Exception:  # pragma: no cover - a bug in the note
            logger.exception("recording a sink error raised")

    def _disable(self, slot: SinkSlot) -> None:
        slot.disabled = True
        self.disabled += 1
        logger.exception("trace sink %r raised; it is disabled from now on", slot.sink)

    def attach(self, nursery: trio.Nursery) -> None:
        """Run the sink task in ``nursery``: now if a substrate-wide sink exists, else on demand.

        A substrate without sinks never starts the task (``wf.run`` and
        small programs save a task and a scheduler round) until a case
        gets a sink of its own (:meth:`ensure_running`).
        """
        self._nursery = nursery
        if self.sinks:
            self.ensure_running()

    def ensure_running(self) -> None:
        """Start the sink task if it is not running yet."""
        if not self._running and self._nursery is not None:
            self._running = True
            self._channel()
            self._nursery.start_soon(self.run)

    async def aclose(self) -> None:
        """Close the sending side; the sink task drains what is queued and ends.

        A checkpoint, unless the channel was never made (no sink task ran:
        nothing to close, and the substrate's exit saves two scheduler rounds).
        """
        send, recv = self._send, self._recv
        if send is None or recv is None:
            return
        await send.aclose()
        if not self._running:
            await recv.aclose()

    def statistics(self) -> dict[str, Any]:
        """Batches/events delivered, events sinks could not write, sinks disabled, occupancy."""
        send = self._send
        queued = send.statistics().current_buffer_used if send is not None else 0
        return {
            "batches": self.batches,
            "events": self.events,
            "sink_errors": self.sink_errors,
            "disabled": self.disabled,
            "queued": queued,
            "capacity": self._buffer,
        }


def ordered(x: object) -> TypeGuard[Iterable[object]]:
    """Whether ``x`` is an iterable holding items in order (not a str, bytes, mapping or set)."""
    return isinstance(x, Iterable) and not isinstance(
        x, str | bytes | bytearray | Mapping | AbstractSet
    )


def check_sinks(sinks: object) -> list[object]:
    """``open_substrate``'s ``sinks=``: None or an iterable of sinks, as a list.

    Raises:
        OptionError: anything else, or an item that is no sink.
    """
    if sinks is None:
        return []
    if not ordered(sinks):
        raise OptionError(
            f"open_substrate(): sinks={sinks!r}, expected None or a list of trace sinks"
        )
    out = list(sinks)
    for s in out:
        if not (isinstance(s, TraceSink) or callable(s)):
            raise OptionError(
                f"open_substrate(): sinks holds {s!r}, expected objects with "
                "write(events) or callables"
            )
    return out
