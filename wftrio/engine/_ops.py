"""Opcode semantics: one handler factory per opcode.

``link`` calls ``OPS[op](pc, instr, tables)`` once per instruction; the
factory returns a closure with the instruction's constants baked in.  A
handler is called as ``handler(state, token, budget)`` for the token at
``pc``, performs one step (a pure-task handler performs up to ``budget``
consecutive pure tasks: the fused straight-line run) and returns the number
of steps taken.  Handlers move the token (``tok.pc``), block it, kill it or
spawn new ones; nothing else dispatches on node kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from wftrio.effects import Effect
from wftrio.engine import _effects
from wftrio.engine._objects import EMPTY, JoinInst, LoopFrame, MIInst, RegionInst, Scope
from wftrio.engine._state import StartTimer, scope_of
from wftrio.errors import TaskError
from wftrio.trace import TraceEvent

new_event = tuple.__new__

if TYPE_CHECKING:
    from wftrio.engine._objects import Token
    from wftrio.engine._state import ExecState
    from wftrio.engine.program import Handler, Instr

Factory = Callable[[int, "Instr", dict[str, Any]], "Handler"]


def _not_mapping(name: str, path: str, r: object) -> TaskError:
    return TaskError(
        f"task {name!r} at {path} returned {type(r).__name__} ({r!r:.80}), expected a "
        "Mapping of ctx updates or None"
    )


_NO_UPDATES: Mapping[str, Any] = MappingProxyType({})


def _allows(t: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Region id -> ``allow=`` set for the program being linked (computed once per link)."""
    allows: dict[str, frozenset[str]] | None = t.get("region_allows")
    if allows is None:
        allows = t["region_allows"] = _effects.region_allows(t["instrs"])
    return allows


def _task(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    fns: list[Any] = t["task_fn"]
    names: list[str] = t["task_name"]
    instrs: list[Instr] = t["instrs"]
    end: int = t["run_end"][pc]
    last_next = instrs[end - 1].next
    allows = _allows(t)

    def task(st: ExecState, tok: Token, budget: int) -> int:
        scope = tok.scope
        view = scope.view
        data = scope.data
        stop = end if end - pc <= budget else pc + budget
        i = pc
        if st.full:
            return traced(st, tok, stop)
        try:
            while i < stop:
                r = fns[i](view)
                if r is not None:
                    if type(r) is not dict:
                        if not isinstance(r, Mapping):
                            if isinstance(r, Effect):
                                break
                            raise _not_mapping(names[i], instrs[i].path, r)
                        r = dict(r)
                    data.update(r)
                i += 1
        except Exception as exc:
            tok.pc = i
            st.fail(tok, exc, names[i])
            return i - pc + 1
        if i < stop:  # task i returned an Effect spec: request it
            tok.pc = i
            _effects.request(st, tok, instrs[i], st.steps + i - pc, r, allows)
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
        record = st._record
        cid = st.case_id
        tid = tok.id
        rid = scope_of(tok)
        # one time per fused run: no checkpoint happens inside it, so to the
        # rest of the program every step of the run happens at the same moment
        t = st.now()
        seq = st.seq
        i = pc
        try:
            while i < stop:
                r = fns[i](view)
                if r is not None:
                    if type(r) is not dict:
                        if not isinstance(r, Mapping):
                            if isinstance(r, Effect):
                                break
                            raise _not_mapping(names[i], instrs[i].path, r)
                        r = dict(r)
                    data.update(r)
                    upd: Mapping[str, Any] = r
                else:
                    upd = _NO_UPDATES
                # the event's data is the updates mapping itself (no copy):
                # what the task returned, exactly as merged into ctx
                record(
                    new_event(TraceEvent, (seq, cid, "task_completed", names[i], tid, rid, t, upd))
                )
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
            _effects.request(st, tok, instrs[i], st.steps + i - pc, r, allows)
            return i - pc + 1
        tok.pc = last_next if i == end else i
        return i - pc

    return task


def _effect(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    """An async task function: request its effect (with the task's policies)."""
    allows = _allows(t)

    def effect(st: ExecState, tok: Token, budget: int) -> int:
        _effects.request(st, tok, ins, st.steps, None, allows)
        return 1

    return effect


def _step(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    """A sync task with options (timeout, retry, on_error, cost, kind): one unfused step.

    Its ``fn`` may return updates (merged; with ``kind=`` the step is
    audited: it leaves a receipt) or an :class:`~wftrio.effects.Effect`
    (requested with the task's policies).  A failure runs ``on_error``.
    """
    name: str = ins.args["name"]
    fn = ins.args["fn"]
    kind: str | None = ins.args.get("kind")
    on_error: int = ins.args.get("on_error", -1)
    nxt = ins.next
    path = ins.path
    allows = _allows(t)

    def step(st: ExecState, tok: Token, budget: int) -> int:
        view = tok.scope.view
        try:
            r = fn(view)
            if r is not None and not isinstance(r, Mapping | Effect):
                raise _not_mapping(name, path, r)
        except Exception as exc:
            _effects.fail_task(st, tok, exc, name, on_error, woken=False)
            return 1
        if isinstance(r, Effect):
            _effects.request(st, tok, ins, st.steps, r, allows)
            return 1
        updates = dict(r) if r is not None else {}
        if kind is not None:  # the receipt hashes the ctx the step saw
            _effects.audit_step(st, tok, name, kind, st.steps, view, updates)
        tok.scope.data.update(updates)
        if st.full:
            st._emit("task_completed", name, tok, updates)
        tok.pc = nxt
        return 1

    return step


def _fork(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    entries: tuple[int, ...] = ins.args["entries"]
    conds: tuple[Any, ...] = ins.args["conds"]
    fixed_n: int | None = ins.args["n"]
    cancel_rest: bool = ins.args["cancel_rest"]
    join_pc: int = ins.args["join_pc"]
    cont: int = t["instrs"][join_pc].next
    guarded = any(c is not None for c in conds)
    path = ins.path
    everyone = tuple(range(len(entries)))

    def fork(st: ExecState, tok: Token, budget: int) -> int:
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
        kids.reverse()
        st.ready.extend(kids)
        if st.full:
            st._emit("split", path, tok, {"branches": list(started), "needed": needed})
        return 1

    return fork


def _join(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    path = ins.path

    def join(st: ExecState, tok: Token, budget: int) -> int:
        inst = tok.frame
        assert isinstance(inst, JoinInst)
        inst.arrived += 1
        if inst.fired or inst.arrived < inst.needed:
            st.kill(tok)
            if st.full:
                kind = "join_absorbed" if inst.fired else "join_arrived"
                st._emit(kind, path, tok, {"arrived": inst.arrived})
            return 1
        inst.fired = True
        if st.full:
            st._emit("join_fired", path, tok, {"arrived": inst.arrived, "of": inst.started})
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


def _xor(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    entries: tuple[int, ...] = ins.args["entries"]
    conds: tuple[Any, ...] = ins.args["conds"]
    guarded = [(i, c) for i, c in enumerate(conds) if c is not None]
    defaults = [i for i, c in enumerate(conds) if c is None]
    path = ins.path

    def xor(st: ExecState, tok: Token, budget: int) -> int:
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
            st._emit("choice", path, tok, {"by": how, "picked": picked})
        tok.pc = entries[picked]
        return 1

    return xor


def _loop_enter(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    n: int = ins.args["times"]
    body: int = ins.args["body"]
    exit_ = ins.next

    def loop_enter(st: ExecState, tok: Token, budget: int) -> int:
        if n == 0:
            tok.pc = exit_
            return 1
        tok.frame = LoopFrame(st.new_id(), tok.frame, 0)
        tok.pc = body
        if st.full:
            st._emit("loop_iteration", ins.path, tok, {"iteration": 0})
        return 1

    return loop_enter


def _loop_next(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    n: int = ins.args["times"]
    body: int = ins.args["body"]
    exit_ = ins.next
    path = ins.path

    def loop_next(st: ExecState, tok: Token, budget: int) -> int:
        f = tok.frame
        assert isinstance(f, LoopFrame)
        f.count += 1
        if f.count < n:
            tok.pc = body
            if st.full:
                st._emit("loop_iteration", path, tok, {"iteration": f.count})
        else:
            tok.frame = f.parent
            tok.pc = exit_
            if st.full:
                st._emit("loop_exited", path, tok, {"iterations": f.count})
        return 1

    return loop_next


def _loop_test(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    """``while_`` (continue while true) and ``until`` (stop when true) tests."""
    cond = ins.args["cond"]
    body: int = ins.args["body"]
    stop_when: bool = ins.args["stop_when"]
    exit_ = ins.next
    path = ins.path

    def loop_test(st: ExecState, tok: Token, budget: int) -> int:
        try:
            stop = bool(cond(tok.scope.view)) is stop_when
        except Exception as exc:
            st.fail(tok, exc, where=path)
            return 1
        if stop:
            tok.pc = exit_
            if st.full:
                st._emit("loop_exited", path, tok)
        else:
            tok.pc = body
            if st.full:
                st._emit("loop_iteration", path, tok)
        return 1

    return loop_test


def _defer(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    alts: tuple[tuple[str, Any], ...] = ins.args["alts"]
    entries: tuple[int, ...] = ins.args["entries"]
    path = ins.path

    def defer(st: ExecState, tok: Token, budget: int) -> int:
        # a persistent signal already queued wins at once (first alternative in order)
        for a, (kind, key) in enumerate(alts):
            if kind == "signal":
                ok, payload = st.take_signal(key)
                if ok:
                    st._emit("signal_consumed", key, tok, {"payload": payload})
                    if st.tracing:
                        st._emit("choice", path, tok, {"by": "signal", "picked": a})
                    tok.pc = entries[a]
                    return 1
        regs: list[tuple[str, Any, int]] = []
        for a, (kind, key) in enumerate(alts):
            if kind == "signal":
                st.add_waiter(key, tok, a)
                regs.append(("signal", key, a))
            else:
                tid = st.new_id()
                if st.timers is EMPTY:
                    st.timers = {}
                st.timers[tid] = (tok, a)
                st.outbox.append(StartTimer(tid, key))
                regs.append(("timer", tid, a))
                if st.full:
                    st._emit("timer_started", path, tok, {"tid": tid, "seconds": key})
        st.block(tok, ("defer", tuple(regs)))
        return 1

    return defer


def _wait_signal(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    name: str = ins.args["name"]
    store_as: str | None = ins.args["store_as"]
    nxt = ins.next

    def wait_signal(st: ExecState, tok: Token, budget: int) -> int:
        ok, payload = st.take_signal(name)
        if ok:
            if store_as is not None:
                tok.scope.data[store_as] = payload
            st._emit("signal_consumed", name, tok, {"payload": payload})
            tok.pc = nxt
            return 1
        st.add_waiter(name, tok, 0)
        st.block(tok, ("signal", name))
        if st.full:
            st._emit("signal_waiting", name, tok)
        return 1

    return wait_signal


def _region_enter(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    sid: str = ins.args["scope_id"]
    body: int = ins.args["body"]
    cancel_pc: int = ins.args["cancel_pc"]

    def region_enter(st: ExecState, tok: Token, budget: int) -> int:
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
            st._emit("region_entered", sid, tok, {"instance": inst.id})
        return 1

    return region_enter


def _region_exit(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    nxt = ins.next

    def region_exit(st: ExecState, tok: Token, budget: int) -> int:
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
            st._close_region(inst)
        if st.full:
            st._emit("region_exited", inst.scope_id, tok, {"instance": inst.id})
        tok.pc = nxt
        return 1

    return region_exit


def _mi_spawn(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    body: int = ins.args["body"]
    count = ins.args["count"]
    items = ins.args["items"]
    join = ins.args["join"]
    collect: str | None = ins.args["collect"]
    item_key: str = ins.args["item_key"]
    cont = ins.next
    path = ins.path

    def mi_spawn(st: ExecState, tok: Token, budget: int) -> int:
        view = tok.scope.view
        try:
            if items is not None:
                its = list(items(view)) if callable(items) else list(items)
            else:
                c = count(view) if callable(count) else count
                if isinstance(c, bool) or not isinstance(c, int) or c < 0:
                    raise TaskError(f"mi at {path}: count returned {c!r}, expected an int >= 0")
                its = list(range(c))
            n = len(its)
            needed = n if join == "all" else None if join == "none" else join
            if needed is not None and needed > n:
                raise TaskError(f"mi at {path}: join={needed} but only {n} instances started")
        except Exception as exc:
            st.fail(tok, exc, where=path)
            return 1
        scope = tok.scope
        inst = MIInst(st.new_id(), tok.frame, tok.region, scope, n, needed, cont)
        kids = []
        for i, item in enumerate(its):
            sc = Scope(st.new_id(), {}, scope, {item_key: item, "index": i}, i)
            kids.append(st.spawn(body, inst, tok.region, sc))
        if needed is None or needed == 0:
            inst.fired = True
            if collect is not None and n == 0:
                scope.data[collect] = []
            st.ready.append(st.spawn(cont, tok.frame, tok.region, scope))
        st.kill(tok)
        kids.reverse()
        st.ready.extend(kids)
        if st.full:
            st._emit("mi_spawned", path, tok, {"instances": n, "needed": needed})
        return 1

    return mi_spawn


def _mi_done(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    collect: str | None = ins.args["collect"]
    path = ins.path

    def mi_done(st: ExecState, tok: Token, budget: int) -> int:
        inst = tok.frame
        assert isinstance(inst, MIInst)
        sc = tok.scope
        inst.results[sc.index] = dict(sc.data)
        inst.done += 1
        if st.full:
            st._emit("mi_instance_done", path, tok, {"index": sc.index})
        if inst.fired:
            st.kill(tok)
            if inst.needed is None and inst.done == inst.n and collect is not None:
                inst.scope.data[collect] = [inst.results[i] for i in sorted(inst.results)]
            return 1
        assert inst.needed is not None
        if inst.done < inst.needed:
            st.kill(tok)
            return 1
        inst.fired = True
        if collect is not None:
            inst.scope.data[collect] = [inst.results[i] for i in sorted(inst.results)]
        if st.full:
            st._emit("mi_joined", path, tok, {"done": inst.done, "of": inst.n})
        # spawned before the instance's token dies (see join)
        cont = st.spawn(inst.cont, inst.parent, inst.region, inst.scope)
        st.kill(tok)
        st.current = cont
        return 1

    return mi_done


def _terminate(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    def terminate(st: ExecState, tok: Token, budget: int) -> int:
        st._emit("terminated", ins.path, tok, {"withdrawn": len(st.tokens) - 1})
        st._withdraw_all()
        return 1  # no token is left: run() finishes the case once the step is counted

    return terminate


def _end(pc: int, ins: Instr, t: dict[str, Any]) -> Handler:
    def end(st: ExecState, tok: Token, budget: int) -> int:
        st.kill(tok)
        return 1

    return end


OPS: dict[str, Factory] = {
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
    "mi_spawn": _mi_spawn,
    "mi_done": _mi_done,
    "terminate": _terminate,
    "end": _end,
}
