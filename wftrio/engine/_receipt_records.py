"""The compact records behind an effect's receipt: its request hash computed when read.

An async task's request hash covers the ctx the effect received; canonicalising
a large ctx costs milliseconds, so it is deferred (docs/EFFECTS.md,
"Receipts"): a :class:`CtxSnapshot` is the copy the effects requested from
one ctx state share, its :class:`CtxDigest` the SHA-256 state after the ctx
part (built once, when first needed), a :class:`DeferredRequest` one
request's hash, and a :class:`PendingReceipt` the ``receipt`` event waiting
for it, built into a :class:`~wftrio.trace.TraceEvent` when the trace is
read.  Re-exported by ``engine/_effects.py``, whose reducer code makes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import attrs

from wftrio.effects import idempotency_key
from wftrio.engine.frozen import FrozenDict, freeze_items
from wftrio.receipts import Receipt, canonical_json, stable_hash
from wftrio.trace import EventKind, TraceEvent

if TYPE_CHECKING:
    from wftrio.engine.objects import CtxLayer

__all__ = [
    "NOTHING",
    "CtxDigest",
    "CtxSnapshot",
    "DeferredRequest",
    "PendingReceipt",
    "build_receipt",
    "completed_event",
    "ctx_snapshot",
    "requested_event",
]


@attrs.define(eq=False)
class CtxDigest:
    """The SHA-256 state after ``'{"ctx":'`` + the canonical JSON of a ctx snapshot.

    Built on first use, once for every request made from the snapshot;
    building it drops the reference to the snapshot's data, so a receipt
    waiting for its request hash keeps no copy of the ctx once it is built.
    """

    data: Mapping[str, Any] | None
    state: hashlib._Hash | None = None

    def prefix(self) -> hashlib._Hash:
        """The SHA-256 state after the ctx part (built now if it was not yet)."""
        h = self.state
        if h is None:
            assert self.data is not None
            h = self.state = hashlib.sha256(('{"ctx":' + canonical_json(self.data)).encode())
            self.data = None
        return h


class DeferredRequest(NamedTuple):
    """The request hash of an async task function, computed when it is read.

    ``value()`` is ``stable_hash({"task": task, "kind": kind, "ctx": ctx})``
    of the ctx snapshot the effect was given: the same string an eager
    computation gives, since the snapshot is a copy nobody changes.  It is
    read when the effect's receipt event is built (when the trace is read,
    stored or sent to a sink) or the state is snapshotted, so an effect
    whose receipt nobody reads never canonicalises the ctx (docs/EFFECTS.md,
    "Receipts").  A ``NamedTuple`` (one per effect, on the hot path: less
    than half the cost of a slotted class's ``__init__``); the ctx part is
    its digest's, computed once per snapshot, so ``value()`` costs one copy
    of a SHA-256 state and a short update.
    """

    digest: CtxDigest
    task: str
    kind: str

    def value(self) -> str:
        h = self.digest.prefix().copy()
        h.update(
            f',"kind":{canonical_json(self.kind)},"task":{canonical_json(self.task)}}}'.encode()
        )
        return "sha256:" + h.hexdigest()


class CtxSnapshot:
    """An immutable copy of a ctx layer's view, as effects requested from it receive it.

    ``data`` is that copy, a new dict nobody else holds.

    ``view`` is what an async task function gets: a read-only proxy of a
    copy made when the first effect asked for it, so later writes to the
    case's ctx do not reach it.  The root layer caches its snapshot
    (``CtxLayer.snap``) until the next write, so the effects a reduction
    requests without writing in between (a ``par`` of effects) share one
    copy, and the canonical JSON of that copy is built at most once for all
    of their request hashes (:class:`CtxDigest`), and only when one of them
    is read (:class:`DeferredRequest`).
    """

    __slots__ = ("_data", "digest", "view")

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.view: Mapping[str, Any] = MappingProxyType(self._data)
        self.digest = CtxDigest(data)

    def deferred(self, task: str, kind: str) -> DeferredRequest:
        """The request hash of ``task`` / ``kind`` given this snapshot, computed when read."""
        return DeferredRequest(self.digest, task, kind)

    def request_hash(self, task: str, kind: str) -> str:
        """``stable_hash({"task": task, "kind": kind, "ctx": view})``, the ctx canonicalised once.

        The canonical JSON of that dict is ``{"ctx":...,"kind":...,"task":...}``
        (sorted keys), so the SHA-256 state after the ctx part is computed
        once per snapshot and copied for each request: measured, canonicalising
        a 10,000-key ctx of ints costs ~2-5 ms.
        """
        return self.deferred(task, kind).value()


def ctx_snapshot(layer: CtxLayer) -> CtxSnapshot:
    """The snapshot of ``layer``'s view: the root layer's cached one while nobody wrote since."""
    snap = layer.snap
    if snap is None:
        if layer.parent is None:
            # dict.copy, not dict(view): a proxy is copied key by key, ~30x slower
            snap = layer.snap = CtxSnapshot(layer.data.copy())
        else:
            snap = CtxSnapshot(dict(layer.view))
    return snap


class _ClosedOk(Protocol):
    """An ``EffectMeta`` closed with an ok outcome (kept to build its receipt)."""

    def ok_receipt(self, name: str) -> Receipt: ...


NOTHING: Any = object()
"""No updates to hash (a receipt whose ``result`` is already set, or ``None``)."""


class PendingReceipt(NamedTuple):
    """A ``receipt`` event whose request hash is not computed yet (engine/_fused.py).

    Its first fields are a :class:`~wftrio.trace.TraceEvent`'s (``data``
    left out); ``ExecState.events`` builds the event when the trace is read:
    the receipt's data with ``request`` set to the deferred hash, exactly
    what an eager ``emit`` records.
    """

    seq: int
    case_id: str
    kind: str
    name: str | None
    token: int | None
    scope: str | None
    time: float
    # a Receipt, _effect_receipt's arguments, or an ok outcome's closed
    # EffectMeta (engine/_effect_outcome.close_ok), built when read
    receipt: Receipt | tuple[Any, ...] | _ClosedOk
    request: DeferredRequest
    result_of: Any = NOTHING  # the updates whose hash is the receipt's result

    def events(self) -> list[TraceEvent]:
        r = self.receipt
        if isinstance(r, tuple):  # built lazily (see _effect_receipt)
            r = build_receipt(*r)
        elif not isinstance(r, Receipt):
            r = r.ok_receipt(self.name or "")
        data = r.to_data()
        data["request"] = self.request.value()
        if self.result_of is not NOTHING:
            data["result"] = stable_hash(self.result_of)
        return [TraceEvent(*self[:7], freeze_items(data))]

    def __reduce__(self) -> tuple[Any, ...]:
        # pickles (and deep-copies) as the event it stands for
        return (TraceEvent._make, (tuple(self.events()[0]),))


def build_receipt(
    causal_id: str,
    kind: str,
    name: str,
    outcome: str,
    attempts: int,
    started: float,
    ended: float,
    key: str | None,
    cost: float,
    extra: dict[str, Any],
) -> Receipt:
    """The :class:`Receipt` of an effect's outcome, from ``_effect_receipt``'s arguments.

    ``key`` ``None``: not computed yet (``EffectMeta.key``): ``idempotency_key(causal_id)``.
    """
    return Receipt(
        causal_id=causal_id,
        kind=kind,
        task=name,
        outcome=outcome,
        attempts=attempts,
        started=started,
        ended=ended,
        request="",
        key=key if key is not None else idempotency_key(causal_id),
        cost=cost,
        **extra,
    )


# -- an effect's request and outcome events, kept compact -------------------
#
# The reducer's fast paths (``_effects.request_fn``, ``_effect_outcome``) keep
# an effect's ``effect_requested`` and ``effect_completed`` events as plain
# tuples while the events are kept without ``on_event``: the builder below,
# then the event's fields and the values of its data.  ``materialise``
# (engine/_fused.py) builds each into its event, ``record[0](record)``: the
# same TraceEvent the eager path records (the data frozen as built, its keys
# in the same order).  A tuple is the cheapest record to make (a NamedTuple
# costs twice as much), and it pickles and copies as it is.

_REQUESTED: str = EventKind.EFFECT_REQUESTED.value
_COMPLETED: str = EventKind.EFFECT_COMPLETED.value
_new_event = tuple.__new__


def requested_event(r: tuple[Any, ...]) -> TraceEvent:
    """The ``effect_requested`` event of record ``r``.

    ``r``: ``(requested_event, seq, case_id, name, token, scope, time, eid, kind, causal_id)``.
    """
    _, seq, case_id, name, token, scope, t, eid, kind, cid = r
    data = FrozenDict(eid=eid, kind=kind, causal_id=cid)
    return _new_event(TraceEvent, (seq, case_id, _REQUESTED, name, token, scope, t, data))


def completed_event(r: tuple[Any, ...]) -> TraceEvent:
    """The ``effect_completed`` event of record ``r`` (an ok outcome, not late).

    ``r``: ``(completed_event, seq, case_id, name, token, scope, time, eid,
    at_step, result, attempts, started, ended)``.
    """
    _, seq, case_id, name, token, scope, t, eid, at_step, result, attempts, t0, t1 = r
    data = FrozenDict(
        eid=eid, at_step=at_step, result=result, attempts=attempts, started=t0, ended=t1
    )
    return _new_event(TraceEvent, (seq, case_id, _COMPLETED, name, token, scope, t, data))
