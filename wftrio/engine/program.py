"""Programs as the engine runs them: linked handlers, one per instruction.

The compiler's :class:`~wftrio.compiler.program.Program` is pure data (an
instruction table with typed operand records).  :func:`link` asks each
opcode's factory (``engine/_ops.py``) for a *handler*: a closure with the
instruction's operands baked in.  The reducer's hot loop calls
``code[pc](state, token, max_steps)`` directly, so it never branches on the
kind of node it is executing.  A Program is linked once (cached per
Program, while it is alive), when the first case of it starts.

The compiler's data types are re-exported here.
"""

from __future__ import annotations

from wftrio.compiler.program import (
    NO_OPS,
    OPERANDS,
    DeferOps,
    ForkOps,
    Instr,
    LoopCountOps,
    LoopTestOps,
    MIDoneOps,
    MISignalOps,
    MISpawnOps,
    MIWatch,
    NoOps,
    Operands,
    Program,
    RegionEnterOps,
    TaskOps,
    Trigger,
    WaitSignalOps,
    XorOps,
    assemble,
)
from wftrio.engine._blocking import blocking_join_pcs
from wftrio.engine._ops import Handler, link

__all__ = [
    "NO_OPS",
    "OPERANDS",
    "DeferOps",
    "ForkOps",
    "Handler",
    "Instr",
    "LoopCountOps",
    "LoopTestOps",
    "MIDoneOps",
    "MISignalOps",
    "MISpawnOps",
    "MIWatch",
    "NoOps",
    "Operands",
    "Program",
    "RegionEnterOps",
    "TaskOps",
    "Trigger",
    "WaitSignalOps",
    "XorOps",
    "assemble",
    "blocking_join_pcs",
    "link",
]
