"""The snapshot records: a plain-data image of a case's execution state.

Every record is a frozen attrs class holding no callables and no object
references: tokens, control frames, region activations and ctx layers are
records keyed by id that refer to each other by id.  ``wftrio.serialize``
turns a :class:`StateSnapshot` into JSON and back with the one converter.

:data:`FIELDS` says which record field holds each snapshotted field of each
engine class: for tokens, frames, regions and ctx layers the field of the
same name (derived from :data:`wftrio.engine.schema.SCHEMA`; capture and
restore fill those records from the schema too), for the state, the effect
metadata and the governor an explicit table (checked against the schema by
``tests/test_schema.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import attrs

from wftrio.engine._effects import EffectMeta
from wftrio.engine._state import ExecState, Status
from wftrio.engine.objects import CtxLayer, Frame, JoinInst, LoopFrame, MIInst, RegionInst, Token
from wftrio.engine.schema import fields_where
from wftrio.governance import Governor
from wftrio.trace import ReplayLog, TraceLevel

__all__ = [
    "FIELDS",
    "SNAPSHOT_VERSION",
    "CtxLayerSnap",
    "DeferAlt",
    "DeferWaitSnap",
    "DeterministicState",
    "EffectWaitSnap",
    "ErrorSnap",
    "FrameSnap",
    "GovernanceSnap",
    "JoinSnap",
    "LoopSnap",
    "MIResult",
    "MISnap",
    "PendingEffect",
    "PendingTimer",
    "RegionSnap",
    "ReplayState",
    "SchedulerState",
    "SeededState",
    "SignalWaitSnap",
    "StateSnapshot",
    "TokenSnap",
    "WaitSnap",
    "Waiter",
]

SNAPSHOT_VERSION = 1
"""Bumped whenever the snapshot format changes incompatibly."""


@attrs.frozen(kw_only=True)
class CtxLayerSnap:
    """A :class:`~wftrio.engine.objects.CtxLayer`: ctx layer of the case or of an mi instance."""

    id: int
    parent: int | None
    data: dict[str, Any]
    base: dict[str, Any] | None
    index: int


@attrs.frozen(kw_only=True)
class JoinSnap:
    """A :class:`~wftrio.engine.objects.JoinInst` (one split/join activation)."""

    TAG: ClassVar[str] = "join"
    id: int
    parent: int | None
    region: int | None
    scope: int
    needed: int
    started: int
    arrived: int
    fired: bool
    cont: int
    cancel_region: int | None
    # a blocking join (WCP-28/31): its fork's pc, arrivals held (None: not
    # held) and the activation it holds until it resets
    site: int = -1
    held: int | None = None
    blocks: int | None = None


@attrs.frozen(kw_only=True)
class LoopSnap:
    """A :class:`~wftrio.engine.objects.LoopFrame` (a ``loop(times=n)`` counter)."""

    TAG: ClassVar[str] = "loop"
    id: int
    parent: int | None
    count: int


@attrs.frozen(kw_only=True)
class MIResult:
    """The updates of one finished mi instance."""

    index: int
    data: dict[str, Any]


@attrs.frozen(kw_only=True)
class MISnap:
    """A :class:`~wftrio.engine.objects.MIInst` (one multiple-instance activation)."""

    TAG: ClassVar[str] = "mi"
    id: int
    parent: int | None
    region: int | None
    scope: int
    n: int
    needed: int | None
    done: int
    fired: bool
    cont: int
    results: tuple[MIResult, ...]  # in completion order
    # instances still to spawn: every item while some are (None once all are)
    items: tuple[Any, ...] | None = None
    spawned: int | None = None  # None: all n (a snapshot from before bounded spawning)
    cancel_region: int | None = None  # the instances' implicit region (cancel_rest, WCP-35)
    open: bool = False  # instances may still be added (more_on, WCP-15)
    completed: bool = False  # completed early (until / complete_on, WCP-27)


FrameSnap = JoinSnap | LoopSnap | MISnap
"""A control frame; tagged by ``"kind"`` in JSON."""


@attrs.frozen(kw_only=True)
class RegionSnap:
    """A :class:`~wftrio.engine.objects.RegionInst` (tokens, children in their order)."""

    id: int
    scope_id: str | None
    parent: int | None
    frame: int | None
    scope: int
    cancel_pc: int
    tokens: tuple[int, ...]
    children: tuple[int, ...]
    exited: bool
    alive: bool


@attrs.frozen
class EffectWaitSnap:
    """The token waits for effect ``eid``."""

    TAG: ClassVar[str] = "effect"
    eid: int


@attrs.frozen
class SignalWaitSnap:
    """The token waits for signal ``name`` (``wait_signal``)."""

    TAG: ClassVar[str] = "signal"
    name: str


@attrs.frozen
class DeferAlt:
    """One armed ``defer`` alternative: a signal name or a timer id."""

    alt: int
    signal: str | None = None
    timer: int | None = None


@attrs.frozen
class DeferWaitSnap:
    """The token waits for the first of its ``defer`` alternatives."""

    TAG: ClassVar[str] = "defer"
    alts: tuple[DeferAlt, ...]


WaitSnap = EffectWaitSnap | SignalWaitSnap | DeferWaitSnap
"""What a blocked token waits on; tagged by ``"on"`` in JSON."""


@attrs.frozen(kw_only=True)
class TokenSnap:
    """A live :class:`~wftrio.engine.objects.Token`."""

    id: int
    pc: int
    frame: int | None
    region: int | None
    scope: int
    wait: WaitSnap | None


@attrs.frozen
class Waiter:
    """A token waiting for a signal, and the ``defer`` alternative it waits with."""

    token: int
    alt: int


@attrs.frozen
class PendingEffect:
    """Effect ``eid`` requested by ``token`` and not yet fed back.

    The other fields restore what its receipt needs (``EffectMeta``): causal
    id, kind, request hash, cost, request time and attempts retried so far,
    and for an ``Effect`` spec its kind, payload (a JSON value) and cost.
    ``epoch``: the state's ``epoch`` at the request (-1: before any epoch
    the snapshot knows); an effect of the current epoch was not started by
    the host, and withdrawn before the burst blocks it made no attempt.
    """

    eid: int
    token: int
    causal_id: str = ""
    kind: str = ""
    request: str = ""
    cost: float = 0.0
    requested_at: float = 0.0
    attempts: int = 0
    epoch: int = -1
    spec_kind: str | None = None
    spec_payload: Any = None
    spec_cost: float | None = None


@attrs.frozen(kw_only=True)
class GovernanceSnap:
    """A case's :class:`~wftrio.governance.Governor`: its options and what it used."""

    allow: tuple[str, ...] | None = None
    max_effects: int | None = None
    max_time: float | None = None
    max_cost: float | None = None
    effects: int = 0
    time: float = 0.0
    cost: float = 0.0


@attrs.frozen
class PendingTimer:
    """Timer ``tid`` armed by ``token`` for its ``defer`` alternative ``alt``."""

    tid: int
    token: int
    alt: int


@attrs.frozen
class ErrorSnap:
    """Why a case failed, as recorded in its trace."""

    error_type: str
    error: str


@attrs.frozen
class DeterministicState:
    """The deterministic scheduler (stateless)."""

    TAG: ClassVar[str] = "deterministic"


@attrs.frozen(kw_only=True)
class SeededState:
    """A :class:`~wftrio.scheduling.Seeded` scheduler and its generator's state."""

    TAG: ClassVar[str] = "seeded"
    seed: int
    preemptive: bool
    rng_version: int
    rng_state: tuple[int, ...]
    rng_gauss: float | None


@attrs.frozen(kw_only=True)
class ReplayState:
    """A :class:`~wftrio.scheduling.Replay` scheduler: its log and position in it."""

    TAG: ClassVar[str] = "replay"
    log: ReplayLog
    pos: int


SchedulerState = DeterministicState | SeededState | ReplayState
"""The scheduler policy's state; tagged by ``"kind"`` in JSON."""


@attrs.frozen(kw_only=True)
class StateSnapshot:
    """Everything needed to rebuild one case's :class:`~wftrio.engine.ExecState`.

    Take one with ``st.snapshot()`` between steps; rebuild with
    ``ExecState.restore(program, snap)``.  Treat it as immutable (its dicts
    are private copies; restoring copies them again, so one snapshot can be
    restored any number of times).

    Attributes:
        version: :data:`SNAPSHOT_VERSION` of the format.
        fingerprint: :func:`program_fingerprint` of the Program it came from.
        case_id / status / error / trace_level / steps / seq: as on the state.
        t0: the state's clock value when the case started.
        elapsed: case time at the snapshot (0.0 without a clock).
        next_id: the next id the state hands out (tokens, frames, effects...).
        scheduler: the scheduler policy's state.
        root: id of the case's root scope (whose ``data`` is the case ctx).
        scopes / frames / regions / tokens: every object reachable from the
            state, sorted by id, referring to one another by id.
        ready: the ready queue's live tokens (ids), in order.
        current: the token being run, if any.
        region_index: user region id -> ids of its live activations, in order.
        signals: queued persistent signals' payloads, by name, oldest first.
        waiters: signal name -> tokens waiting for it, oldest first.
        effects: pending effects, in request order.
        timers: armed timers, in arming order.
        governance: the case's allowlist, budget and budget use, if any.
        causal_root: the root effect causal ids derive from (``None``: the case id).
    """

    version: int
    fingerprint: str
    case_id: str
    status: Status
    error: ErrorSnap | None
    trace_level: TraceLevel
    t0: float
    elapsed: float
    next_id: int
    seq: int
    steps: int
    scheduler: SchedulerState
    root: int
    scopes: tuple[CtxLayerSnap, ...]
    frames: tuple[FrameSnap, ...]
    regions: tuple[RegionSnap, ...]
    tokens: tuple[TokenSnap, ...]
    ready: tuple[int, ...]
    current: int | None
    region_index: dict[str, tuple[int, ...]]
    signals: dict[str, tuple[Any, ...]]
    waiters: dict[str, tuple[Waiter, ...]]
    effects: tuple[PendingEffect, ...]
    timers: tuple[PendingTimer, ...]
    governance: GovernanceSnap | None = None
    causal_root: str | None = None
    epoch: int = 0


# the names these records had before the engine's wait records existed
ScopeSnap = CtxLayerSnap
EffectWait = EffectWaitSnap
SignalWait = SignalWaitSnap
DeferWait = DeferWaitSnap


def _same(*names: str) -> dict[str, tuple[str, ...]]:
    return {n: (n,) for n in names}


def _graph(cls: type) -> dict[str, tuple[str, ...]]:
    # tokens, frames, regions and ctx layers: each snapshotted field under its own name
    return _same(*sorted(fields_where(cls, snapshot=True)))


FIELDS: Mapping[type, tuple[type | None, Mapping[str, tuple[str, ...]]]] = MappingProxyType(
    {
        Token: (TokenSnap, _graph(Token)),
        Frame: (None, _graph(Frame)),  # abstract: see its subclasses
        JoinInst: (JoinSnap, _graph(JoinInst)),
        LoopFrame: (LoopSnap, _graph(LoopFrame)),
        MIInst: (MISnap, _graph(MIInst)),
        RegionInst: (RegionSnap, _graph(RegionInst)),
        CtxLayer: (CtxLayerSnap, _graph(CtxLayer)),
        EffectMeta: (
            PendingEffect,
            {
                **_same(
                    "attempts", "causal_id", "cost", "epoch", "kind", "request", "requested_at"
                ),
                "spec": ("spec_kind", "spec_payload", "spec_cost"),
            },
        ),
        Governor: (
            GovernanceSnap,
            {
                **_same("allow", "cost", "effects", "time"),
                "budget": ("max_effects", "max_time", "max_cost"),
            },
        ),
        ExecState: (
            StateSnapshot,
            {
                **_same(
                    "case_id",
                    "current",
                    "error",
                    "ready",
                    "root",
                    "scheduler",
                    "seq",
                    "signals",
                    "status",
                    "steps",
                    "t0",
                    "timers",
                    "tokens",
                    "waiters",
                    "effects",
                    "epoch",
                ),
                "_next_id": ("next_id",),
                "effect_meta": ("effects",),
                "governor": ("governance",),
                "level": ("trace_level",),
                "regions": ("region_index",),
                "root_id": ("causal_root",),
            },
        ),
    }
)
"""Engine class -> (its snapshot record, object field -> the record fields holding it)."""

RECORD_ONLY: Mapping[type, frozenset[str]] = MappingProxyType(
    {
        StateSnapshot: frozenset(
            {"version", "fingerprint", "elapsed", "scopes", "frames", "regions"}
        ),
        PendingEffect: frozenset({"eid", "token"}),
    }
)
"""Record fields that hold no engine field (format data, the graph's object lists, keys)."""
