"""The explorer's state keys: :func:`~wftrio.validation.statekey.state_key`, computed faster.

:func:`fast_key` returns exactly the key
:func:`~wftrio.validation.statekey.state_key` returns (the same tuple), so
state counts, witnesses and findings do not depend on which one the
explorer uses; ``tests/test_validate_fastkey.py`` checks the two agree on
every state the explorer keys from random terms, and along random walks.
``state_key`` is the reference, written for clarity: the specification
the tests check this one against (kept separate on purpose, so that the
comparison checks two implementations).  The explorer and the witness
replay use this one.

The work is the same (the tokens' shapes, their canonical order, then the
numbering of the objects reachable from them) with less of it per object:

* each token's shape is computed once, inline, and carries its wait shape
  into the numbering (the reference computes it again there);
* the chains of frame statics, of region activations and the ctx layers'
  depths are built in one pass, cached per key by object;
* the instances of ``mi`` activations are ordered by a depth-first walk of
  the ctx-layer tree, each layer's children sorted once (for its signature
  and for the walk), instead of sorting every token by its chain of
  signatures;
* the numbering is inlined for the references tokens hold, the waiter
  queues are read directly, and the tables that are empty in most states
  (waiters, regions, queued signals) are skipped.

What was measured and left out (docs/VALIDATION.md, "Incremental keys"): an
incremental key, reusing the expanded state's token shapes across the moves
tried from it, needs to know which objects a move changed; comparing every
object with its checkpoint costs about what the shapes save on states of a
handful of tokens, and the numbering, the largest part, cannot be reused,
since one move can reorder the tokens and renumber every object.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from wftrio.engine import FINAL, ExecState
from wftrio.engine.objects import CtxLayer, Frame, JoinInst, LoopFrame, MIInst, RegionInst, Token
from wftrio.validation.statekey import StateKey, _frame_static, _wait_shape, freeze

__all__ = ["fast_key"]

_Entry = tuple[Any, int, Token]  # (shape, token id, token)


def _queue(ws: Any) -> Any:
    """The tokens waiting in one entry of ``ExecState.waiters``, oldest first.

    ``ExecState.signal_waiters`` without the alternatives (the key does not
    read them): an entry is one token, or a dict (an ``OrderedDict``) of
    them in arrival order.
    """
    return ws if isinstance(ws, dict) else (ws,)


def _ranks(table: dict[str, Any]) -> dict[Token, tuple[tuple[str, int], ...]]:
    """``statekey._ranks``: each waiting token's place in the waiter queues."""
    out: dict[Token, tuple[tuple[str, int], ...]] = {}
    for name in sorted(table):
        for i, t in enumerate(_queue(table[name])):
            out[t] = (*out.get(t, ()), (name, i))
    return out


def _fchain(f: Frame, chains: dict[int, tuple[Any, ...]], statics: dict[int, Any]) -> Any:
    """``f``'s chain of frame statics (innermost first), cached in ``chains``."""
    d = statics[id(f)] = _frame_static(f)
    p = f.parent
    if p is None:
        c: tuple[Any, ...] = (d,)
    else:
        pc = chains.get(id(p))
        c = (d, *(_fchain(p, chains, statics) if pc is None else pc))
    chains[id(f)] = c
    return c


def _rchain(r: RegionInst, chains: dict[int, tuple[Any, ...]]) -> tuple[Any, ...]:
    d = (r.scope_id or "", r.cancel_pc, r.exited)
    p = r.parent
    if p is None:
        c: tuple[Any, ...] = (d,)
    else:
        pc = chains.get(id(p))
        c = (d, *(_rchain(p, chains) if pc is None else pc))
    chains[id(r)] = c
    return c


def _depth(s: CtxLayer, depth: dict[int, int], layers: dict[int, CtxLayer]) -> int:
    layers[id(s)] = s
    p = s.parent
    if p is None:
        d = 1
    else:
        pd = depth.get(id(p))
        d = (_depth(p, depth, layers) if pd is None else pd) + 1
    depth[id(s)] = d
    return d


def fast_key(st: ExecState) -> StateKey:
    """``state_key(st)``, the canonical key of ``st``, computed faster (see the module docs)."""
    status = st.status
    if status in FINAL:
        return ((status.value,), ())
    ranks = _ranks(st.waiters) if st.waiters else None
    statics: dict[int, Any] = {}
    fchains: dict[int, tuple[Any, ...]] = {}
    rchains: dict[int, tuple[Any, ...]] = {}
    depth: dict[int, int] = {}
    layers: dict[int, CtxLayer] = {}
    shapes: list[_Entry] = []
    own: dict[int, list[_Entry]] = {}  # id(layer) -> its tokens' entries
    for t in st.tokens.values():
        f = t.frame
        if f is None:
            fc: Any = ()
        else:
            fc = fchains.get(id(f))
            if fc is None:
                fc = _fchain(f, fchains, statics)
        r = t.region
        if r is None:
            rc: Any = ()
        else:
            rc = rchains.get(id(r))
            if rc is None:
                rc = _rchain(r, rchains)
        s = t.scope
        d = depth.get(id(s))
        if d is None:
            d = _depth(s, depth, layers)
        w = t.wait
        e = (
            (
                t.pc,
                () if w is None else _wait_shape(w),
                fc,
                rc,
                d,
                () if ranks is None else ranks.get(t, ()),
            ),
            t.id,
            t,
        )
        shapes.append(e)
        got = own.get(id(s))
        if got is None:
            own[id(s)] = [e]
        else:
            got.append(e)
    if len(layers) <= 1:
        shapes.sort()
        toks = shapes
    else:
        toks = _by_instance(own, layers, depth)
    return _numbered(st, toks, statics)


def _by_instance(
    own: dict[int, list[_Entry]], layers: dict[int, CtxLayer], depth: dict[int, int]
) -> list[_Entry]:
    """The tokens in the order of ``statekey._canonical_order`` (several ctx layers).

    That order sorts the tokens by (layer chain, shape, id), where a layer's
    chain lists (signature, least token id) of it and of every enclosing
    layer from the root: so a layer's own tokens (by shape, id) come before
    the tokens of the layers nested in it, and those layers come in order
    of (signature, least token id), each with everything nested in it.  A
    depth-first walk of the layer tree in that order lists the tokens in the
    same order without building the chains; each layer's children are
    sorted once, for its signature and for the walk.
    """
    kids: dict[int, list[int]] = {}
    roots: list[int] = []
    for i, s in layers.items():
        p = s.parent
        if p is None:
            roots.append(i)
        else:
            got = kids.get(id(p))
            if got is None:
                kids[id(p)] = [i]
            else:
                got.append(i)
    sig: dict[int, tuple[Any, ...]] = {}
    first: dict[int, int] = {}  # id(layer) -> the least token id in it or nested in it
    walk: dict[int, list[int]] = {}  # id(layer) -> its children, in order
    for i in sorted(layers, key=depth.__getitem__, reverse=True):  # bottom up
        mine = own.get(i)
        if mine is None:
            mine_t: tuple[Any, ...] = ()
            least = -1
        else:
            mine.sort()
            mine_t = tuple([e[0] for e in mine])
            least = min([e[1] for e in mine])
        ks = kids.get(i)
        if ks is None:
            sig[i] = (mine_t, ())
        else:
            order = sorted([(sig[k], first[k], k) for k in ks])
            sig[i] = (mine_t, tuple([o[0] for o in order]))
            walk[i] = [o[2] for o in order]
            least_k = order[0][1] if len(order) == 1 else min([o[1] for o in order])
            if least < 0 or least_k < least:
                least = least_k
        first[i] = least
    if len(roots) > 1:
        roots = [o[2] for o in sorted([(sig[k], first[k], k) for k in roots])]
    out: list[_Entry] = []
    stack = roots[::-1]
    while stack:
        i = stack.pop()
        mine = own.get(i)
        if mine is not None:
            out.extend(mine)
        ks = walk.get(i)
        if ks is not None:
            stack.extend(reversed(ks))
    return out


def _numbered(st: ExecState, toks: list[_Entry], statics: dict[int, Any]) -> StateKey:
    """``statekey.encode`` of the tokens in the order ``toks`` (the same key)."""
    nums: dict[int, int] = {}
    items: list[Any] = []
    append = items.append
    ctl_tokens = []
    for sh, _, t in toks:
        f = t.frame
        if f is None:
            nf = -1
        else:
            nf = nums.get(id(f), -2)
            if nf == -2:
                nf = nums[id(f)] = len(items)
                append(f)
        r = t.region
        if r is None:
            nr = -1
        else:
            nr = nums.get(id(r), -2)
            if nr == -2:
                nr = nums[id(r)] = len(items)
                append(r)
        s = t.scope
        ns = nums.get(id(s), -2)
        if ns == -2:
            ns = nums[id(s)] = len(items)
            append(s)
        ctl_tokens.append((sh[0], sh[1], nf, nr, ns))

    def num(o: Any) -> int:
        if o is None:
            return -1
        n = nums.get(id(o))
        if n is None:
            n = nums[id(o)] = len(items)
            append(o)
        return n

    regions = st.regions
    if regions:
        for sid in sorted(regions):
            for inst in regions[sid]:
                num(inst)
    ctl_objects: list[tuple[Any, ...]] = []
    data: list[Hashable] = []
    i = 0
    while i < len(items):  # items grows while we describe them
        o = items[i]
        i += 1
        cls = type(o)
        if cls is CtxLayer:
            p = o.parent
            ctl_objects.append(("S", -1 if p is None else num(p)))
            od = o.data
            data.append(tuple(sorted([(k, freeze(v)) for k, v in od.items()])) if od else ())
        elif cls is JoinInst:
            d = statics.get(id(o))
            if d is None:
                d = _frame_static(o)
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
        elif cls is MIInst:
            d = statics.get(id(o))
            if d is None:
                d = _frame_static(o)
            ctl_objects.append(
                (*d, num(o.parent), num(o.region), num(o.scope), num(o.cancel_region))
            )
            res = o.results
            data.append(tuple(sorted([repr(freeze(r)) for r in res.values()])) if res else ())
            if o.items is not None:
                data.append(repr(freeze(o.items)))
        elif cls is LoopFrame:
            d = statics.get(id(o))
            if d is None:
                d = _frame_static(o)
            ctl_objects.append((*d, num(o.parent)))
        elif cls is RegionInst:
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
            ctl_objects.append((cls.__name__, getattr(o, "id", i)))
    table = st.waiters
    if table:
        tok_index = {t: j for j, (_, _, t) in enumerate(toks)}
        waiters: tuple[Any, ...] = tuple(
            (name, tuple([tok_index[w] for w in _queue(table[name])])) for name in sorted(table)
        )
    else:
        waiters = ()
    if st.signals:
        queued = tuple((name, len(q)) for name, q in sorted(st.signals.items()) if q)
        payloads = tuple(
            (name, tuple(freeze(p) for p in q)) for name, q in sorted(st.signals.items()) if q
        )
    else:
        queued = payloads = ()
    control = (tuple(ctl_tokens), tuple(ctl_objects), waiters, queued)
    return (control, (tuple(data), payloads))
