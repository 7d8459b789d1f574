"""The data abstraction: a Program whose user callables ask an oracle instead.

The explorer runs the real reducer over a copy of the compiled Program in
which every *user* callable is replaced (the instruction table, its program
counters and the opcode handlers are unchanged; only operand records are
replaced, and the engine links the copy like any Program):

* a task function returns ``None``: the task takes its step and changes no
  data (user code is never called while validating); a task with an
  ``on_error`` term may also fail (the oracle decides), so that its
  ``on_error`` term is explored;
* a condition (``xor`` / ``choice`` guards, ``loop`` ``while_`` / ``until``)
  asks the :class:`Oracle`, which answers true or false, so the explorer
  can try both;
* a computed ``mi`` count or item list asks the oracle for a number of
  instances in ``0..max_instances`` (or up to its ``join=n`` when larger);
* the scheduler's picks (several ``xor`` defaults) go to the oracle too;
* effect functions are never called: the explorer feeds results itself.

Functions that wftrio itself defines for its derived patterns (the
bookkeeping of :func:`wftrio.patterns.critical_section` and
:func:`wftrio.patterns.interleaved_parallel_routing`, defined in
:mod:`wftrio.algebra.patterns`: lock acquire/release,
ownership tests, routing state) are *trusted*: pure, total and cheap, they
run for real on the abstract ctx, which then holds exactly what they wrote.
That is what lets the explorer see that two critical sections taken in
opposite order wait for each other forever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from wftrio.compiler.program import (
    CallEnterOps,
    CallExitOps,
    DeferOps,
    ForkOps,
    Instr,
    LoopTestOps,
    MIDoneOps,
    MISpawnOps,
    Operands,
    Program,
    TaskOps,
    WaitSignalOps,
    XorOps,
    assemble,
)
from wftrio.engine.objects import MIInst, Token
from wftrio.errors import AbstractFailure
from wftrio.terms import MI, Loop, Term, node_label

__all__ = [
    "DETERMINISTIC_OPS",
    "LOCAL_OPS",
    "AbstractFailure",
    "Oracle",
    "abstract_program",
    "deterministic_pcs",
    "is_trusted",
    "local_pcs",
    "reads_ctx",
]

_TRUSTED_MODULES = frozenset({"wftrio.algebra.patterns", "wftrio.algebra.pattern_steps"})


def is_trusted(fn: object) -> bool:
    """Whether ``fn`` is one of wftrio's own pattern-bookkeeping functions."""
    return getattr(fn, "__module__", None) in _TRUSTED_MODULES


class Oracle:
    """Answers the questions one reduction step asks, from a script.

    The explorer runs a step with ``script`` = the answers to use; questions
    past the end of the script are answered 0 (and the script extended).
    After the step, ``asked`` holds ``(options, label)`` per question, so the
    explorer can enumerate every combination of answers (an odometer over
    the decision tree: later questions may depend on earlier answers).

    With ``completing`` set, a question past the end of the script gets its
    *completing* answer instead of 0: the one that lets a block-structured
    block run to its exit (a ``choice`` guard or ``xor`` condition holds, a
    ``while_`` condition does not, an ``until`` condition does, a computed
    count is 1, or ``n`` under ``join=n``).  The explorer uses it to run a
    summarised block along one path
    (:func:`wftrio.validation.compose.summary_blocks`).
    """

    __slots__ = ("asked", "completing", "script")

    def __init__(self) -> None:
        self.script: list[int] = []
        self.asked: list[tuple[int, str]] = []
        self.completing = False

    def reset(self, script: list[int]) -> None:
        self.script = script
        self.asked = []

    def ask(self, n: int, label: str, completes: int = 0) -> int:
        """Answer a question with ``n`` options (``completes``: its completing answer)."""
        i = len(self.asked)
        self.asked.append((n, label))
        if i < len(self.script):
            return self.script[i]
        a = completes if self.completing else 0
        self.script.append(a)
        return a

    def next_script(self) -> list[int] | None:
        """The next combination of answers after the one just used, or None."""
        used = len(self.asked)
        script = self.script[:used]
        j = used - 1
        while j >= 0 and script[j] + 1 >= self.asked[j][0]:
            j -= 1
        if j < 0:
            return None
        return [*script[:j], script[j] + 1]


class OracleScheduler:
    """The scheduler of an explored state: never preemptive, picks from the oracle."""

    __slots__ = ("oracle",)
    preemptive = False
    name = "explore"

    def __init__(self, oracle: Oracle) -> None:
        self.oracle = oracle

    def pick(self, n: int, what: str) -> int:
        return self.oracle.ask(n, f"scheduler pick ({what})")


def _skip(ctx: Mapping[str, Any]) -> None:
    """An abstracted task: takes its step, changes no data."""
    return None


def _may_fail(oracle: Oracle, label: str) -> Callable[[Mapping[str, Any]], None]:
    def fn(ctx: Mapping[str, Any]) -> None:
        if oracle.ask(2, label):
            raise AbstractFailure(label)

    return fn


def _cond(oracle: Oracle, label: str, completes: int) -> Callable[[Mapping[str, Any]], bool]:
    def cond(ctx: Mapping[str, Any]) -> bool:
        return oracle.ask(2, label, completes) == 1

    return cond


def _results_cond(oracle: Oracle, label: str) -> Callable[[list[Any]], bool]:
    """An abstracted condition over an mi's finished instances: either outcome."""

    def cond(results: list[Any]) -> bool:
        return oracle.ask(2, label, 1) == 1

    return cond


def _count(
    oracle: Oracle, label: str, n: int, least: int = 1
) -> Callable[[Mapping[str, Any]], int]:
    def count(ctx: Mapping[str, Any]) -> int:
        return oracle.ask(n + 1, label, min(least, n))

    return count


def _items(
    oracle: Oracle, label: str, n: int, least: int = 1
) -> Callable[[Mapping[str, Any]], list[int]]:
    def items(ctx: Mapping[str, Any]) -> list[int]:
        return list(range(oracle.ask(n + 1, label, min(least, n))))

    return items


def _abs_conds(
    oracle: Oracle, path: str, conds: tuple[Any, ...], what: str
) -> tuple[Callable[..., Any] | None, ...]:
    out: list[Callable[..., Any] | None] = []
    for i, c in enumerate(conds):
        if c is None or is_trusted(c):
            out.append(c)
        else:
            out.append(_cond(oracle, f"{what} [{i}] at {path}", 1))
    return tuple(out)


def abstract_program(program: Program, oracle: Oracle, max_instances: int) -> Program:
    """Relink ``program`` with its user callables abstracted (see the module docs).

    The result has the same instruction table shape (same program counters,
    paths, successors and opcodes) and runs on the same opcode handlers.
    When nothing reads the ctx (:func:`reads_ctx`), ``mi`` results are not
    collected.
    """
    drop_collect = not reads_ctx(program)
    instrs: list[Instr] = []
    for ins in program.instrs:
        op = ins.op
        ops: Operands = ins.ops
        if isinstance(ops, TaskOps) and op in ("task", "step") and not is_trusted(ops.fn):
            if op == "step" and ops.on_error >= 0:
                # a task with options and an on_error term: failing is an outcome
                label = f"task {ops.name!r} at {ins.path} fails"
                ops = attrs.evolve(ops, fn=_may_fail(oracle, label))
            else:
                ops = attrs.evolve(ops, fn=_skip)
        elif isinstance(ops, XorOps):
            ops = attrs.evolve(ops, conds=_abs_conds(oracle, ins.path, ops.conds, "condition of"))
        elif isinstance(ops, ForkOps) and any(c is not None for c in ops.conds):
            ops = attrs.evolve(ops, conds=_abs_conds(oracle, ins.path, ops.conds, "guard of"))
        elif isinstance(ops, LoopTestOps) and not is_trusted(ops.cond):
            what = "until" if ops.stop_when else "while_"
            label = f"loop {what} condition at {ins.path}"
            ops = attrs.evolve(ops, cond=_cond(oracle, label, 1 if ops.stop_when else 0))
        elif isinstance(ops, MISpawnOps):
            # a join=n threshold needs n instances: explore at least that many
            j = ops.join
            most = max(max_instances, j) if isinstance(j, int) else max_instances
            # completing: enough instances for the join to fire
            least = max(1, j) if isinstance(j, int) else 1
            if callable(ops.count) and not is_trusted(ops.count):
                label = f"instance count at {ins.path}"
                ops = attrs.evolve(ops, count=_count(oracle, label, most, least))
            if callable(ops.items) and not is_trusted(ops.items):
                label = f"instance count (items) at {ins.path}"
                ops = attrs.evolve(ops, items=_items(oracle, label, most, least))
            # conditions over the finished instances (WCP-27, WCP-36): either outcome
            if ops.until is not None and not is_trusted(ops.until):
                ops = attrs.evolve(ops, until=_results_cond(oracle, f"mi until at {ins.path}"))
            if callable(ops.join) and not is_trusted(ops.join):
                label = f"mi join condition at {ins.path}"
                ops = attrs.evolve(ops, join=_results_cond(oracle, label))
        elif isinstance(ops, CallEnterOps | CallExitOps):
            # the abstract ctx holds no task data: a key it lacks is no finding
            ops = attrs.evolve(ops, lenient=True)
        if drop_collect and isinstance(ops, MISpawnOps | MIDoneOps) and ops.collect is not None:
            ops = attrs.evolve(ops, collect=None)
        instrs.append(ins if ops is ins.ops else attrs.evolve(ins, ops=ops))
    return assemble(program.term, instrs, program.entry)


def instances_bound(program: Program, max_instances: int) -> Callable[[Token], bool]:
    """Whether a token waiting for a signal is an mi's ``more_on`` watcher whose
    activation already has as many instances as are explored: each such signal
    adds an instance, so (as with a computed count) the explorer adds at most
    ``max_instances``, or ``n`` for a ``join=n``."""
    bound: dict[int, int] = {}
    for ins in program.instrs:
        ops = ins.ops
        if isinstance(ops, MISpawnOps):
            j = ops.join
            most = max(max_instances, j) if isinstance(j, int) else max_instances
            bound.update((w.entry, most) for w in ops.watch if w.kind == "more")

    def full(tok: Token) -> bool:
        most = bound.get(tok.pc)
        inst = tok.frame
        return most is not None and isinstance(inst, MIInst) and inst.n >= most

    return full


def reads_ctx(program: Program) -> bool:
    """Whether anything in the abstract run of ``program`` reads the ctx.

    With user callables abstracted, only wftrio's own pattern functions
    (:func:`is_trusted`: locks, routing) read the ctx.  Without any, what
    the run writes there (collected ``mi`` results, signal payloads) is
    read by nobody: :func:`abstract_program` then leaves the collecting
    out, so paths that collect different lists (a computed count) end in
    one state, and a collecting ``mi`` may be summarised
    (:func:`wftrio.validation.compose.summary_blocks`).
    """
    for ins in program.instrs:
        ops = ins.ops
        if isinstance(ops, TaskOps):
            fns: tuple[object, ...] = (ops.fn,)
        elif isinstance(ops, XorOps | ForkOps):
            fns = ops.conds
        elif isinstance(ops, LoopTestOps):
            fns = (ops.cond,)
        elif isinstance(ops, MISpawnOps):
            fns = (ops.count, ops.items)
        else:
            continue
        if any(f is not None and is_trusted(f) for f in fns):
            return True
    return False


LOCAL_OPS = frozenset(
    {"task", "step", "effect", "xor", "fork", "loop_enter", "loop_next", "loop_test", "mi_spawn"}
    | {"end"}
)
"""Opcodes whose step, with user callables abstracted, touches only its own token.

Such a step reads no shared data, changes nothing another token or an input
can observe, and leaves nothing behind if the token is later withdrawn; it
commutes with every other transition (partial-order reduction, see
:mod:`wftrio.validation.explore`).  Steps running trusted pattern functions
(which read and write the shared ctx) are never local, nor are joins, waits,
regions, termination or opcodes this module does not know.
"""


def _reentrant_paths(term: Term) -> set[str]:
    """Node paths inside a ``loop`` or ``mi`` body: places several tokens may
    occupy at once (instances; late branches of an earlier iteration)."""
    out: set[str] = set()
    stack: list[tuple[str, Term, bool]] = [("", term, False)]
    while stack:
        p, node, inside = stack.pop()
        label = node_label(node)
        here = f"{p}.{label}" if p else label
        if inside:
            out.add(here)
        kids = node.children()
        deeper = inside or isinstance(node, Loop | MI)
        for i, kid in enumerate(kids):
            stack.append((f"{here}[{i}]", kid, deeper))
    return out


def local_pcs(program: Program, *, cancel_regions: bool = False) -> tuple[bool, ...]:
    """Per program counter: whether a step there is local (see :data:`LOCAL_OPS`).

    Besides the opcodes of :data:`LOCAL_OPS` (with user callables), a
    ``wait_signal`` or ``defer`` is local when every signal it registers for
    is waited for by no other instruction and it is not inside a ``loop`` or
    ``mi`` body: then no other token can ever wait for those signals at the
    same time, so the order of registrations cannot matter.  The arrival
    at a join that waits for every branch it started (``par``, ``join("all")``,
    ``choice``; ``mi(join="all")``) is local too: it only counts, arrivals
    at one such join commute (whichever arrives last continues, the same
    state up to token names), nothing else reads the counter, and
    withdrawing the join's tokens leaves the same state whether or not one
    had arrived.  Partial joins (``first(n)``, ``mi(join=n)``) are not:
    which branches arrive in time decides which are absorbed or withdrawn.
    Without
    explored region cancellations, ``region_enter`` / ``region_exit`` are
    local too (they only move their token between activations), and so is
    a ``halt`` ending a branch of such a join (a ``choice`` or
    ``join("sync_merge")``): it takes its branch off the join's count
    (``needed`` and ``started`` by one), which commutes with the other
    branches' arrivals and halts the same way (whichever comes last fires
    the join), and nothing else reads the count.
    """
    instrs = program.instrs
    waiting: dict[str, int] = {}
    for ins in instrs:
        for name in _signal_names(ins):
            waiting[name] = waiting.get(name, 0) + 1
    reentrant = _reentrant_paths(program.term)
    all_joins = _all_joins(program)
    out: list[bool] = []
    for pc, ins in enumerate(instrs):
        op = ins.op
        ops = ins.ops
        ok = op in LOCAL_OPS
        if ok:
            if isinstance(ops, TaskOps):
                ok = op == "effect" or not is_trusted(ops.fn)
            elif isinstance(ops, XorOps | ForkOps):
                ok = not any(c is not None and is_trusted(c) for c in ops.conds)
            elif isinstance(ops, LoopTestOps):
                ok = not is_trusted(ops.cond)
            elif isinstance(ops, MISpawnOps):
                ok = not (is_trusted(ops.count) or is_trusted(ops.items))
        elif op in ("wait_signal", "defer"):
            ok = ins.path not in reentrant and all(waiting[n] == 1 for n in _signal_names(ins))
        elif op in ("join", "mi_done"):
            ok = pc in all_joins
        elif op in ("region_enter", "region_exit"):
            ok = not cancel_regions
        elif op == "halt":
            ok = not cancel_regions and _halt_join(program, pc) in all_joins
        out.append(ok)
    return tuple(out)


def _halt_join(program: Program, pc: int) -> int:
    """The join pc of the fork whose branch the ``halt`` at ``pc`` ends, or ``-1``.

    That is the innermost fork or ``mi`` around it (loops in between open no
    join); ``-1`` when it is an ``mi``, or nothing (the runtime refuses such a
    ``halt``).
    """
    instrs = program.instrs
    path = instrs[pc].path
    best = ""
    join = -1
    for ins in instrs:
        ops = ins.ops
        if (
            isinstance(ops, ForkOps | MISpawnOps)
            and len(ins.path) > len(best)
            and path.startswith(ins.path + "[")
        ):
            best = ins.path
            join = ops.join_pc if isinstance(ops, ForkOps) else -1
    return join


def _signal_names(ins: Instr) -> set[str]:
    ops = ins.ops
    if isinstance(ops, WaitSignalOps):
        return {ops.name}
    if isinstance(ops, DeferOps):
        return {str(t.key) for t in ops.alts if t.kind == "signal"}
    return set()


def _all_joins(program: Program) -> set[int]:
    """The program counters of joins that wait for every branch they started."""
    instrs = program.instrs
    out: set[int] = set()
    mi_all = {
        ins.path
        for ins in instrs
        if isinstance(ins.ops, MISpawnOps)
        and ins.ops.join == "all"
        and ins.ops.until is None
        and not ins.ops.watch
    }
    for pc, ins in enumerate(instrs):
        ops = ins.ops
        if isinstance(ops, ForkOps) and ops.n is None and not ops.cancel_rest:
            out.add(ops.join_pc)
        elif ins.op == "mi_done" and ins.path in mi_all:
            out.add(pc)
    return out


DETERMINISTIC_OPS = frozenset(
    {"task", "effect", "loop_enter", "loop_next", "join", "mi_done", "region_enter"}
    | {"region_exit", "wait_signal", "defer", "end", "halt"}
)
"""Opcodes whose abstracted step, when local, has exactly one outcome (asks the oracle nothing)."""


def deterministic_pcs(program: Program, local: tuple[bool, ...]) -> tuple[bool, ...]:
    """Per program counter: a local step with one outcome (it asks the oracle nothing).

    The explorer runs such steps back to back on one copy of the state, keying
    only the state where the run ends (see :mod:`wftrio.validation.explore`).
    Besides :data:`DETERMINISTIC_OPS` (user tasks without an ``on_error``
    term, whose failure would be an outcome), a ``fork`` without guards, an
    ``xor`` with a single unconditioned alternative and an ``mi`` with a fixed
    count or item list qualify.
    """
    out: list[bool] = []
    for pc, ins in enumerate(program.instrs):
        ok = local[pc]
        if ok:
            op = ins.op
            ops = ins.ops
            if op in DETERMINISTIC_OPS:
                ok = not (isinstance(ops, TaskOps) and ops.on_error >= 0)
            elif op == "step":
                ok = isinstance(ops, TaskOps) and ops.on_error < 0
            elif isinstance(ops, ForkOps):
                ok = all(c is None for c in ops.conds)
            elif isinstance(ops, XorOps):
                ok = len(ops.conds) == 1 and ops.conds[0] is None
            elif isinstance(ops, MISpawnOps):
                ok = not callable(ops.count) and not callable(ops.items)
            else:
                ok = False
        out.append(ok)
    return tuple(out)
