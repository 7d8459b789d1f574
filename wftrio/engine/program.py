"""The executable form of a term: a flat, immutable instruction table.

The compiler (``wftrio.compiler``) lowers a term into a tuple of
:class:`Instr` records with explicit successor program counters.
:func:`link` turns that table into a :class:`Program` by asking each opcode's
factory (in ``_ops``) for a *handler*: a closure with the instruction's
constants baked in.  The reducer's hot loop calls ``program.code[pc]``
directly, so it never branches on the kind of node it is executing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from wftrio.engine._objects import Token
    from wftrio.engine._state import ExecState
    from wftrio.terms import Term

Handler = Callable[["ExecState", "Token", int], int]
"""``handler(state, token, budget) -> steps taken`` (at least 1, at most ``budget``)."""


@attrs.frozen
class Instr:
    """One instruction of a :class:`Program`.

    Attributes:
        op: the opcode (``"task"``, ``"fork"``, ``"join"``, ...).
        path: the node path of the term node it came from, for messages.
        next: the successor program counter (``-1`` for none).
        args: opcode-specific constants (successor tables, callables, ...).
    """

    op: str
    path: str
    next: int = -1
    args: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(eq=False)
class Program:
    """An immutable compiled workflow, shared by every case that runs it.

    Attributes:
        term: the term it was compiled from.
        instrs: the instruction table.
        code: one handler per instruction (``code[pc]``).
        entry: the program counter a case starts at.
        task_fn / task_name / run_end: per-pc tables for fused runs of pure
            tasks (``run_end[pc]`` is one past the last pure task of the
            straight-line run containing ``pc``; ``-1`` elsewhere).
    """

    term: Term
    instrs: tuple[Instr, ...]
    code: tuple[Handler, ...]
    entry: int
    task_fn: tuple[Any, ...]
    task_name: tuple[str, ...]
    run_end: tuple[int, ...]

    def __repr__(self) -> str:
        return f"<Program {len(self.instrs)} instrs for {self.term!r:.60}>"

    def listing(self) -> str:
        """Return a human-readable listing of the instruction table."""
        lines = []
        for pc, ins in enumerate(self.instrs):
            args = {k: v for k, v in ins.args.items() if not callable(v)}
            lines.append(f"{pc:5d}  {ins.op:<12} next={ins.next:<5d} {ins.path}  {args or ''}")
        return "\n".join(lines)


def link(term: Term, instrs: list[Instr], entry: int) -> Program:
    """Build a :class:`Program` from an instruction table.

    Raises:
        ValueError: an instruction names an unknown opcode (a compiler bug).
    """
    from wftrio.engine._ops import OPS

    n = len(instrs)
    task_fn: list[Any] = [None] * n
    task_name: list[str] = [""] * n
    run_end = [-1] * n
    for pc, ins in enumerate(instrs):
        if ins.op == "task":
            task_fn[pc] = ins.args["fn"]
            task_name[pc] = ins.args["name"]
    # run_end: straight-line runs of pure tasks where each one's successor is pc+1
    pc = n - 1
    while pc >= 0:
        if instrs[pc].op == "task":
            nxt = instrs[pc].next
            if nxt == pc + 1 and nxt < n and instrs[nxt].op == "task":
                run_end[pc] = run_end[nxt]
            else:
                run_end[pc] = pc + 1
        pc -= 1
    tables: dict[str, Any] = {
        "task_fn": task_fn,
        "task_name": task_name,
        "run_end": run_end,
        "instrs": instrs,
    }
    code: list[Handler] = []
    for pc, ins in enumerate(instrs):
        factory = OPS.get(ins.op)
        if factory is None:
            raise ValueError(f"unknown opcode {ins.op!r} at pc {pc}")
        code.append(factory(pc, ins, tables))
    return Program(
        term=term,
        instrs=tuple(instrs),
        code=tuple(code),
        entry=entry,
        task_fn=tuple(task_fn),
        task_name=tuple(task_name),
        run_end=tuple(run_end),
    )
