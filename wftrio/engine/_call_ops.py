"""Opcode semantics of sub-workflows and recursion (WCP-22): ``call_enter``, ``call_exit``.

The compiler lowers ``call(name, ...)`` inline as
``region_enter call_enter <callee> call_exit region_exit``: the region is
the child's trace and cancellation scope, and these two opcodes give it a
ctx layer of its own (``CtxLayer.index == CALL_LAYER``), whose view reads
only what ``ctx_in`` mapped in and what the child's tasks wrote.
``call_exit`` copies ``ctx_out`` back into the caller's layer and returns
the token to it.  A call deeper than its ``max_depth`` is a lone
``call_enter`` that fails the case with :class:`CallDepthExceeded`.

With ``lenient`` operands (the validator's abstract Program, whose ctx
holds no task data) a missing ``ctx_in`` / ``ctx_out`` key is skipped, and
a call past the bound continues after the call (the validator reports the
cut as a WF200 warning).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from wftrio.compiler.program import CallEnterOps, CallExitOps, Instr, Program, RegionEnterOps
from wftrio.engine.objects import CALL_LAYER, CtxLayer
from wftrio.errors import CallDepthExceeded, CallError, EngineError

if TYPE_CHECKING:
    from wftrio.engine._ops import Handler, Linker
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = ["call_enter", "call_exit", "call_scopes"]


def call_enter(pc: int, ins: Instr, lk: Linker) -> Handler:
    """``call_enter``: open the child's ctx layer from ``ctx_in`` (or fail past the bound)."""
    ops = ins.ops
    if not isinstance(ops, CallEnterOps):
        raise EngineError(f"{ins.op} at {ins.path}: expected CallEnterOps, got {ops!r}")
    name = ops.name
    ctx_in = ops.ctx_in
    lenient = ops.lenient
    path = ins.path
    nxt = ins.next

    if ops.exceeded:
        max_depth = ops.max_depth

        def call_too_deep(st: ExecState, tok: Token, max_steps: int) -> int:
            if lenient:  # the validator: the unexplored deeper calls are assumed to complete
                tok.pc = nxt
                return 1
            st.fail(tok, CallDepthExceeded(name, max_depth), where=path)
            return 1

        return call_too_deep

    def call_in(st: ExecState, tok: Token, max_steps: int) -> int:
        view = tok.scope.view
        base = {}
        for to, frm in ctx_in:
            if frm not in view:
                if lenient:
                    continue
                st.fail(
                    tok,
                    CallError(
                        f"call({name!r}) at {path}: ctx_in[{to!r}] reads {frm!r}, "
                        "which the caller's ctx does not hold"
                    ),
                    where=path,
                )
                return 1
            base[to] = view[frm]  # ctx values are frozen already
        tok.scope = CtxLayer(st.new_id(), {}, tok.scope, base, CALL_LAYER)
        tok.pc = nxt
        return 1

    return call_in


def call_exit(pc: int, ins: Instr, lk: Linker) -> Handler:
    """``call_exit``: copy ``ctx_out`` into the caller's layer and return the token to it."""
    ops = ins.ops
    if not isinstance(ops, CallExitOps):
        raise EngineError(f"{ins.op} at {ins.path}: expected CallExitOps, got {ops!r}")
    name = ops.name
    ctx_out = ops.ctx_out
    lenient = ops.lenient
    path = ins.path
    nxt = ins.next

    def call_out(st: ExecState, tok: Token, max_steps: int) -> int:
        child = tok.scope
        parent = child.parent
        if child.index != CALL_LAYER or parent is None:
            raise EngineError(f"call_exit at {path}: the token is not in a called workflow's ctx")
        view = child.view
        missing = [frm for _, frm in ctx_out if frm not in view]
        if missing and not lenient:
            st.fail(
                tok,
                CallError(
                    f"call({name!r}) at {path}: ctx_out reads {missing[0]!r}, which the "
                    "called workflow's ctx does not hold when it completes"
                ),
                where=path,
            )
            return 1
        if ctx_out:
            parent.snap = None
            data = parent.data
            for to, frm in ctx_out:
                if frm in view:
                    data[to] = view[frm]
        tok.scope = parent
        tok.pc = nxt
        return 1

    return call_out


_SCOPES: weakref.WeakKeyDictionary[Program, frozenset[str]] = weakref.WeakKeyDictionary()


def call_scopes(program: Program) -> frozenset[str]:
    """The region ids of ``program``'s calls (a ``region_enter`` whose body is a ``call_enter``)."""
    got = _SCOPES.get(program)
    if got is None:
        instrs = program.instrs
        got = frozenset(
            ins.ops.scope_id
            for ins in instrs
            if isinstance(ins.ops, RegionEnterOps) and instrs[ins.ops.body].op == "call_enter"
        )
        _SCOPES[program] = got
    return got
