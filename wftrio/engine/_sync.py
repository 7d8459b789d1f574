"""The ``halt`` instruction: a branch of a synchronising merge ends without arriving.

The compiler admits ``halt`` only where the token's nearest frame, past any
loop frames, is the activation of a synchronising merge
(:func:`wftrio.algebra.sync.check_halts`).  Halting lowers that
activation's ``needed`` and ``started`` by one: the join then waits for the
branches still live, and fires here when every other branch has already
arrived (with none arrived when every branch halted), so the invariants of
:class:`~wftrio.engine.objects.JoinInst` (``fired`` iff ``arrived >=
needed``, ``arrived <= started``) hold and snapshots need nothing new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wftrio.compiler.program import Instr, NoOps
from wftrio.engine.objects import JoinInst, LoopFrame
from wftrio.engine.protocol import EventKind
from wftrio.errors import EngineError

if TYPE_CHECKING:
    from wftrio.engine._ops import Handler, Linker
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = ["halt"]


def halt(pc: int, ins: Instr, lk: Linker) -> Handler:
    """Handler factory of the ``halt`` opcode."""
    if not isinstance(ins.ops, NoOps):
        raise EngineError(f"{ins.op} at {ins.path}: expected NoOps, got {ins.ops!r}")
    path = ins.path

    def run_halt(st: ExecState, tok: Token, max_steps: int) -> int:
        inst = tok.frame
        while isinstance(inst, LoopFrame):
            inst = inst.parent
        if not isinstance(inst, JoinInst) or inst.fired or inst.needed != inst.started:
            raise EngineError(f"halt at {path}: not in a branch of a synchronising merge")
        inst.needed -= 1
        inst.started -= 1
        if inst.arrived < inst.needed:
            st.kill(tok)
            if st.full:
                st.emit(
                    EventKind.JOIN_ARRIVED, path, tok, {"arrived": inst.arrived, "halted": True}
                )
            return 1
        inst.fired = True
        if st.full:
            st.emit(
                EventKind.JOIN_FIRED,
                path,
                tok,
                {"arrived": inst.arrived, "of": inst.started, "halted": True},
            )
        # as at a join: the continuation is spawned before the halting token dies
        cont = st.spawn(inst.cont, inst.parent, inst.region, inst.scope)
        st.kill(tok)
        st.current = cont
        return 1

    return run_halt
