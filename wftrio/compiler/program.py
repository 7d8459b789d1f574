"""The executable form of a term: a flat, immutable instruction table.

Pure data, below the engine: the compiler (:mod:`wftrio.compiler`) lowers
a term into a tuple of :class:`Instr` records with explicit successor
program counters and wraps it in a :class:`Program`.  Each instruction
carries its opcode's constants in one frozen operand record (:class:`TaskOps`,
:class:`ForkOps`, ...; :data:`OPERANDS` says which record goes with which
opcode), so every reader of an operand is type-checked.

The engine turns a Program into handlers (``wftrio.engine.program.link``:
one closure per instruction with its operands baked in), once per Program,
when the first case of it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, NamedTuple, TypeAlias

import attrs

from wftrio.errors import EngineError
from wftrio.terms import Retry, Term

__all__ = [
    "NO_OPS",
    "OPERANDS",
    "DeferOps",
    "ForkOps",
    "Instr",
    "LoopCountOps",
    "LoopTestOps",
    "MI_PAYLOAD",
    "MIDoneOps",
    "MISignalOps",
    "CallEnterOps",
    "CallExitOps",
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
]

Cond: TypeAlias = Callable[[Mapping[str, Any]], object]
"""A user condition (``xor`` / ``choice`` guard, ``loop`` test) over the ctx view."""


class _Operands:
    """Common behaviour of the operand records (a mixin: no fields)."""

    __slots__ = ()

    def as_args(self) -> dict[str, Any]:
        """The operands as a ``name -> value`` dict, optional ones only when set.

        This is the shape of the untyped ``args`` dict instructions used to
        carry; listings and program fingerprints are built from it.
        """
        out: dict[str, Any] = {}
        for f in attrs.fields(type(self)):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if f.metadata.get("optional") and v == f.default:
                continue
            out[f.name] = v
        return out


def _optional(default: Any) -> Any:
    """A field left out of :meth:`_Operands.as_args` while it holds ``default``."""
    return attrs.field(default=default, metadata={"optional": True})


@attrs.frozen
class NoOps(_Operands):
    """No operands: ``join``, ``region_exit``, ``terminate``, ``end``."""


NO_OPS = NoOps()
"""The one operand record of the opcodes without operands."""


@attrs.frozen(kw_only=True)
class TaskOps(_Operands):
    """``task`` (a pure sync fn), ``step`` (a sync fn with options), ``effect`` (async fn).

    ``on_error`` is the pc of the task's ``on_error`` term (``-1``: none);
    the policies are ``None`` when not given.
    """

    name: str
    fn: Callable[[Mapping[str, Any]], Any]
    timeout: float | None = _optional(None)
    retry: Retry | None = _optional(None)
    cost: float | None = _optional(None)
    kind: str | None = _optional(None)
    on_error: int = _optional(-1)


@attrs.frozen(kw_only=True)
class ForkOps(_Operands):
    """``fork``: every split (``par``, ``join``, ``choice``).

    ``n`` is the fixed number of arrivals that fire the join (``None``: one
    per started branch); ``conds`` the branch guards (``None``: always
    taken); ``join_pc`` the pc of the matching ``join``; ``blocking`` marks
    a ``first(n, blocking=True)`` join, whose next activation's arrivals
    are held until this one resets (WCP-28/31).
    """

    n: int | None
    cancel_rest: bool
    entries: tuple[int, ...]
    conds: tuple[Cond | None, ...]
    join_pc: int
    blocking: bool = _optional(False)


@attrs.frozen(kw_only=True)
class XorOps(_Operands):
    """``xor``: conditions in order (``None``: a default alternative) and entries."""

    conds: tuple[Cond | None, ...]
    entries: tuple[int, ...]


@attrs.frozen(kw_only=True)
class LoopCountOps(_Operands):
    """``loop_enter`` / ``loop_next`` of a ``loop(times=n)``: ``body`` is its entry pc."""

    times: int
    body: int


@attrs.frozen(kw_only=True)
class LoopTestOps(_Operands):
    """``loop_test``: ``while_`` (``stop_when=False``) or ``until`` (``stop_when=True``)."""

    cond: Cond
    stop_when: bool
    body: int


class Trigger(NamedTuple):
    """One alternative of a ``defer``: signal ``key`` or a timer of ``key`` seconds."""

    kind: Literal["signal", "timer"]
    key: str | float


@attrs.frozen(kw_only=True)
class DeferOps(_Operands):
    """``defer``: the alternatives' triggers and entries, in order."""

    alts: tuple[Trigger, ...]
    entries: tuple[int, ...]


@attrs.frozen(kw_only=True)
class WaitSignalOps(_Operands):
    """``wait_signal``: the payload goes to ``ctx[store_as]`` when it is set."""

    name: str
    store_as: str | None


@attrs.frozen(kw_only=True)
class RegionEnterOps(_Operands):
    """``region_enter``: ``cancel_pc`` is where a cancelled activation continues."""

    scope_id: str
    cancel_pc: int
    allow: frozenset[str] | None = _optional(None)
    body: int


MI_PAYLOAD = "payload"
"""The key a ``more`` watcher keeps the signal's payload under, in its own ctx layer."""


class MIWatch(NamedTuple):
    """A signal an ``mi`` activity watches: a token waits for it at ``entry`` (a
    ``wait_signal``, followed by the ``mi_signal`` doing ``kind``)."""

    kind: Literal["more", "close", "complete"]
    signal: str
    entry: int


@attrs.frozen(kw_only=True)
class MISpawnOps(_Operands):
    """``mi_spawn``: how many instances (``count`` or ``items``) and how they join."""

    count: int | Callable[[Mapping[str, Any]], int] | None
    items: tuple[Any, ...] | Callable[[Mapping[str, Any]], Iterable[Any]] | None
    join: int | Literal["all", "none"] | Callable[[list[Any]], object]
    collect: str | None
    item_key: str
    body: int
    cancel_rest: bool = _optional(False)
    """Withdraw the instances still running when the partial join fires (WCP-35)."""
    until: Callable[[list[Any]], object] | None = _optional(None)
    """Complete the activity once this holds for the finished instances (WCP-27)."""
    watch: tuple[MIWatch, ...] = _optional(())
    """The activity's signal watchers (WCP-15, WCP-27), each at its own entry pc."""


@attrs.frozen(kw_only=True)
class MIDoneOps(_Operands):
    """``mi_done``: where the instances' results are collected (``None``: nowhere).

    ``spawn`` is the pc of the activity's ``mi_spawn`` when it has options of
    WCP-15/27/36 the handler reads from there (-1: none).
    """

    collect: str | None
    spawn: int = _optional(-1)


@attrs.frozen(kw_only=True)
class MISignalOps(_Operands):
    """``mi_signal``: what a watcher of an ``mi`` activity does with its signal."""

    kind: Literal["more", "close", "complete"]
    spawn: int


@attrs.frozen(kw_only=True)
class CallEnterOps(_Operands):
    """``call_enter`` (WCP-22): the child's ctx layer starts with ``ctx_in``.

    ``ctx_in`` are ``(child_key, parent_key)`` pairs; ``exceeded`` marks a
    call deeper than ``max_depth``, which fails the case when it runs.
    """

    name: str
    ctx_in: tuple[tuple[str, str], ...]
    max_depth: int
    exceeded: bool = _optional(False)
    lenient: bool = _optional(False)
    """Skip a missing key instead of failing (the validator's abstract ctx holds no data)."""


@attrs.frozen(kw_only=True)
class CallExitOps(_Operands):
    """``call_exit`` (WCP-22): ``ctx_out`` ``(parent_key, child_key)`` pairs copied back."""

    name: str
    ctx_out: tuple[tuple[str, str], ...]
    lenient: bool = _optional(False)
    """Skip a missing key instead of failing (the validator's abstract ctx holds no data)."""


Operands: TypeAlias = (
    NoOps
    | TaskOps
    | ForkOps
    | XorOps
    | LoopCountOps
    | LoopTestOps
    | DeferOps
    | WaitSignalOps
    | RegionEnterOps
    | MISpawnOps
    | MIDoneOps
    | MISignalOps
    | CallEnterOps
    | CallExitOps
)

OPERANDS: Mapping[str, type[Operands]] = {
    "task": TaskOps,
    "effect": TaskOps,
    "step": TaskOps,
    "fork": ForkOps,
    "join": NoOps,
    "xor": XorOps,
    "loop_enter": LoopCountOps,
    "loop_next": LoopCountOps,
    "loop_test": LoopTestOps,
    "defer": DeferOps,
    "wait_signal": WaitSignalOps,
    "region_enter": RegionEnterOps,
    "region_exit": NoOps,
    "mi_spawn": MISpawnOps,
    "mi_done": MIDoneOps,
    "mi_signal": MISignalOps,
    "call_enter": CallEnterOps,
    "call_exit": CallExitOps,
    "terminate": NoOps,
    "halt": NoOps,
    "end": NoOps,
}
"""Every opcode and the operand record its instructions carry."""


def _check_ops(ins: Instr, attribute: Any, ops: Operands) -> None:
    want = OPERANDS.get(ins.op)
    if want is None:
        raise EngineError(f"unknown opcode {ins.op!r} at {ins.path}")
    if type(ops) is not want:
        raise EngineError(
            f"opcode {ins.op!r} at {ins.path} takes {want.__name__}, got {type(ops).__name__}"
        )


@attrs.frozen
class Instr:
    """One instruction of a :class:`Program`.

    Attributes:
        op: the opcode (``"task"``, ``"fork"``, ``"join"``, ...; see :data:`OPERANDS`).
        path: the node path of the term node it came from, for messages.
        next: the successor program counter (``-1`` for none).
        ops: the opcode's operand record (successor tables, callables, ...).

    Raises:
        EngineError: ``op`` is not an opcode, or ``ops`` is not its operand
            record (a compiler bug).
    """

    op: str
    path: str
    next: int = -1
    ops: Operands = attrs.field(default=NO_OPS, validator=_check_ops)

    @property
    def args(self) -> dict[str, Any]:
        """The operands as a dict (``ops.as_args()``); prefer the typed ``ops``."""
        return self.ops.as_args()


@attrs.frozen(eq=False)
class Program:
    """An immutable compiled workflow, shared by every case that runs it.

    Attributes:
        term: the term it was compiled from.
        instrs: the instruction table.
        entry: the program counter a case starts at.
        task_fn / task_name / run_end: per-pc tables for fused runs of pure
            tasks (``run_end[pc]`` is one past the last pure task of the
            straight-line run containing ``pc``; ``-1`` elsewhere).
    """

    term: Term
    instrs: tuple[Instr, ...]
    entry: int
    task_fn: tuple[Callable[[Mapping[str, Any]], Any] | None, ...]
    task_name: tuple[str, ...]
    run_end: tuple[int, ...]

    def __repr__(self) -> str:
        return f"<Program {len(self.instrs)} instrs for {self.term!r:.60}>"

    def listing(self) -> str:
        """Return a human-readable listing of the instruction table."""
        lines = []
        for pc, ins in enumerate(self.instrs):
            args = {k: v for k, v in ins.ops.as_args().items() if not callable(v)}
            lines.append(f"{pc:5d}  {ins.op:<12} next={ins.next:<5d} {ins.path}  {args or ''}")
        return "\n".join(lines)


def assemble(term: Term, instrs: Iterable[Instr], entry: int) -> Program:
    """Build a :class:`Program` from an instruction table, with its fused-run tables.

    A fused run is a straight line of pure ``task`` instructions, each the
    successor of the previous one at ``pc + 1``.
    """
    table = tuple(instrs)
    n = len(table)
    task_fn: list[Callable[[Mapping[str, Any]], Any] | None] = [None] * n
    task_name = [""] * n
    for pc, ins in enumerate(table):
        ops = ins.ops
        if ins.op == "task" and isinstance(ops, TaskOps):
            task_fn[pc] = ops.fn
            task_name[pc] = ops.name
    run_end = [-1] * n
    for pc in range(n - 1, -1, -1):
        if table[pc].op == "task":
            nxt = table[pc].next
            if nxt == pc + 1 and nxt < n and table[nxt].op == "task":
                run_end[pc] = run_end[nxt]
            else:
                run_end[pc] = pc + 1
    return Program(
        term=term,
        instrs=table,
        entry=entry,
        task_fn=tuple(task_fn),
        task_name=tuple(task_name),
        run_end=tuple(run_end),
    )
