"""Blocking joins (WCP-28 blocking discriminator, WCP-31 blocking partial join).

A ``join(first(n, blocking=True), ...)`` fires on its ``n``-th arrival like
any partial join, and its late branches run on and are absorbed.  What it
adds is the *reset*: when the join is reached again (a loop around it)
before every branch of its previous activation has arrived, the new
activation is held.  Its branches run, but their arrivals are held back
(counted in ``JoinInst.held``, the tokens end) until the previous activation
resets: its last branch arrives.  Then the held arrivals count at once, in
the same step, and may fire the new activation (and, if they complete it,
reset it in turn).

Withdrawals need nothing of their own.  A branch cancelled by a region
inside it continues after the region and arrives.  Terms are block
structured, so whatever withdraws the pending branches of an activation
without continuing them (a cancelled region around the join, an enclosing
``cancel_rest`` join, ``terminate()``) withdraws the activation it holds
too: the same region id or implicit region encloses both, and
``cancel_region`` cancels every activation of an id.  A held activation
whose region was withdrawn is dropped when released (its arrivals never
fire a continuation in a dead region).

"The same join" is the same fork in the same ctx layer, wherever the
rounds' control frames differ (a blocking join inside a ``par`` inside a
loop is a new ``par`` activation each round, and still the same join); each
``mi`` instance has its own ctx layer, hence its own join.  The fork finds
the previous activation by the live tokens under it, so a blocking fork
costs a pass over the live tokens and their frames (blocking joins only;
every other fork is unchanged).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from wftrio.compiler.program import ForkOps, Instr, Program
from wftrio.engine.objects import JoinInst
from wftrio.trace import EventKind

if TYPE_CHECKING:
    from wftrio.engine._ops import Handler
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = ["blocking_join_pcs", "fork", "join", "plain_join_pcs"]

_BLOCKING: weakref.WeakKeyDictionary[Program, frozenset[int]] = weakref.WeakKeyDictionary()
_PLAIN: weakref.WeakKeyDictionary[Program, frozenset[int]] = weakref.WeakKeyDictionary()


def blocking_join_pcs(program: Program) -> frozenset[int]:
    """The pcs of ``program``'s blocking joins (computed once per Program)."""
    pcs = _BLOCKING.get(program)
    if pcs is None:
        pcs = frozenset(
            ins.ops.join_pc
            for ins in program.instrs
            if isinstance(ins.ops, ForkOps) and ins.ops.blocking
        )
        _BLOCKING[program] = pcs
    return pcs


def plain_join_pcs(program: Program) -> frozenset[int]:
    """The pcs of ``program``'s joins that are not blocking (computed once per Program)."""
    pcs = _PLAIN.get(program)
    if pcs is None:
        blocking = blocking_join_pcs(program)
        pcs = frozenset(
            pc for pc, ins in enumerate(program.instrs) if ins.op == "join" and pc not in blocking
        )
        _PLAIN[program] = pcs
    return pcs


def _unreset(j: JoinInst) -> bool:
    return j.arrived + (j.held or 0) < j.started


def _previous(st: ExecState, tok: Token, site: int) -> JoinInst | None:
    """The newest activation of fork ``site`` in ``tok``'s ctx layer that has not reset."""
    scope = tok.scope
    newest: JoinInst | None = None
    for t in st.tokens.values():
        f = t.frame
        while f is not None:
            if type(f) is JoinInst and f.site == site and f.scope is scope:
                assert isinstance(f, JoinInst)
                if newest is None or f.id > newest.id:
                    newest = f
                break
            f = f.parent
    if newest is None:
        return None
    while newest.blocks is not None:  # held activations have no token of their own
        newest = newest.blocks
    return newest if _unreset(newest) else None


def fork(pc: int, ins: Instr, ops: ForkOps, cont: int) -> Handler:
    """The ``fork`` of a blocking join (no guards: a ``first`` policy has none)."""
    entries = ops.entries
    needed = ops.n
    assert needed is not None
    started = len(entries)
    path = ins.path
    everyone = list(range(started))

    def blocking_fork(st: ExecState, tok: Token, max_steps: int) -> int:
        prev = _previous(st, tok, pc)
        inst = JoinInst(st.new_id(), tok.frame, tok.region, tok.scope, needed, started, cont)
        inst.site = pc
        if prev is not None:
            prev.blocks = inst
            inst.held = 0
        region, scope = tok.region, tok.scope
        kids = [st.spawn(e, inst, region, scope) for e in entries]
        st.kill(tok)
        if st.full:
            data: dict[str, object] = {
                "branches": everyone,
                "needed": needed,
                "tokens": [k.id for k in kids],
            }
            if prev is not None:
                data["held_by"] = prev.id
            st.emit(EventKind.SPLIT, path, tok, data)
        kids.reverse()
        st.ready.extend(kids)
        return 1

    return blocking_fork


def join(pc: int, ins: Instr) -> Handler:
    """The ``join`` of a blocking join."""
    path = ins.path

    def blocking_join(st: ExecState, tok: Token, max_steps: int) -> int:
        inst = tok.frame
        assert isinstance(inst, JoinInst)
        if inst.held is not None:
            inst.held += 1
            st.kill(tok)
            if st.full:
                st.emit(EventKind.JOIN_ARRIVED, path, tok, {"arrived": 0, "held": inst.held})
            return 1
        _arrive(st, inst, tok, 1, path)
        return 1

    return blocking_join


def _arrive(st: ExecState, inst: JoinInst, tok: Token | None, count: int, path: str) -> None:
    """``count`` arrivals at ``inst`` (``tok``: the arriving token; ``None``: released ones).

    Fires the join when they reach ``needed``, then resets it when every
    branch has arrived, releasing the activation it held (repeatedly: a
    released activation may complete and reset in the same step).
    """
    while True:
        inst.arrived += count
        cont: Token | None = None
        if not inst.fired and inst.arrived >= inst.needed:
            inst.fired = True
            if st.full:
                data: dict[str, object] = {"arrived": inst.arrived, "of": inst.started}
                if tok is None:
                    data["released"] = count
                st.emit(EventKind.JOIN_FIRED, path, tok, data)
            # spawned before the arriving token dies (see _ops.join)
            cont = st.spawn(inst.cont, inst.parent, inst.region, inst.scope)
        elif st.full:
            late = inst.fired
            kind = EventKind.JOIN_ABSORBED if late else EventKind.JOIN_ARRIVED
            data = {"arrived": inst.arrived}
            if late:
                data["late"] = True
            if tok is None:
                data["released"] = count
            st.emit(kind, path, tok, data)
        if tok is not None:
            st.kill(tok)
            if cont is not None:
                st.current = cont
        elif cont is not None:
            st.ready.append(cont)
        if inst.arrived < inst.started:
            return
        nxt = _reset(st, inst, path)
        if nxt is None:
            return
        inst, count, tok = nxt[0], nxt[1], None


def _reset(st: ExecState, inst: JoinInst, path: str) -> tuple[JoinInst, int] | None:
    """``inst`` reset: release the activation it held; return it and its arrivals to count."""
    nxt = inst.blocks
    if nxt is None:
        return None
    inst.blocks = None
    held = nxt.held or 0
    nxt.held = None
    if st.full:
        st.emit(EventKind.JOIN_ABSORBED, path, None, {"reset": inst.id, "released": held})
    region = nxt.region
    if held == 0 or (region is not None and not region.alive):
        return None  # nothing held yet, or the held activation was withdrawn meanwhile
    return nxt, held
