"""Term -> Program: lower a workflow term into a flat instruction table.

One pass over the term (linear in its size).  Each node emits its
instructions and returns its entry program counter and its *exits*: the
instruction fields that must point at whatever runs after the node.  The
parent patches those once it knows the successor (a sequence patches each
child's exits to the next child's entry; a split patches every branch's
exits to its join).  Pure tasks of a sequence therefore land on consecutive
program counters, which is what lets the reducer run them as one fused
straight-line run.

The walk keeps its own stack (each node's lowering is a generator that
yields the children it needs lowered and receives their entries and exits),
so a term nested thousands of levels deep compiles without recursion.

Programs are cached per term (terms are hashable), so a workflow started
many times is compiled once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Generator
from typing import Literal, TypeAlias

import attrs

from wftrio.algebra.sync import Halt, check_halts
from wftrio.compiler.program import (
    MI_PAYLOAD,
    NO_OPS,
    CallEnterOps,
    CallExitOps,
    DeferOps,
    ForkOps,
    Instr,
    LoopCountOps,
    LoopTestOps,
    MIDoneOps,
    MISignalOps,
    MISpawnOps,
    MIWatch,
    Operands,
    Program,
    RegionEnterOps,
    TaskOps,
    Trigger,
    WaitSignalOps,
    XorOps,
    assemble,
)
from wftrio.errors import TermError, TermTypeError, UnknownWorkflow
from wftrio.terms import (
    MI,
    After,
    Call,
    Defer,
    First,
    Join,
    Loop,
    OnSignal,
    Region,
    Seq,
    Task,
    Term,
    Terminate,
    Threads,
    WaitSignal,
    Xor,
    node_label,
)

__all__ = ["clear_cache", "compile"]

_CACHE: OrderedDict[Term, Program] = OrderedDict()
_CACHE_SIZE = 256

Exit: TypeAlias = tuple[int, Literal["next", "cancel_pc"]]
"""An instruction field to patch with the successor: its ``next``, or a region's ``cancel_pc``."""
Lowered: TypeAlias = tuple[int, list[Exit]]
"""A lowered node: its entry pc and its exits."""
Lowering: TypeAlias = Generator[tuple[Term, str], Lowered, Lowered]
"""A node's lowering: yields ``(child, path)``, is sent the child's :data:`Lowered`."""


class _Builder:
    __slots__ = ("calls", "calls_seen", "nexts", "opcodes", "ops", "paths")

    def __init__(self) -> None:
        # the calls being lowered around the current node, outermost first (WCP-22)
        self.calls: list[str] = []
        self.calls_seen = False
        self.opcodes: list[str] = []
        self.paths: list[str] = []
        self.nexts: list[int] = []
        # an instruction whose operands depend on its children is emitted
        # first (its pc comes before theirs) and given its record afterwards
        self.ops: list[Operands] = []

    def emit(self, op: str, path: str, ops: Operands = NO_OPS) -> int:
        self.opcodes.append(op)
        self.paths.append(path)
        self.nexts.append(-1)
        self.ops.append(ops)
        return len(self.ops) - 1

    def patch(self, exits: list[Exit], target: int) -> None:
        for pc, field in exits:
            if field == "next":
                self.nexts[pc] = target
            else:
                ops = self.ops[pc]
                assert isinstance(ops, RegionEnterOps)
                self.ops[pc] = attrs.evolve(ops, cancel_pc=target)

    def instrs(self) -> list[Instr]:
        return [
            Instr(op, path, nxt, ops)
            for op, path, nxt, ops in zip(
                self.opcodes, self.paths, self.nexts, self.ops, strict=True
            )
        ]

    def lower(self, root: Term) -> Lowered:
        """Lower ``root`` and everything below it, with an explicit stack."""
        stack = [self.node(root, "")]
        sent: Lowered | None = None
        while True:
            try:
                child, path = stack[-1].send(sent)  # type: ignore[arg-type]
            except StopIteration as done:
                stack.pop()
                sent = done.value
                if not stack:
                    assert sent is not None
                    return sent
                continue
            stack.append(self.node(child, path))
            sent = None

    def node(self, term: Term, path: str) -> Lowering:
        here = f"{path}.{node_label(term)}" if path else node_label(term)
        match term:
            case Task(name=name, fn=fn, is_effect=is_effect):
                if not term.has_options:
                    op = "effect" if is_effect else "task"
                    pc = self.emit(op, here, TaskOps(name=name, fn=fn))
                    return pc, [(pc, "next")]
                # a task with options: an unfused "step" (sync) or an "effect"
                # carrying its policies; on_error is compiled after it and
                # continues where the task would have
                pc = self.emit("effect" if is_effect else "step", here)
                task_exits: list[Exit] = [(pc, "next")]
                on_error = -1
                if term.on_error is not None:
                    on_error, cx = yield term.on_error, f"{here}[0]"
                    task_exits += cx
                self.ops[pc] = TaskOps(
                    name=name,
                    fn=fn,
                    timeout=term.timeout,
                    retry=term.retry,
                    cost=term.cost,
                    kind=term.kind,
                    on_error=on_error,
                )
                return pc, task_exits
            case Seq(terms=terms):
                entry = -1
                exits: list[Exit] = []
                for i, t in enumerate(terms):
                    e, x = yield t, f"{here}[{i}]"
                    if entry < 0:
                        entry = e
                    else:
                        self.patch(exits, e)
                    exits = x
                return entry, exits
            case Join(policy=policy, branches=branches):
                n: int | None = None
                cancel_rest = blocking = False
                if isinstance(policy, First):
                    n, cancel_rest, blocking = policy.n, policy.cancel_rest, policy.blocking
                fork = self.emit("fork", here)
                jpc = self.emit("join", here)
                entries = []
                for i, br in enumerate(branches):
                    e, x = yield br.term, f"{here}[{i}]"
                    self.patch(x, jpc)
                    entries.append(e)
                self.ops[fork] = ForkOps(
                    n=n,
                    cancel_rest=cancel_rest,
                    entries=tuple(entries),
                    conds=tuple(br.cond for br in branches),
                    join_pc=jpc,
                    blocking=blocking,
                )
                return fork, [(jpc, "next")]
            case Xor(alternatives=alts):
                pc = self.emit("xor", here)
                entries = []
                exits = []
                for i, alt in enumerate(alts):
                    e, x = yield alt.term, f"{here}[{i}]"
                    entries.append(e)
                    exits += x
                self.ops[pc] = XorOps(conds=tuple(a.cond for a in alts), entries=tuple(entries))
                return pc, exits
            case Loop(body=body, times=times, while_=while_, until=until):
                if times is not None:
                    enter = self.emit("loop_enter", here)
                    nxt = self.emit("loop_next", here)
                    bpc, x = yield body, f"{here}[0]"
                    self.patch(x, nxt)
                    self.ops[enter] = self.ops[nxt] = LoopCountOps(times=times, body=bpc)
                    return enter, [(enter, "next"), (nxt, "next")]
                if while_ is not None:
                    test = self.emit("loop_test", here)
                    bpc, x = yield body, f"{here}[0]"
                    self.patch(x, test)
                    self.ops[test] = LoopTestOps(cond=while_, stop_when=False, body=bpc)
                    return test, [(test, "next")]
                assert until is not None
                bpc, x = yield body, f"{here}[0]"
                test = self.emit(
                    "loop_test", here, LoopTestOps(cond=until, stop_when=True, body=bpc)
                )
                self.patch(x, test)
                return bpc, [(test, "next")]
            case Defer(alternatives=alts):
                triggers: list[Trigger] = []
                for trig in alts:
                    if isinstance(trig, OnSignal):
                        triggers.append(Trigger("signal", trig.name))
                    else:
                        assert isinstance(trig, After)
                        triggers.append(Trigger("timer", trig.seconds))
                pc = self.emit("defer", here)
                entries = []
                exits = []
                for i, trig in enumerate(alts):
                    e, x = yield trig.term, f"{here}[{i}]"
                    entries.append(e)
                    exits += x
                self.ops[pc] = DeferOps(alts=tuple(triggers), entries=tuple(entries))
                return pc, exits
            case WaitSignal(name=name, store_as=store_as):
                pc = self.emit("wait_signal", here, WaitSignalOps(name=name, store_as=store_as))
                return pc, [(pc, "next")]
            case Region(scope_id=sid, term=body, compensate=comp):
                enter = self.emit("region_enter", here)
                bpc, x = yield body, f"{here}[0]"
                ex = self.emit("region_exit", here)
                self.patch(x, ex)
                exits = [(ex, "next")]
                cancel_pc = -1
                if comp is None:
                    exits.append((enter, "cancel_pc"))
                else:
                    cancel_pc, cx = yield comp, f"{here}[1]"
                    exits += cx
                self.ops[enter] = RegionEnterOps(
                    scope_id=sid, cancel_pc=cancel_pc, allow=term.allow, body=bpc
                )
                return enter, exits
            case MI(body=body, count=count, items=items, join=join, collect=collect):
                spawn = self.emit("mi_spawn", here)
                bpc, x = yield body, f"{here}[0]"
                dynamic = term.dynamic
                done = self.emit(
                    "mi_done", here, MIDoneOps(collect=collect, spawn=spawn if dynamic else -1)
                )
                self.patch(x, done)
                self.ops[spawn] = MISpawnOps(
                    count=count,
                    items=items,
                    join=join,
                    collect=collect,
                    item_key=term.item_key,
                    body=bpc,
                    cancel_rest=term.cancel_rest,
                    until=term.until,
                    watch=self.mi_watchers(term, here, spawn),
                )
                return spawn, [(spawn, "next")]
            case Terminate():
                return self.emit("terminate", here), []
            case Halt():
                return self.emit("halt", here), []
            case Threads(n=n_threads, body=body):
                # a par whose n branches are one body: n tokens at its one entry
                fork = self.emit("fork", here)
                jpc = self.emit("join", here)
                bpc, x = yield body, f"{here}[0]"
                self.patch(x, jpc)
                self.ops[fork] = ForkOps(
                    n=None,
                    cancel_rest=False,
                    entries=(bpc,) * n_threads,
                    conds=(None,) * n_threads,
                    join_pc=jpc,
                )
                return fork, [(jpc, "next")]
            case Call():
                return (yield from self.call(term, here))
            case _:
                raise TermTypeError(
                    f"compile: {term!r} at {here or 'the root'} is not a term "
                    "built with wftrio's constructors"
                )

    def call(self, term: Call, here: str) -> Lowering:
        """A sub-workflow (WCP-22), lowered inline.

        ``region_enter call_enter <callee> call_exit region_exit``.  The callee
        is resolved now; a call nested deeper than its ``max_depth`` becomes
        a lone ``call_enter`` that fails the case if it runs.
        """
        if len(self.calls) >= term.max_depth:
            pc = self.emit(
                "call_enter",
                here,
                CallEnterOps(name=term.name, ctx_in=(), max_depth=term.max_depth, exceeded=True),
            )
            # its ``next`` (what follows the call) is taken only by the validator's
            # abstract run, which assumes the deeper calls complete (WF200)
            return pc, [(pc, "next")]
        try:
            callee = term.resolver.resolve(term.name, term.version)
        except UnknownWorkflow as exc:
            raise TermError(f"compile: {here or 'the root'}: {exc}") from exc
        if not isinstance(callee, Term):
            raise TermTypeError(
                f"compile: {here or 'the root'}: workflow {term.name!r} resolved to "
                f"{type(callee).__name__}, not a term"
            )
        self.calls_seen = True
        enter = self.emit("region_enter", here)
        cin = self.emit(
            "call_enter",
            here,
            CallEnterOps(name=term.name, ctx_in=term.ctx_in, max_depth=term.max_depth),
        )
        self.calls.append(term.name)
        try:
            bpc, x = yield callee, f"{here}[0]"
        finally:
            self.calls.pop()
        self.nexts[cin] = bpc
        cout = self.emit("call_exit", here, CallExitOps(name=term.name, ctx_out=term.ctx_out))
        self.patch(x, cout)
        ex = self.emit("region_exit", here)
        self.nexts[cout] = ex
        self.ops[enter] = RegionEnterOps(scope_id=term.scope_id, cancel_pc=-1, body=cin)
        return enter, [(ex, "next"), (enter, "cancel_pc")]

    def mi_watchers(self, term: MI, here: str, spawn: int) -> tuple[MIWatch, ...]:
        """Emit a watcher per signal of an mi (WCP-15, WCP-27): ``wait_signal`` → ``mi_signal``.

        A ``more`` watcher loops back to its wait (it adds an instance per
        signal, the payload stored in the watcher's own ctx layer); the
        others end there.
        """
        out: list[MIWatch] = []
        for kind, name in (
            ("more", term.more_on),
            ("close", term.close_on),
            ("complete", term.complete_on),
        ):
            if name is None:
                continue
            store = MI_PAYLOAD if kind == "more" else None
            wait = self.emit("wait_signal", here, WaitSignalOps(name=name, store_as=store))
            act = self.emit("mi_signal", here, MISignalOps(kind=kind, spawn=spawn))  # type: ignore[arg-type]
            self.nexts[wait] = act
            if kind == "more":
                self.nexts[act] = wait
            out.append(MIWatch(kind, name, wait))  # type: ignore[arg-type]
        return tuple(out)


def _check_call_scopes(b: _Builder) -> None:
    """Refuse a region sharing its id with a call's region (WCP-22)."""
    calls: set[str] = set()
    plain: dict[str, str] = {}
    for pc, ops in enumerate(b.ops):
        if isinstance(ops, RegionEnterOps):
            if b.opcodes[ops.body] == "call_enter":
                calls.add(ops.scope_id)
            else:
                plain.setdefault(ops.scope_id, b.paths[pc])
    for sid in sorted(calls & plain.keys()):
        raise TermError(
            f"compile: region {sid!r} at {plain[sid]} has the id of a call's region; "
            "rename it or give the call another scope="
        )


def _lookup(term: Term) -> Program | None:
    """The cached Program of ``term`` (hashing a deep term bottom-up first if needed)."""
    try:
        prog = _CACHE.get(term)
    except RecursionError:
        # terms cache their hash, but compute it recursively on first use:
        # hash the nodes children first so no call nests deeper than a level
        _hash_bottom_up(term)
        prog = _CACHE.get(term)
    return prog


def _hash_bottom_up(term: Term) -> None:
    order: list[Term] = []
    stack = [term]
    while stack:
        t = stack.pop()
        order.append(t)
        stack.extend(t.children())
    for t in reversed(order):
        hash(t)


def compile(term: Term) -> Program:  # noqa: A001 - the natural name, as re.compile
    """Compile ``term`` into an immutable :class:`Program` (cached per term).

    Raises:
        TermTypeError: ``term`` is not a workflow term.
        TermError: a ``halt()`` outside a branch of a synchronising merge.
    """
    if not isinstance(term, Term):
        raise TermTypeError(f"compile: expected a workflow term, got {type(term).__name__}")
    prog = _lookup(term)
    if prog is not None:
        _CACHE.move_to_end(term)
        return prog
    check_halts(term)
    b = _Builder()
    entry, exits = b.lower(term)
    end = b.emit("end", "end")
    b.patch(exits, end)
    if b.calls_seen:
        _check_call_scopes(b)
    prog = assemble(term, b.instrs(), entry)
    _CACHE[term] = prog
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return prog


def clear_cache() -> None:
    """Forget every cached Program."""
    _CACHE.clear()
