"""Withdrawing tokens and region activations: cancel_region, terminate, ends.

Functions over an :class:`~wftrio.engine.ExecState` (whose public methods
``cancel_region``, ``withdraw_region``, ``close_region`` and
``withdraw_all`` call them).  Withdrawing a token drops what it waits for:
a pending effect is cancelled (``CancelEffect``), a timer too
(``CancelTimer``), a signal wait unregistered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wftrio.engine import _effects
from wftrio.engine.objects import RegionInst, Token
from wftrio.engine.protocol import (
    FINAL,
    CancelEffect,
    CancelTimer,
    EventKind,
    Status,
    Wait,
    WaitKind,
)

if TYPE_CHECKING:
    from wftrio.engine._state import ExecState

__all__ = [
    "cancel_region",
    "close_region",
    "unwait",
    "withdraw_all",
    "withdraw_region",
    "withdraw_token",
]


def cancel_region(st: ExecState, scope_id: str) -> int:
    """Cancel every live activation of region ``scope_id``.

    Each activation's tokens (and nested regions, pending effects,
    signal waits and timers) are withdrawn in time proportional to its
    size; then its ``compensate`` term runs, and control continues after
    the region as if it had completed.  Returns the number of
    activations cancelled (0 records a ``region_cancel_ignored`` event).
    """
    if st.status in FINAL:
        return 0
    insts = [r for r in st.regions.get(scope_id, {}) if r.alive]
    if not insts:
        st.emit(EventKind.REGION_CANCEL_IGNORED, scope_id, None, {"at_step": st.steps})
        return 0
    st.emit(EventKind.REGION_CANCELLED, scope_id, None, {"at_step": st.steps, "n": len(insts)})
    for inst in insts:
        if inst.exited:
            withdraw_region(st, inst)
            continue
        # continuation: compensation (if any), then after the region.  It
        # is spawned before the withdrawal so that an exited parent whose
        # last token this region held stays open for it.
        cont = st.spawn(inst.cancel_pc, inst.frame, inst.parent, inst.scope)
        withdraw_region(st, inst)
        st.make_ready(cont)
    if st.status not in FINAL:
        st.status = Status.RUNNING
    return len(insts)


def withdraw_region(st: ExecState, inst: RegionInst) -> None:
    """Withdraw a region activation and everything nested in it."""
    stack = [inst]
    while stack:
        r = stack.pop()
        for tok in list(r.tokens):
            withdraw_token(st, tok)
        stack.extend(r.children)
        _unregister(st, r)
    p = inst.parent
    if p is not None:
        p.children.pop(inst, None)
        if p.exited and not p.tokens and not p.children:
            close_region(st, p)


def _unregister(st: ExecState, r: RegionInst) -> None:
    r.alive = False
    r.tokens.clear()
    r.children.clear()
    if r.scope_id is not None:
        insts = st.regions.get(r.scope_id)
        if insts is not None:
            insts.pop(r, None)


def close_region(st: ExecState, r: RegionInst) -> None:
    """Close exited activation ``r`` whose last late token died.

    ``r`` is unregistered, and so is every exited ancestor it was the
    last live content of (cascading up).
    """
    while True:
        _unregister(st, r)
        p = r.parent
        if p is None:
            return
        p.children.pop(r, None)
        if not (p.exited and not p.tokens and not p.children):
            return
        r = p


def withdraw_all(st: ExecState) -> None:
    """Withdraw every live token and region activation (the case is ending).

    Pending effects and timers are cancelled (``CancelEffect`` /
    ``CancelTimer`` in the outbox) and signal waits dropped; the ready
    stack empties.  The caller sets the final status.
    """
    for tok in list(st.tokens.values()):
        withdraw_token(st, tok)
    if st.regions:
        for insts in st.regions.values():
            for r in insts:
                r.alive = False
        st.regions.clear()
    st.ready.clear()
    st.current = None


def withdraw_token(st: ExecState, tok: Token) -> None:
    if not tok.alive:
        return
    tok.alive = False
    del st.tokens[tok.id]
    if tok.region is not None:
        tok.region.tokens.pop(tok, None)
    if st.current is tok:
        st.current = None
    w = tok.wait
    if w is not None:
        unwait(st, tok, w, None)
    if st.full:
        st.emit(EventKind.TOKEN_WITHDRAWN, None, tok, {"pc": tok.pc})


def unwait(st: ExecState, tok: Token, wait: Wait, keep: int | None) -> None:
    """Drop the registrations of a blocked token (all but alternative ``keep``)."""
    if wait.kind == WaitKind.EFFECT:
        eid = wait.eid
        if st.effects.pop(eid, None) is not None:
            st.outbox.append(CancelEffect(eid))
            name = _effects.task_operands(st, tok)[1].name
            st.emit(EventKind.EFFECT_CANCELLED, name, tok, {"eid": eid})
            _effects.cancelled(st, tok, eid, name)
    elif wait.kind == WaitKind.SIGNAL:
        st.drop_waiter(wait.name, tok)
    elif wait.kind == WaitKind.DEFER:
        for arm in wait.arms:
            if arm.alt == keep:
                continue
            key = arm.key
            if arm.kind == WaitKind.SIGNAL:
                st.drop_waiter(str(key), tok)
            elif isinstance(key, int) and st.timers.pop(key, None) is not None:
                st.outbox.append(CancelTimer(key))
    tok.wait = None
