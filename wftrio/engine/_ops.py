"""Opcode semantics: one handler factory per opcode, and linking.

:func:`link` calls ``OPS[op](pc, instr, linker)`` once per instruction; the
factory reads the instruction's typed operand record and returns a closure
with those constants baked in.  A handler is called as
``handler(state, token, max_steps)`` for the token at ``pc``, performs one
step (a pure-task handler performs up to ``max_steps`` consecutive pure
tasks: the fused straight-line run) and returns the number of steps taken.
Handlers move the token (``tok.pc``), block it, kill it or spawn new ones;
nothing else dispatches on node kinds.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from wftrio.compiler.program import (
    DeferOps,
    ForkOps,
    Instr,
    LoopCountOps,
    LoopTestOps,
    NoOps,
    Operands,
    Program,
    RegionEnterOps,
    TaskOps,
    WaitSignalOps,
    XorOps,
)
from wftrio.effects import Effect
from wftrio.engine import _blocking, _effects
from wftrio.engine._call_ops import call_enter, call_exit
from wftrio.engine._fused import run_compact
from wftrio.engine._mi_ops import SPAWN_CHUNK, mi_done, mi_signal, mi_spawn
from wftrio.engine._recording import scope_of
from wftrio.engine._sync import halt
from wftrio.engine.frozen import (
    ATOMIC,
    NO_UPDATES,
    FrozenDict,
    as_updates,
)
from wftrio.engine.objects import EMPTY, JoinInst, LoopFrame, RegionInst
from wftrio.engine.protocol import DeferArm, DeferWait, EventKind, SignalWait, StartTimer, WaitKind
from wftrio.errors import EngineError, TaskError
from wftrio.trace import TraceEvent

new_event = tuple.__new__

if TYPE_CHECKING:
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = ["OPS", "SPAWN_CHUNK", "Handler", "link"]

Handler = Callable[["ExecState", "Token", int], int]
"""``handler(state, token, max_steps) -> steps taken`` (at least 1, at most ``max_steps``)."""

_O = TypeVar("_O", bound=Operands)


class Linker:
    """What the factories of one Program's instructions share while it is linked."""

    __slots__ = ("_allows", "program", "task_ops")

    def __init__(self, program: Program) -> None:
        self.program = program
        self._allows: dict[str, frozenset[str]] | None = None
        self.task_ops: tuple[TaskOps, ...] = tuple(
            ops if isinstance(ops := ins.ops, TaskOps) else _NO_TASK for ins in program.instrs
        )

    @property
    def allows(self) -> dict[str, frozenset[str]]:
        """Region id -> ``allow=`` set, for the program's regions that have one."""
        if self._allows is None:
            self._allows = _effects.region_allows(self.program.instrs)
        return self._allows


Factory = Callable[[int, Instr, Linker], Handler]

_NO_TASK = TaskOps(name="", fn=lambda ctx: None)
"""``Linker.task_ops`` at a pc that is no task."""


def operands(ins: Instr, cls: type[_O]) -> _O:
    """``ins.ops`` as the record ``cls`` its opcode takes (checked once, at link time)."""
    ops = ins.ops
    if not isinstance(ops, cls):
        raise EngineError(f"{ins.op} at {ins.path}: expected {cls.__name__}, got {ops!r}")
    return ops


_COMPLETED: str = EventKind.TASK_COMPLETED.value
"""The kind of the fused loop's events, as the plain string ``ExecState.emit`` records."""


def _task(pc: int, ins: Instr, lk: Linker) -> Handler:
    prog = lk.program
    fns = prog.task_fn
    names = prog.task_name
    instrs = prog.instrs
    end = prog.run_end[pc]
    last_next = instrs[end - 1].next
    allows = lk.allows
    task_ops = lk.task_ops  # for a task that returns an Effect spec
    atomic = ATOMIC

    def task(st: ExecState, tok: Token, max_steps: int) -> int:
        scope = tok.scope
        view = scope.view
        data = scope.data
        scope.snap = None  # the run writes to data (ctx_snapshot in _effects)
        stop = end if end - pc <= max_steps else pc + max_steps
        i = pc
        if st.full:
            if stop - pc > 1 and st.on_event is None and st.keep_events:
                return compact(st, tok, stop)
            return traced(st, tok, stop)
        try:
            while i < stop:
                r = fns[i](view)  # type: ignore[misc]
                if r is not None:
                    if type(r) is dict:
                        # the common case costs one pass: str keys, values that
                        # need no freezing; anything else takes the slow path
                        for k, v in r.items():
                            if type(k) is not str or type(v) not in atomic:
                                r = as_updates(r, names[i], instrs[i].path)
                                break
                    elif isinstance(r, Effect):
                        break
                    else:
                        r = as_updates(r, names[i], instrs[i].path)
                    data.update(r)
                i += 1
        except Exception as exc:
            tok.pc = i
            st.fail(tok, exc, names[i])
            return i - pc + 1
        if i < stop:  # task i returned an Effect spec: request it
            tok.pc = i
            _effects.request(st, tok, instrs[i], task_ops[i], st.steps + i - pc, r, allows)
            return i - pc + 1
        tok.pc = last_next if i == end else i
        return i - pc

    def traced(st: ExecState, tok: Token, stop: int) -> int:
        # the same loop, recording one task_completed event per task: a pure
        # task starts and completes within its step, so a task_started event
        # would carry no information (effects record both)
        scope = tok.scope
        view = scope.view
        data = scope.data
        rec = st._record  # st.recorder, st.region_id and st.now, inlined
        record = st._events.append if rec is None else rec
        cid = st.case_id
        tid = tok.id
        rid = scope_of(tok) if tok.region is not None else None
        # one time per fused run: no checkpoint happens inside it, so to the
        # rest of the program every step of the run happens at the same moment
        clock = st.clock
        t = (clock() - st.t0) if clock is not None else 0.0
        seq = st.seq
        completed = _COMPLETED
        i = pc
        try:
            while i < stop:
                r = fns[i](view)  # type: ignore[misc]
                if r is not None:
                    if type(r) is dict:
                        for k, v in r.items():
                            if type(k) is not str or type(v) not in atomic:
                                r = as_updates(r, names[i], instrs[i].path)
                                break
                        else:
                            r = FrozenDict(r)
                    elif isinstance(r, Effect):
                        break
                    else:
                        r = as_updates(r, names[i], instrs[i].path)
                    data.update(r)
                    upd: Mapping[str, Any] = r
                else:
                    upd = NO_UPDATES
                # the event's data is the frozen copy of the updates, exactly as
                # merged into ctx: neither the task nor a sink can change it later
                record(new_event(TraceEvent, (seq, cid, completed, names[i], tid, rid, t, upd)))
                seq += 1
                i += 1
        except Exception as exc:
            st.seq = seq
            tok.pc = i
            st.fail(tok, exc, names[i])
            return i - pc + 1
        st.seq = seq
        if i < stop:  # task i returned an Effect spec: request it
            tok.pc = i
            _effects.request(st, tok, instrs[i], task_ops[i], st.steps + i - pc, r, allows)
            return i - pc + 1
        tok.pc = last_next if i == end else i
        return i - pc

    def compact(st: ExecState, tok: Token, stop: int) -> int:
        # the traced loop recording one FusedRun, whose events are built when
        # the trace is read (engine/_fused.py)
        i, r, exc = run_compact(st, tok, pc, stop, fns, names, instrs)
        if exc is not None:
            tok.pc = i
            st.fail(tok, exc, names[i])
            return i - pc + 1
        if i < stop:  # task i returned an Effect spec: request it
            tok.pc = i
            _effects.request(st, tok, instrs[i], task_ops[i], st.steps + i - pc, r, allows)
            return i - pc + 1
        tok.pc = last_next if i == end else i
        return i - pc

    return task


def _effect(pc: int, ins: Instr, lk: Linker) -> Handler:
    """An async task function: request its effect (with the task's policies)."""
    ops = operands(ins, TaskOps)
    allows = lk.allows
    if not allows:  # no region of the program has an allowlist: the fast request
        request_fn = _effects.request_fn

        def effect_fn(st: ExecState, tok: Token, max_steps: int) -> int:
            request_fn(st, tok, ops, st.steps)
            return 1

        return effect_fn

    def effect(st: ExecState, tok: Token, max_steps: int) -> int:
        _effects.request(st, tok, ins, ops, st.steps, None, allows)
        return 1

    return effect


def _step(pc: int, ins: Instr, lk: Linker) -> Handler:
    """A sync task with options (timeout, retry, on_error, cost, kind): one unfused step.

    Its ``fn`` may return updates (merged; with ``kind=`` the step is
    audited: it leaves a receipt) or an :class:`~wftrio.effects.Effect`
    (requested with the task's policies).  A failure runs ``on_error``.
    """
    ops = operands(ins, TaskOps)
    name = ops.name
    fn = ops.fn
    kind = ops.kind
    on_error = ops.on_error
    nxt = ins.next
    path = ins.path
    allows = lk.allows

    def step(st: ExecState, tok: Token, max_steps: int) -> int:
        view = tok.scope.view
        try:
            r = fn(view)
            if isinstance(r, Effect):
                _effects.request(st, tok, ins, ops, st.steps, r, allows)
                return 1
            updates = as_updates(r, name, path) if r is not None else NO_UPDATES
        except Exception as exc:
            _effects.fail_task(st, tok, exc, name, on_error, woken=False)
            return 1
        if kind is not None:  # the receipt hashes the ctx the step saw
            _effects.audit_step(st, tok, name, kind, st.steps, updates)
        scope = tok.scope
        scope.snap = None
        scope.data.update(updates)
        if st.full:
            st.emit(EventKind.TASK_COMPLETED, name, tok, updates)
        tok.pc = nxt
        return 1

    return step


def _fork(pc: int, ins: Instr, lk: Linker) -> Handler:
    ops = operands(ins, ForkOps)
    entries = ops.entries
    conds = ops.conds
    fixed_n = ops.n
    cancel_rest = ops.cancel_rest
    cont = lk.program.instrs[ops.join_pc].next
    if ops.blocking:
        return _blocking.fork(pc, ins, ops, cont)
    guarded = any(c is not None for c in conds)
    path = ins.path
    everyone = tuple(range(len(entries)))
    instrs = lk.program.instrs
    # every branch starts with an async task function and no region has an
    # allowlist: the fork can take each branch's first step (its request)
    # itself, as the run loop would right after it (see fork below)
    requests = (
        None
        if lk.allows or any(instrs[e].op != "effect" for e in entries)
        else [operands(instrs[e], TaskOps) for e in entries]
    )
    request_fn = _effects.request_fn

    def fork(st: ExecState, tok: Token, max_steps: int) -> int:
        started: tuple[int, ...] | list[int] = everyone
        if guarded:
            view = tok.scope.view
            try:
                started = [i for i, c in enumerate(conds) if c is None or c(view)]
            except Exception as exc:
                st.fail(tok, exc, where=path)
                return 1
            if not started:
                st.fail(tok, TaskError(f"choice at {path}: no branch condition held"), where=path)
                return 1
        needed = fixed_n if fixed_n is not None else len(started)
        inst = JoinInst(st.new_id(), tok.frame, tok.region, tok.scope, needed, len(started), cont)
        region = tok.region
        if cancel_rest:
            creg = RegionInst(st.new_id(), None, region, tok.frame, tok.scope, -1)
            if region is not None:
                region.children[creg] = None
            inst.cancel_region = creg
            region = creg
        scope = tok.scope
        kids = [st.spawn(entries[i], inst, region, scope) for i in started]
        st.kill(tok)
        if st.full:  # the branches' tokens, in branch order (for readers of the trace)
            data = {"branches": list(started), "needed": needed, "tokens": [k.id for k in kids]}
            st.emit(EventKind.SPLIT, path, tok, data)
        if requests is not None and len(kids) < max_steps:
            g = st.governor
            if g is None or (g.allow is None and g.budget is None):
                # each branch's request, in the order and at the step the run
                # loop would take it (it pops the kids in branch order, and
                # a request that cannot be refused always blocks its token):
                # the same ids, events and state, without a turn of the loop
                # per branch (issue 12, figure 9)
                step = st.steps  # the fork's own step; the run loop counts them all
                for i, kid in zip(started, kids, strict=True):
                    step += 1
                    request_fn(st, kid, requests[i], step)
                return 1 + len(kids)
        kids.reverse()
        st.ready.extend(kids)
        return 1

    return fork


def _join(pc: int, ins: Instr, lk: Linker) -> Handler:
    operands(ins, NoOps)
    if pc in _blocking.blocking_join_pcs(lk.program):
        return _blocking.join(pc, ins)
    path = ins.path

    def join(st: ExecState, tok: Token, max_steps: int) -> int:
        inst = tok.frame
        assert isinstance(inst, JoinInst)
        inst.arrived += 1
        if inst.fired or inst.arrived < inst.needed:
            st.kill(tok)
            if st.full:
                if inst.fired:
                    st.emit(
                        EventKind.JOIN_ABSORBED, path, tok, {"arrived": inst.arrived, "late": True}
                    )
                else:
                    st.emit(EventKind.JOIN_ARRIVED, path, tok, {"arrived": inst.arrived})
            return 1
        inst.fired = True
        if st.full:
            st.emit(EventKind.JOIN_FIRED, path, tok, {"arrived": inst.arrived, "of": inst.started})
        # the continuation is spawned before the arriving token dies and the
        # rest is withdrawn: an exited enclosing region whose last tokens these
        # were must stay open for it
        cont = st.spawn(inst.cont, inst.parent, inst.region, inst.scope)
        st.kill(tok)
        creg = inst.cancel_region
        if creg is not None:
            st.withdraw_region(creg)
            inst.cancel_region = None
        st.current = cont
        return 1

    return join


def _xor(pc: int, ins: Instr, lk: Linker) -> Handler:
    ops = operands(ins, XorOps)
    entries = ops.entries
    conds = ops.conds
    guarded = [(i, c) for i, c in enumerate(conds) if c is not None]
    defaults = [i for i, c in enumerate(conds) if c is None]
    path = ins.path

    def xor(st: ExecState, tok: Token, max_steps: int) -> int:
        view = tok.scope.view
        how = "condition"
        try:
            for i, c in guarded:
                if c(view):
                    picked = i
                    break
            else:
                if not defaults:
                    raise TaskError(
                        f"xor at {path}: no condition held and there is no default "
                        "(unconditioned) alternative"
                    )
                how = "default"
                picked = defaults[0]
                if len(defaults) > 1:
                    picked = defaults[st.choose(len(defaults), "xor", tok, path)]
        except Exception as exc:
            st.fail(tok, exc, where=path)
            return 1
        if st.tracing:
            st.emit(EventKind.CHOICE, path, tok, {"by": how, "picked": picked})
        tok.pc = entries[picked]
        return 1

    return xor


def _loop_enter(pc: int, ins: Instr, lk: Linker) -> Handler:
    ops = operands(ins, LoopCountOps)
    n = ops.times
    body = ops.body
    exit_ = ins.next

    def loop_enter(st: ExecState, tok: Token, max_steps: int) -> int:
        if n == 0:
            tok.pc = exit_
            return 1
        tok.frame = LoopFrame(st.new_id(), tok.frame, 0)
        tok.pc = body
        if st.full:
            st.emit(EventKind.LOOP_ITERATION, ins.path, tok, {"iteration": 0})
        return 1

    return loop_enter


def _loop_next(pc: int, ins: Instr, lk: Linker) -> Handler:
    ops = operands(ins, LoopCountOps)
    n = ops.times
    body = ops.body
    exit_ = ins.next
    path = ins.path

    def loop_next(st: ExecState, tok: Token, max_steps: int) -> int:
        f = tok.frame
        assert isinstance(f, LoopFrame)
        f.count += 1
        if f.count < n:
            tok.pc = body
            if st.full:
                st.emit(EventKind.LOOP_ITERATION, path, tok, {"iteration": f.count})
        else:
            tok.frame = f.parent
            tok.pc = exit_
            if st.full:
                st.emit(EventKind.LOOP_EXITED, path, tok, {"iterations": f.count})
        return 1

    return loop_next


def _loop_test(pc: int, ins: Instr, lk: Linker) -> Handler:
    """``while_`` (continue while true) and ``until`` (stop when true) tests."""
    ops = operands(ins, LoopTestOps)
    cond = ops.cond
    body = ops.body
    stop_when = ops.stop_when
    exit_ = ins.next
    path = ins.path

    def loop_test(st: ExecState, tok: Token, max_steps: int) -> int:
        try:
            stop = bool(cond(tok.scope.view)) is stop_when
        except Exception as exc:
            st.fail(tok, exc, where=path)
            return 1
        if stop:
            tok.pc = exit_
            if st.full:
                st.emit(EventKind.LOOP_EXITED, path, tok)
        else:
            tok.pc = body
            if st.full:
                st.emit(EventKind.LOOP_ITERATION, path, tok)
        return 1

    return loop_test


def _defer(pc: int, ins: Instr, lk: Linker) -> Handler:
    ops = operands(ins, DeferOps)
    entries = ops.entries
    path = ins.path
    # (alternative, signal name) and (alternative, seconds), in order
    signals = tuple((a, str(t.key)) for a, t in enumerate(ops.alts) if t.kind == "signal")
    arms = tuple((a, t.kind == "signal", t.key) for a, t in enumerate(ops.alts))

    def defer(st: ExecState, tok: Token, max_steps: int) -> int:
        # a persistent signal already queued wins at once (first alternative in order)
        for a, name in signals:
            ok, payload = st.take_signal(name)
            if ok:
                st.emit(EventKind.SIGNAL_CONSUMED, name, tok, {"payload": payload})
                if st.tracing:
                    st.emit(EventKind.CHOICE, path, tok, {"by": "signal", "picked": a})
                tok.pc = entries[a]
                return 1
        regs: list[DeferArm] = []
        for a, is_signal, key in arms:
            if is_signal:
                name = str(key)
                st.add_waiter(name, tok, a)
                regs.append(DeferArm(WaitKind.SIGNAL, name, a))
            else:
                tid = st.new_id()
                if st.timers is EMPTY:
                    st.timers = {}
                st.timers[tid] = (tok, a)
                st.outbox.append(StartTimer(tid, float(key)))
                regs.append(DeferArm(WaitKind.TIMER, tid, a))
                if st.full:
                    st.emit(EventKind.TIMER_STARTED, path, tok, {"tid": tid, "seconds": key})
        st.block(tok, DeferWait.of(tuple(regs)))
        return 1

    return defer


def _wait_signal(pc: int, ins: Instr, lk: Linker) -> Handler:
    ops = operands(ins, WaitSignalOps)
    name = ops.name
    store_as = ops.store_as
    nxt = ins.next
    wait = SignalWait.of(name)

    def wait_signal(st: ExecState, tok: Token, max_steps: int) -> int:
        ok, payload = st.take_signal(name)
        if ok:
            if store_as is not None:
                scope = tok.scope
                scope.snap = None
                scope.data[store_as] = payload
            st.emit(EventKind.SIGNAL_CONSUMED, name, tok, {"payload": payload})
            tok.pc = nxt
            return 1
        st.add_waiter(name, tok, 0)
        st.block(tok, wait)
        if st.full:
            st.emit(EventKind.SIGNAL_WAITING, name, tok)
        return 1

    return wait_signal


def _region_enter(pc: int, ins: Instr, lk: Linker) -> Handler:
    ops = operands(ins, RegionEnterOps)
    sid = ops.scope_id
    body = ops.body
    cancel_pc = ops.cancel_pc

    def region_enter(st: ExecState, tok: Token, max_steps: int) -> int:
        parent = tok.region
        inst = RegionInst(st.new_id(), sid, parent, tok.frame, tok.scope, cancel_pc)
        if parent is not None:
            parent.children[inst] = None
            del parent.tokens[tok]
        inst.tokens[tok] = None
        tok.region = inst
        if st.regions is EMPTY:
            st.regions = {}
        st.regions.setdefault(sid, {})[inst] = None
        tok.pc = body
        if st.full:
            st.emit(EventKind.REGION_ENTERED, sid, tok, {"instance": inst.id})
        return 1

    return region_enter


def _region_exit(pc: int, ins: Instr, lk: Linker) -> Handler:
    operands(ins, NoOps)
    nxt = ins.next

    def region_exit(st: ExecState, tok: Token, max_steps: int) -> int:
        inst = tok.region
        assert inst is not None
        del inst.tokens[tok]
        parent = inst.parent
        tok.region = parent
        if parent is not None:
            parent.tokens[tok] = None
        if inst.tokens or inst.children:
            inst.exited = True  # late (absorbed) tokens still run inside
        else:
            st.close_region(inst)
        if st.full:
            st.emit(EventKind.REGION_EXITED, inst.scope_id, tok, {"instance": inst.id})
        tok.pc = nxt
        return 1

    return region_exit


def _terminate(pc: int, ins: Instr, lk: Linker) -> Handler:
    operands(ins, NoOps)
    path = ins.path

    def terminate(st: ExecState, tok: Token, max_steps: int) -> int:
        st.emit(EventKind.TERMINATED, path, tok, {"withdrawn": len(st.tokens) - 1})
        st.withdraw_all()
        return 1  # no token is left: run() finishes the case once the step is counted

    return terminate


def _end(pc: int, ins: Instr, lk: Linker) -> Handler:
    operands(ins, NoOps)

    def end(st: ExecState, tok: Token, max_steps: int) -> int:
        st.kill(tok)
        return 1

    return end


OPS: Mapping[str, Factory] = {
    "task": _task,
    "effect": _effect,
    "step": _step,
    "fork": _fork,
    "join": _join,
    "xor": _xor,
    "loop_enter": _loop_enter,
    "loop_next": _loop_next,
    "loop_test": _loop_test,
    "defer": _defer,
    "wait_signal": _wait_signal,
    "region_enter": _region_enter,
    "region_exit": _region_exit,
    "mi_spawn": mi_spawn,
    "mi_done": mi_done,
    "mi_signal": mi_signal,
    "call_enter": call_enter,
    "call_exit": call_exit,
    "terminate": _terminate,
    "halt": halt,
    "end": _end,
}
"""The handler factory of every opcode (the keys of ``compiler.program.OPERANDS``)."""

_LINKED: weakref.WeakKeyDictionary[Program, tuple[Handler, ...]] = weakref.WeakKeyDictionary()


def link(program: Program) -> tuple[Handler, ...]:
    """The handlers of ``program``'s instructions (``code[pc]``), linked once per Program.

    Raises:
        EngineError: an instruction names an opcode without a factory (a
            compiler bug).
    """
    code = _LINKED.get(program)
    if code is None:
        lk = Linker(program)
        handlers: list[Handler] = []
        for pc, ins in enumerate(program.instrs):
            factory = OPS.get(ins.op)
            if factory is None:
                raise EngineError(f"unknown opcode {ins.op!r} at pc {pc}")
            handlers.append(factory(pc, ins, lk))
        code = _LINKED[program] = tuple(handlers)
    return code
