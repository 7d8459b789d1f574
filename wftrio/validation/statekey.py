"""Canonical state keys: equal keys for states that behave the same.

Two execution states reached along different paths hold different object
ids (tokens, frames, regions, scopes, effects and timers are numbered in
creation order), yet may be the same state.  :func:`state_key` describes a
state without ids:

1. every live token gets a *shape*: its program counter, what it waits on
   (and its place in the waiter queues), and the chains of its frames (join
   counters, loop counters, mi counters) and of its region activations;
2. tokens are put in canonical order (by shape, the instances of every
   ``mi`` activation sorted by their whole sub-state, see
   :func:`_canonical_order`), then every object reachable from them is
   numbered in order of first encounter (the canonical numbering);
3. the key lists every token (pc, wait, frame, region, scope numbers), every
   frame, region and scope with its fields and references as numbers, the
   signal waiters in arrival order, and the queued signals.

The encoding describes the object graph completely up to renaming, so two
different states never share a key.  Symmetric states (the instances of one
``mi`` differ only in their index and item, which the abstract run never
reads) get the same key, which is the symmetry reduction: one key per orbit of
permuted instances (instances that differ only in ctx data may keep
several, which costs states, never soundness).

A key is ``(control, data)``: ``control`` is everything but the ctx values,
``data`` the scopes' ctx values (in the abstract run: what wftrio's trusted
pattern functions wrote, signal payloads stored with ``store_as``, collected
instance results) and the queued signal payloads.  A final state's key is
``((status,), ())``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

from wftrio.engine import FINAL, ExecState
from wftrio.engine.objects import CtxLayer, Frame, JoinInst, LoopFrame, MIInst, RegionInst, Token

__all__ = ["KEYED", "StateKey", "freeze", "shape_key", "state_key"]

StateKey = tuple[Hashable, Hashable]

KEYED: Mapping[type, frozenset[str]] = MappingProxyType(
    {
        Token: frozenset({"pc", "wait", "frame", "region", "scope"}),
        Frame: frozenset({"parent"}),
        JoinInst: frozenset(
            {"parent", "arrived", "cancel_region", "cont", "fired", "needed", "region"}
            | {"scope", "started", "site", "held", "blocks"}
        ),
        LoopFrame: frozenset({"parent", "count"}),
        MIInst: frozenset(
            {"parent", "cont", "done", "fired", "n", "needed", "region", "results", "scope"}
            | {"items", "spawned", "cancel_region", "open", "completed"}
        ),
        RegionInst: frozenset(
            {"alive", "cancel_pc", "exited", "frame", "parent", "scope", "scope_id"}
        ),
        CtxLayer: frozenset({"data", "parent"}),
        ExecState: frozenset({"regions", "signals", "status", "tokens", "waiters"}),
    }
)
"""The fields :func:`state_key` reads, per engine class (the schema's ``key`` fields;
``tests/test_schema.py`` checks the two agree)."""


def freeze(v: Any) -> Hashable:
    """A hashable, canonical image of a ctx value (dicts by sorted key)."""
    t = type(v)
    if v is None or t is int or t is str or t is bool or t is float:
        return v  # type: ignore[no-any-return]
    if isinstance(v, dict):
        return ("{", tuple(sorted(((repr(k), freeze(x)) for k, x in v.items()))))
    if isinstance(v, list | tuple):
        return ("[", tuple(freeze(x) for x in v))
    if isinstance(v, set | frozenset):
        return ("set", tuple(sorted(repr(x) for x in v)))
    try:
        hash(v)
    except TypeError:
        return ("repr", repr(v))
    return ("obj", repr(v))


def _wait_shape(w: tuple[Any, ...] | None) -> tuple[Any, ...]:
    if w is None:
        return ()
    kind = w[0]
    if kind == "effect":
        return ("e",)
    if kind == "signal":
        return ("s", w[1])
    # defer: signal registrations by name, timers by alternative only (one
    # timer per alternative; its id carries no meaning)
    return ("d", tuple((k, key if k == "signal" else "", a) for k, key, a in w[1]))


def _frame_static(f: Frame) -> tuple[Any, ...]:
    if type(f) is JoinInst:
        return (
            "J",
            f.cont,
            f.needed,
            f.started,
            f.arrived,
            f.fired,
            f.cancel_region is not None,
            f.site,
            -1 if f.held is None else f.held,  # sortable with ints
            f.blocks is not None,
        )
    if type(f) is LoopFrame:
        return ("L", f.count)
    if type(f) is MIInst:
        return (
            "M",
            f.cont,
            f.n,
            -1 if f.needed is None else f.needed,
            f.done,
            f.fired,
            f.spawned,
            f.cancel_region is not None,
            f.open,
            f.completed,
        )
    return (type(f).__name__, f.id)  # unknown frame kind: never merged


def _ranks(st: ExecState) -> dict[Token, tuple[tuple[str, int], ...]]:
    """Each waiting token's place in the waiter queues (arrival order matters)."""
    out: dict[Token, tuple[tuple[str, int], ...]] = {}
    for name in sorted(st.waiters):
        for i, (t, _alt) in enumerate(st.signal_waiters(name)):
            out[t] = (*out.get(t, ()), (name, i))
    return out


class _Memo:
    """Per-key caches: frame and region chains, layer depths (by object id)."""

    __slots__ = ("depth", "frames", "layers", "regions", "statics")

    def __init__(self) -> None:
        self.statics: dict[int, tuple[Any, ...]] = {}  # id(frame) -> _frame_static
        self.frames: dict[int, tuple[Any, ...]] = {}  # id(frame) -> its chain's statics
        self.regions: dict[int, tuple[Any, ...]] = {}  # id(region) -> its chain
        self.depth: dict[int, int] = {}  # id(layer) -> layers from the root (root: 1)
        self.layers: dict[int, CtxLayer] = {}  # id -> layer, in order of discovery

    def frame_chain(self, f: Frame) -> tuple[Any, ...]:
        c = self.frames.get(id(f))
        if c is None:
            d = self.statics.get(id(f))
            if d is None:
                d = self.statics[id(f)] = _frame_static(f)
            p = f.parent
            c = self.frames[id(f)] = (d,) if p is None else (d, *self.frame_chain(p))
        return c

    def region_chain(self, r: RegionInst) -> tuple[Any, ...]:
        c = self.regions.get(id(r))
        if c is None:
            d = (r.scope_id or "", r.cancel_pc, r.exited)
            p = r.parent
            c = self.regions[id(r)] = (d,) if p is None else (d, *self.region_chain(p))
        return c

    def layer_depth(self, s: CtxLayer) -> int:
        d = self.depth.get(id(s))
        if d is None:
            self.layers[id(s)] = s
            p = s.parent
            d = self.depth[id(s)] = 1 if p is None else self.layer_depth(p) + 1
        return d


def _shape(
    tok: Token,
    memo: _Memo,
    ranks: dict[Token, tuple[tuple[str, int], ...]],
) -> tuple[Any, ...]:
    f = tok.frame
    r = tok.region
    return (
        tok.pc,
        _wait_shape(tok.wait),
        () if f is None else memo.frame_chain(f),
        () if r is None else memo.region_chain(r),
        memo.layer_depth(tok.scope),
        ranks.get(tok, ()),
    )


def _canonical_order(
    st: ExecState,
    memo: _Memo,
    ranks: dict[Token, tuple[tuple[str, int], ...]],
) -> list[Token]:
    """The tokens in canonical order: instances of one ``mi`` sorted by their whole sub-state.

    Every ``mi`` instance has its own ctx layer, so the layers form the
    instance tree.  Each layer gets a signature, bottom up: the
    sorted shapes of the tokens directly in it and the sorted signatures of
    the instances nested in it.  Tokens are then ordered by the signatures
    (and, among instances with equal signatures, by instance) along their
    layer chain from the root, and by shape within their layer, so the
    tokens of one instance stay together and two states that differ by a
    permutation of the instances of an activation (at any depth) list their
    tokens in the same order: one key per orbit.  Instances with equal
    signatures are interchangeable, so which of them comes first does not
    change the key.  Without ``mi`` instances this is the order by shape.
    The signatures leave out the ctx data, so the control half of the key
    does not depend on it (a replay compares it with the real run's); two
    instances that differ only in data written by wftrio's own functions
    may then keep two keys for one orbit, which costs states, never
    soundness.
    """
    shapes = [(_shape(t, memo, ranks), t.id, t) for t in st.tokens.values()]
    layers = memo.layers
    if len(layers) <= 1:  # no instances: by shape
        shapes.sort()
        return [t for _, _, t in shapes]
    own: dict[int, list[tuple[Any, ...]]] = {}  # id(layer) -> shapes of its tokens
    first: dict[int, int] = {}  # id(layer) -> the least token id in it or nested in it
    for sh, tid, t in shapes:
        i = id(t.scope)
        got = own.get(i)
        if got is None:
            own[i] = [sh]
        else:
            got.append(sh)
        if first.get(i, tid + 1) > tid:
            first[i] = tid
    depth = memo.depth
    kids: dict[int, list[int]] = {}  # id(layer) -> id(child layers)
    for i, s in layers.items():
        p = s.parent
        if p is not None:
            kids.setdefault(id(p), []).append(i)
    bottom_up = sorted(layers, key=depth.__getitem__, reverse=True)
    sig: dict[int, tuple[Any, ...]] = {}
    for i in bottom_up:
        ks = kids.get(i)
        if ks is None:
            sig[i] = (tuple(sorted(own.get(i, ()))), ())
        else:
            sig[i] = (tuple(sorted(own.get(i, ()))), tuple(sorted([sig[k] for k in ks])))
            least = min([first[k] for k in ks])
            if first.get(i, least + 1) > least:
                first[i] = least
    # among instances with equal signatures: by their first token (any order gives one key)
    chains: dict[int, tuple[Any, ...]] = {}
    for i in reversed(bottom_up):  # top down
        p = layers[i].parent
        here = (sig[i], first[i])
        chains[i] = here if p is None else chains[id(p)] + here
    order = [(chains[id(t.scope)], sh, tid, t) for sh, tid, t in shapes]
    order.sort()
    return [t for _, _, _, t in order]


def state_key(st: ExecState) -> StateKey:
    """The canonical key of ``st`` (see the module docs)."""
    if st.status in FINAL:
        return ((st.status.value,), ())
    memo = _Memo()
    return encode(st, _canonical_order(st, memo, _ranks(st)), memo)


def encode(st: ExecState, toks: list[Token], memo: _Memo | None = None) -> StateKey:
    """The key of a non-final ``st`` with its tokens numbered in the order ``toks``.

    A complete description of the state up to renaming; :func:`state_key`
    passes the canonical order, so isomorphic states get one key (a test
    takes the least key over every order to count the orbits exactly).
    """
    nums: dict[int, int] = {}
    items: list[Any] = []

    def num(o: Any) -> int:
        if o is None:
            return -1
        n = nums.get(id(o))
        if n is None:
            n = nums[id(o)] = len(items)
            items.append(o)
        return n

    statics = memo.statics if memo is not None else {}
    tok_index = {t: i for i, t in enumerate(toks)}
    ctl_tokens = tuple(
        (t.pc, _wait_shape(t.wait), num(t.frame), num(t.region), num(t.scope)) for t in toks
    )
    # live region activations no token holds (e.g. a cancel_rest join's
    # region after its branches arrived) are part of the state too
    for sid in sorted(st.regions):
        for inst in st.regions[sid]:
            num(inst)
    ctl_objects: list[tuple[Any, ...]] = []
    data: list[Hashable] = []
    i = 0
    while i < len(items):  # items grows while we describe them
        o = items[i]
        i += 1
        t = type(o)
        if t is CtxLayer:
            ctl_objects.append(("S", num(o.parent)))
            data.append(tuple(sorted((k, freeze(v)) for k, v in o.data.items())) if o.data else ())
        elif t is JoinInst or t is MIInst or t is LoopFrame:
            d = statics.get(id(o))
            if d is None:
                d = _frame_static(o)
            if t is JoinInst:
                ctl_objects.append(
                    (
                        *d,
                        num(o.parent),
                        num(o.region),
                        num(o.scope),
                        num(o.cancel_region),
                        num(o.blocks),
                    )
                )
            elif t is MIInst:
                ctl_objects.append(
                    (*d, num(o.parent), num(o.region), num(o.scope), num(o.cancel_region))
                )
                # instance results without their index: instances are symmetric
                data.append(
                    tuple(sorted(repr(freeze(r)) for r in o.results.values())) if o.results else ()
                )
                if o.items is not None:  # instances still to spawn (bounded spawning)
                    data.append(repr(freeze(o.items)))
            else:
                ctl_objects.append((*d, num(o.parent)))
        elif t is RegionInst:
            ctl_objects.append(
                (
                    "R",
                    o.scope_id or "",
                    o.cancel_pc,
                    o.exited,
                    o.alive,
                    num(o.parent),
                    num(o.frame),
                    num(o.scope),
                )
            )
        else:
            ctl_objects.append((t.__name__, getattr(o, "id", i)))
    waiters = tuple(
        (name, tuple(tok_index[w] for w, _alt in st.signal_waiters(name)))
        for name in sorted(st.waiters)
    )
    if st.signals:
        queued = tuple((name, len(q)) for name, q in sorted(st.signals.items()) if q)
        payloads = tuple(
            (name, tuple(freeze(p) for p in q)) for name, q in sorted(st.signals.items()) if q
        )
    else:
        queued = payloads = ()
    control = (ctl_tokens, tuple(ctl_objects), waiters, queued)
    return (control, (tuple(data), payloads))


def shape_key(st: ExecState) -> Hashable:
    """A coarser image of ``st``'s control state: the multiset of its tokens' shapes.

    Every token's program counter, wait, frame chain (with its join / loop /
    mi counters), region chain and place in the waiter queues, without the
    identities that tie tokens to shared frames; plus the queued signal
    counts.  A function of :func:`state_key` (equal keys, equal shapes), and
    free of the tie-breaking :func:`state_key` does among tokens of equal
    shape, so it is the same for every isomorphic state.
    """
    if st.status in FINAL:
        return (st.status.value,)
    memo = _Memo()
    ranks = _ranks(st)
    shapes = tuple(sorted(_shape(t, memo, ranks) for t in st.tokens.values()))
    queued = tuple((name, len(q)) for name, q in sorted(st.signals.items()) if q)
    return (shapes, queued)
