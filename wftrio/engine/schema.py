"""One description of the engine's object graph: every class, every field, its role.

A case's execution state is a graph of slotted objects (:class:`ExecState`,
:class:`~wftrio.engine.objects.Token`, the control frames, region
activations, ctx layers, effect metadata and the governor).  Four pieces of
code walk that graph, and each must treat every field:

* the explorer's copier (:func:`wftrio.validation.clone.clone_state`) is
  *derived* from this schema: it copies, remaps or shares each field as its
  :class:`Kind` says (it never decides by class or module name);
* snapshot capture and restore (:mod:`wftrio.engine._snapshot`), the
  canonical state keys (:mod:`wftrio.validation.statekey`) and the invariant
  checker (:mod:`wftrio.testing.invariants`) each declare the fields they
  handle, and ``tests/test_schema.py`` checks those declarations against
  this schema and the schema against every class's ``__slots__``.

So adding a field to an engine object fails the test suite until the field
is declared here and every consumer says what it does with it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from wftrio.engine._effects import EffectMeta
from wftrio.engine._state import ExecState
from wftrio.engine.objects import CtxLayer, Frame, JoinInst, LoopFrame, MIInst, RegionInst, Token
from wftrio.governance import Governor

__all__ = ["SCHEMA", "ClassSchema", "Field", "Kind", "fields_where", "slot_names"]


class Kind(enum.Enum):
    """What a field is, which fixes how a copy of the state treats it."""

    VALUE = "value"
    """Case state held as an immutable value (int, str, enum, tuple, frozen
    record, exception): a copy shares it; a snapshot and a key record it."""
    DATA = "data"
    """Case data in a mutable container (a ctx dict, queued signal payloads,
    collected mi results): a copy gets a fresh container one level deep
    (deques inside a dict included), sharing the values, which the reducer
    never mutates in place."""
    REF = "ref"
    """A reference into the object graph, or a container of references (a
    token's frame, a region's token set, the state's waiter table): a copy
    points at the copied objects, a snapshot records ids."""
    CONST = "const"
    """A constant shared by every copy of the state (the Program and its
    handlers, the clock, the event callback, options of the host)."""
    DERIVED = "derived"
    """Recomputed from other fields (a ctx layer's read-through view, the
    state's bound recorder, flags derived from the trace level)."""


@attrs.frozen
class Field:
    """One field (slot) of an engine class.

    Attributes:
        name: the slot name.
        kind: its :class:`Kind`.
        doc: what it holds (and why a consumer leaves it out, if one does).
        snapshot: part of a :class:`~wftrio.engine.StateSnapshot`.
        key: part of the canonical state key of the explorer.
    """

    name: str
    kind: Kind
    doc: str
    snapshot: bool = attrs.field()
    key: bool = attrs.field()

    @snapshot.default
    def _snapshot_default(self) -> bool:
        return self.kind in (Kind.VALUE, Kind.DATA, Kind.REF)

    @key.default
    def _key_default(self) -> bool:
        return self.kind in (Kind.VALUE, Kind.DATA, Kind.REF)


@attrs.frozen
class ClassSchema:
    """The fields of one engine class (its own and inherited slots)."""

    cls: type
    fields: tuple[Field, ...]

    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.cls.__name__} has no field {name!r} in the schema")


V, D, R, C, X = Kind.VALUE, Kind.DATA, Kind.REF, Kind.CONST, Kind.DERIVED

_ID = Field("id", V, "identity, unique in the case; renamed by state keys", key=False)
_FRAME = (_ID, Field("parent", R, "the enclosing control frame"))

_CLASSES: tuple[ClassSchema, ...] = (
    ClassSchema(
        Token,
        (
            _ID,
            Field("pc", V, "program counter"),
            Field("wait", V, "what it is blocked on (a protocol wait record) or None"),
            Field(
                "alive",
                V,
                "false once dead or withdrawn; snapshots and keys hold live tokens only",
                snapshot=False,
                key=False,
            ),
            Field("frame", R, "innermost control frame"),
            Field("region", R, "innermost region activation"),
            Field("scope", R, "the ctx layer its tasks read and write"),
        ),
    ),
    ClassSchema(Frame, _FRAME),
    ClassSchema(
        JoinInst,
        (
            *_FRAME,
            Field("arrived", V, "branches arrived"),
            Field("blocks", R, "a blocking join: the next activation held until this one resets"),
            Field("cancel_region", R, "implicit region of a cancel_rest join"),
            Field("cont", V, "continuation pc"),
            Field("fired", V, "the join fired"),
            Field("held", V, "a blocking join: arrivals held back (None: not held)"),
            Field("needed", V, "arrivals that fire it"),
            Field("region", R, "region activation of the split"),
            Field("scope", R, "ctx layer of the continuation"),
            Field("site", V, "a blocking join's fork pc (-1: not a blocking join)"),
            Field("started", V, "branches started"),
        ),
    ),
    ClassSchema(LoopFrame, (*_FRAME, Field("count", V, "iterations done"))),
    ClassSchema(
        MIInst,
        (
            *_FRAME,
            Field("cancel_region", R, "implicit region of the instances and watchers"),
            Field("completed", V, "completed early (until / complete_on)"),
            Field("cont", V, "continuation pc"),
            Field("done", V, "instances finished"),
            Field("fired", V, "the continuation left"),
            Field("items", D, "every item while instances are left to spawn, else None"),
            Field("n", V, "instances in all"),
            Field("needed", V, "instances that fire it (None: join='none')"),
            Field("open", V, "instances may still be added (more_on)"),
            Field("region", R, "region activation of the spawn"),
            Field("results", D, "instance index -> that instance's updates"),
            Field("scope", R, "ctx layer of the continuation"),
            Field("spawned", V, "instances spawned so far (== n once all are)"),
        ),
    ),
    ClassSchema(
        RegionInst,
        (
            Field("alive", V, "false once withdrawn or closed"),
            Field("cancel_pc", V, "where a cancellation continues (-1: after the region)"),
            Field(
                "children",
                R,
                "live nested activations, in order; keyed through their parent refs",
                key=False,
            ),
            Field("exited", V, "control left while late tokens still run inside"),
            Field("frame", R, "control frame at entry (the continuation's)"),
            _ID,
            Field("parent", R, "enclosing activation"),
            Field("scope", R, "ctx layer at entry"),
            Field("scope_id", V, "the user's region id (None: a join's implicit region)"),
            Field(
                "tokens",
                R,
                "live tokens whose innermost region it is; keyed through the tokens",
                key=False,
            ),
        ),
    ),
    ClassSchema(
        CtxLayer,
        (
            Field(
                "base",
                D,
                "an mi instance's item and index (never mutated); symmetric instances share a key",
                key=False,
            ),
            Field("data", D, "updates written here (the root layer's is the case ctx)"),
            _ID,
            Field(
                "index",
                V,
                "mi instance index (-1: the root); symmetric instances share a key",
                key=False,
            ),
            Field("maps", X, "the layers the view reads, innermost first"),
            Field("parent", R, "enclosing layer"),
            Field(
                "snap",
                X,
                "the root layer's cached copy of the ctx for effects (None after a write)",
            ),
            Field("view", X, "read-only view tasks get"),
        ),
    ),
    ClassSchema(
        EffectMeta,
        (
            Field("attempts", V, "attempts reported failed and retried", key=False),
            Field("causal_id", V, "causal id of the effect", key=False),
            Field("cost", V, "charged cost", key=False),
            Field(
                "epoch",
                V,
                "the state's epoch at the request (a snapshot keeps whether it is the current one)",
                key=False,
            ),
            Field(
                "key",
                V,
                "idempotency key (a function of causal_id; restore recomputes it)",
                snapshot=False,
                key=False,
            ),
            Field("kind", V, "effect kind", key=False),
            Field("request", V, "request hash (a DeferredRequest until first read)", key=False),
            Field("requested_at", V, "case time of the request", key=False),
            Field("spec", V, "the Effect a sync task returned, or None", key=False),
            Field(
                "started",
                V,
                "0.0 while pending; an ok outcome's start, once closed for its receipt",
                snapshot=False,
                key=False,
            ),
            Field(
                "ended",
                V,
                "0.0 while pending; an ok outcome's end, once closed for its receipt",
                snapshot=False,
                key=False,
            ),
        ),
    ),
    ClassSchema(
        Governor,
        (
            Field(
                "allow", V, "the case's allowlist (an option; restore takes it again)", key=False
            ),
            Field("budget", V, "the case's budget (an option; restore takes it again)", key=False),
            Field("cost", V, "cost used", key=False),
            Field("effects", V, "effects admitted", key=False),
            Field("time", V, "effect time used", key=False),
        ),
    ),
    ClassSchema(
        ExecState,
        (
            Field(
                "_events",
                D,
                "recorded events, fused runs of pure tasks kept as one FusedRun each until "
                "``events`` is read (a snapshot holds none)",
                snapshot=False,
                key=False,
            ),
            Field("_lazy", V, "whether _events holds compact records", snapshot=False, key=False),
            Field("_next_id", V, "next id handed out; renamed by keys", key=False),
            Field(
                "_unhashed",
                V,
                "the ctx digest the receipts recorded last wait for (built when the next "
                "snapshot's receipt is recorded)",
                snapshot=False,
                key=False,
            ),
            Field("_record", X, "the recorder, None: append to _events (from the level)"),
            Field("case_id", V, "the case id in trace events", key=False),
            Field("clock", C, "the host's clock"),
            Field("code", C, "the Program's handlers"),
            Field("current", R, "the token being run", key=False),
            Field(
                "defer_keys",
                C,
                "a host option: StartEffect.key left None for the host to derive",
            ),
            Field(
                "effect_meta",
                R,
                "eid -> EffectMeta of pending effects (receipt data)",
                key=False,
            ),
            Field("effects", R, "eid -> waiting token; keyed through the waits", key=False),
            Field(
                "epoch",
                V,
                "times the reduction blocked (effects start only after it)",
                key=False,
            ),
            Field("error", V, "why the case failed; a final state keys by status", key=False),
            Field("full", X, "level == 'full'"),
            Field(
                "governor",
                R,
                "allowlist, budget and what it used (a Governor)",
                key=False,
            ),
            Field("keep_events", C, "a host option, given again on restore"),
            Field("level", V, "the trace level", key=False),
            Field("on_event", C, "the host's event callback"),
            Field(
                "outbox",
                D,
                "commands not yet taken (drained before a snapshot)",
                snapshot=False,
                key=False,
            ),
            Field("preemptive", X, "the scheduler's preemptive flag"),
            Field("program", C, "the Program (shared, immutable)"),
            Field("ready", R, "runnable tokens (a stack)", key=False),
            Field("regions", R, "region id -> live activations"),
            Field("root", R, "the root ctx layer (reached through the tokens)", key=False),
            Field("root_id", V, "the causal root effect ids derive from", key=False),
            Field(
                "scheduler",
                C,
                "the scheduler policy: shared by explorer copies, snapshotted by its state()",
                snapshot=True,
            ),
            Field("seq", V, "next trace sequence number", key=False),
            Field("signals", D, "queued persistent signal payloads by name"),
            Field("status", V, "where the reduction stands"),
            Field("steps", V, "steps taken", key=False),
            Field("t0", V, "clock value at the start", key=False),
            Field("timers", R, "tid -> (token, alternative); keyed through the waits", key=False),
            Field("tokens", R, "live tokens by id"),
            Field("tracing", X, "level != 'none'"),
            Field("waiters", R, "signal name -> waiting token(s)"),
        ),
    ),
)

SCHEMA: Mapping[type, ClassSchema] = MappingProxyType({c.cls: c for c in _CLASSES})
"""Every class of the engine's object graph -> its schema."""


def slot_names(cls: type) -> frozenset[str]:
    """The slot names of ``cls`` and its bases (``__weakref__`` / ``__dict__`` left out)."""
    names: set[str] = set()
    for c in cls.__mro__:
        slots = c.__dict__.get("__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
    names.discard("__weakref__")
    names.discard("__dict__")
    return frozenset(names)


def fields_where(
    cls: type, *, snapshot: bool | None = None, key: bool | None = None
) -> frozenset[str]:
    """The names of ``cls``'s fields with the given flags."""
    return frozenset(
        f.name
        for f in SCHEMA[cls].fields
        if (snapshot is None or f.snapshot == snapshot) and (key is None or f.key == key)
    )
