"""Trace events, trace levels, and extraction of replay logs from traces.

Every reduction step and every external input a case consumes is a
:class:`TraceEvent`.  At level ``"full"`` everything is recorded; ``"min"``
keeps the case, effect, signal, timer, region-cancellation and choice events
(everything needed for replay); ``"none"`` records nothing and builds no
event objects at all.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, TypeAlias

import attrs

__all__ = [
    "INPUT_KINDS",
    "MIN_KINDS",
    "EventKind",
    "InputEvent",
    "ReplayLog",
    "TraceEvent",
    "TraceLevel",
    "replay_log",
]

TraceLevel: TypeAlias = Literal["none", "min", "full"]
LEVELS: tuple[str, ...] = ("none", "min", "full")


class EventKind(enum.StrEnum):
    """The kinds of trace event (plain strings: ``EventKind.X == "x"``)."""

    CASE_STARTED = "case_started"
    CASE_COMPLETED = "case_completed"
    CASE_FAILED = "case_failed"
    CASE_CANCELLED = "case_cancelled"
    CASE_STATE = "case_state"
    TASK_STARTED = "task_started"
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"
    EFFECT_REQUESTED = "effect_requested"
    EFFECT_COMPLETED = "effect_completed"
    EFFECT_FAILED = "effect_failed"
    EFFECT_CANCELLED = "effect_cancelled"
    EFFECT_RETRY = "effect_retry"
    RECEIPT = "receipt"
    SIGNAL_RECEIVED = "signal_received"
    SIGNAL_CONSUMED = "signal_consumed"
    SIGNAL_DROPPED = "signal_dropped"
    SIGNAL_WAITING = "signal_waiting"
    TIMER_STARTED = "timer_started"
    TIMER_FIRED = "timer_fired"
    CHOICE = "choice"
    SPLIT = "split"
    JOIN_ARRIVED = "join_arrived"
    JOIN_FIRED = "join_fired"
    JOIN_ABSORBED = "join_absorbed"
    LOOP_ITERATION = "loop_iteration"
    LOOP_EXITED = "loop_exited"
    REGION_ENTERED = "region_entered"
    REGION_EXITED = "region_exited"
    REGION_CANCELLED = "region_cancelled"
    REGION_CANCEL_IGNORED = "region_cancel_ignored"
    MI_SPAWNED = "mi_spawned"
    MI_CHUNK = "mi_chunk"
    MI_INSTANCE_DONE = "mi_instance_done"
    MI_JOINED = "mi_joined"
    MI_INSTANCE_ADDED = "mi_instance_added"
    MI_CLOSED = "mi_closed"
    MI_COMPLETED = "mi_completed"
    TERMINATED = "terminated"
    TOKEN_WITHDRAWN = "token_withdrawn"


MIN_KINDS: frozenset[str] = frozenset(
    {
        "case_started",
        "case_completed",
        "case_failed",
        "case_cancelled",
        "case_state",
        "effect_requested",
        "effect_completed",
        "effect_failed",
        "effect_cancelled",
        "effect_retry",
        "receipt",
        "signal_received",
        "signal_consumed",
        "signal_dropped",
        "timer_fired",
        "choice",
        "region_cancelled",
        "region_cancel_ignored",
        "task_failed",
        "terminated",
        "mi_completed",
    }
)
"""The kinds kept at level ``"min"``."""

INPUT_KINDS: frozenset[str] = frozenset(
    {
        "signal_received",
        "signal_dropped",
        "region_cancel_ignored",
        "effect_completed",
        "effect_failed",
        "effect_retry",
        "timer_fired",
        "region_cancelled",
        "case_cancelled",
    }
)
"""Kinds that record an external input (they carry ``data["at_step"]``)."""


class TraceEvent(NamedTuple):
    """One structured trace event (an immutable value).

    A ``NamedTuple`` rather than an attrs class: the reducer builds one per
    step at level ``"full"``, and a tuple is built several times faster
    than a frozen attrs instance (see docs/ARCHITECTURE.md, "Tracing").

    Attributes:
        seq: position in the case's trace, from 0.
        case_id: the case it belongs to.
        kind: an :class:`EventKind` value (a string).
        name: the task name for task events, the signal name for signal
            events, the region id for region events, else a node path.
        token: the id of the token involved, or ``None``.
        scope: the innermost user region id the token was in, or ``None``.
        time: seconds since the case started, on the case's clock (trio's
            clock under the runtime; 0.0 for the bare reducer).
        data: JSON-able details (``at_step`` on input events).
    """

    seq: int
    case_id: str
    kind: str
    name: str | None = None
    token: int | None = None
    scope: str | None = None
    time: float = 0.0
    data: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen
class InputEvent:
    """One external input or scheduler choice, as replay feeds it back.

    ``kind`` is ``"choice"`` (``data["picked"]``) or one of
    :data:`INPUT_KINDS`; ``at_step`` is the case's step count when the input
    was consumed; ``time`` the case time it was consumed at.
    """

    kind: str
    at_step: int
    name: str | None = None
    time: float = 0.0
    data: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ReplayLog:
    """What :func:`replay_log` extracts from a trace.

    Attributes:
        preemptive: whether the recorded run re-picked a token at every step
            (a ``Seeded`` run) or ran each token until it blocked.
        choices: the scheduler's picks, in order.
        inputs: the external inputs, in the order the case consumed them.
        scheduler: the recorded run's scheduler name (``case_started``), which
            a ``Replay`` records again so the replayed trace is identical.
        root: the recorded case's causal root (its case id, from
            ``case_started``): a replay derives the same effect causal ids and
            idempotency keys from it, whatever id the replay runs under.
    """

    preemptive: bool
    choices: tuple[int, ...]
    inputs: tuple[InputEvent, ...]
    scheduler: str = "replay"
    root: str | None = None


def _count(ev: TraceEvent, field: str) -> int:
    """``ev.data[field]`` if it is an int (never coerced: "5" or 1.7 is no step).

    Its range is checked where the log is used (``wf.Replay`` refuses a step
    no case could have recorded with ``ReplayDivergence``).
    """
    v = ev.data[field]
    if type(v) is not int:
        raise ValueError(
            f"replay_log: event #{ev.seq} ({ev.kind}) has data[{field!r}]={v!r}, "
            "expected an int; the trace was not recorded by wftrio or was altered"
        )
    return v


def replay_log(trace: Iterable[TraceEvent]) -> ReplayLog:
    """Extract the scheduler choices and external inputs of a recorded trace.

    The trace must have been recorded at level ``"min"`` or ``"full"``.

    Raises:
        ValueError: the trace has no ``case_started`` event (level ``"none"``
            or a truncated trace), or a recorded step or choice is not an
            int.
    """
    preemptive: bool | None = None
    scheduler = "replay"
    root: str | None = None
    choices: list[int] = []
    inputs: list[InputEvent] = []
    for ev in trace:
        if ev.kind == "case_started":
            preemptive = bool(ev.data.get("preemptive", False))
            scheduler = str(ev.data.get("scheduler", "replay"))
            r = ev.data.get("root")
            root = r if isinstance(r, str) else ev.case_id
        elif ev.kind == "choice":
            if ev.data.get("by") == "scheduler":
                choices.append(_count(ev, "picked"))
        elif ev.kind in INPUT_KINDS and "at_step" in ev.data:
            inputs.append(
                InputEvent(ev.kind, _count(ev, "at_step"), ev.name, ev.time, dict(ev.data))
            )
    if preemptive is None:
        raise ValueError(
            "replay_log: the trace has no case_started event; record the case with "
            "trace_level='min' or 'full' to replay it"
        )
    return ReplayLog(preemptive, tuple(choices), tuple(inputs), scheduler, root)


def __getattr__(name: str) -> Any:
    """Deprecated names: ``write_jsonl`` / ``read_jsonl`` moved to :mod:`wftrio.serialize`.

    JSON I/O lives with the one converter, a layer above this module, so
    this module does not import it; the old names load it on first use.
    """
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(
            f"wftrio.trace.{name} moved to wftrio.serialize.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("wftrio.serialize"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_MOVED = frozenset({"read_jsonl", "write_jsonl"})
