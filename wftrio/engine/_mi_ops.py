"""Opcode semantics of multiple instances: ``mi_spawn``, ``mi_done``, ``mi_signal``.

An ``mi`` activation is an :class:`~wftrio.engine.objects.MIInst` frame.
Plain activations (WCP-12..14, 34) only count finishing instances.  The
options of WCP-15/27/35 put the instances in an implicit region of the
activation (``MIInst.cancel_region``) so that they can be withdrawn
together, and give it *watchers*: one token per signal the activation
watches, each in a region of its own inside that one, waiting at a
compiled ``wait_signal`` followed by an ``mi_signal`` that adds an
instance (``more_on``), ends the adding (``close_on``) or completes the
activity (``complete_on``).  When every instance is done and no more can
come, the activity is over and its implicit region (the watchers) is
withdrawn.  docs/SEMANTICS.md ("Multiple instances") states the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from wftrio.algebra.checks import is_int
from wftrio.compiler.program import MI_PAYLOAD, Instr, MIDoneOps, MISignalOps, MISpawnOps
from wftrio.engine.frozen import FrozenDict, FrozenList, freeze
from wftrio.engine.objects import CtxLayer, MIInst, RegionInst
from wftrio.engine.protocol import EventKind
from wftrio.errors import EngineError, TaskError

if TYPE_CHECKING:
    from wftrio.engine._ops import Handler, Linker
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = ["SPAWN_CHUNK", "mi_done", "mi_signal", "mi_spawn"]

SPAWN_CHUNK = 64
"""Instances an ``mi`` spawns per reduction step: a huge ``mi`` spawns across
steps (and so across the runtime's bursts), each step doing bounded work.  An
``mi`` of at most this many instances spawns them all in its first step."""

ResultsCond = Callable[[list[Any]], object]


@attrs.frozen
class _Spec:
    """The constants of one ``mi`` its handlers share (read from its ``mi_spawn``)."""

    path: str
    body: int
    item_key: str
    collect: str | None
    until: ResultsCond | None
    when: ResultsCond | None
    """A callable join (WCP-36)."""
    all_: bool
    """``"all"`` or a callable join: waits for every instance once no more can
    come, so its threshold follows the count."""
    rest: bool
    isolated: bool
    """The instances run in an implicit region (cancel_rest, until, watchers)."""
    more_pcs: tuple[int, ...]
    """The pcs a ``more`` watcher stands at: its wait and its mi_signal."""
    more_on: str | None
    close_on: str | None


def _spec(instrs: tuple[Instr, ...], ins: Instr) -> _Spec:
    ops = ins.ops
    if not isinstance(ops, MISpawnOps):
        raise EngineError(f"{ins.op} at {ins.path}: expected MISpawnOps, got {ops!r}")
    join = ops.join
    when = join if callable(join) else None
    more = [w.entry for w in ops.watch if w.kind == "more"]
    close = [w.signal for w in ops.watch if w.kind == "close"]
    more_on = [w.signal for w in ops.watch if w.kind == "more"]
    return _Spec(
        path=ins.path,
        body=ops.body,
        item_key=ops.item_key,
        collect=ops.collect,
        until=ops.until,
        when=when,
        all_=join == "all" or when is not None,
        rest=ops.cancel_rest,
        isolated=ops.cancel_rest or ops.until is not None or bool(ops.watch),
        more_pcs=(more[0], instrs[more[0]].next) if more else (),
        more_on=more_on[0] if more_on else None,
        close_on=close[0] if close else None,
    )


def _spec_at(lk: Linker, spawn: int, ins: Instr) -> _Spec:
    instrs = lk.program.instrs
    if not 0 <= spawn < len(instrs) or instrs[spawn].op != "mi_spawn":
        raise EngineError(f"{ins.op} at {ins.path}: spawn={spawn} is no mi_spawn")
    return _spec(instrs, instrs[spawn])


def _collected(results: Mapping[int, Mapping[str, Any]]) -> FrozenList:
    """An mi's ``collect`` value: the instances' results in item order, frozen."""
    return FrozenList([freeze(results[i]) for i in sorted(results)])


def _write_collect(inst: MIInst, collect: str | None) -> None:
    if collect is not None:
        inst.scope.snap = None
        inst.scope.data[collect] = _collected(inst.results)


def _results(inst: MIInst) -> list[Any]:
    """What ``until`` and a callable join are given: finished results in item order."""
    res = inst.results
    return [res[i] for i in sorted(res)]


def _spawn_instance(
    st: ExecState, inst: MIInst, spec: _Spec, tok: Token, i: int, item: Any
) -> Token:
    layer = CtxLayer(st.new_id(), {}, inst.scope, {spec.item_key: freeze(item), "index": i}, i)
    region = inst.cancel_region if inst.cancel_region is not None else tok.region
    return st.spawn(spec.body, inst, region, layer)


# ---------------------------------------------------------------------------
# the activation's life: firing, completing, ending


def _fire(st: ExecState, inst: MIInst, tok: Token, spec: _Spec, by: str) -> Token:
    """The join fires: collect, record, and spawn the continuation (returned, not placed)."""
    inst.fired = True
    if inst.needed is not None and inst.needed > inst.done:
        inst.needed = inst.done  # early: a condition held, or the activity completed
    _write_collect(inst, spec.collect)
    if st.full:
        data: dict[str, Any] = {"done": inst.done, "of": inst.n}
        if by != "count":
            data["by"] = by
        if spec.rest:
            data["withdrawn"] = inst.n - inst.done
        st.emit(EventKind.MI_JOINED, spec.path, tok, data)
    # spawned before the arriving token dies (see join)
    return st.spawn(inst.cont, inst.parent, inst.region, inst.scope)


def _withdraw_rest(st: ExecState, inst: MIInst) -> None:
    creg = inst.cancel_region
    if creg is not None:
        st.withdraw_region(creg)
        inst.cancel_region = None


def _over(st: ExecState, inst: MIInst, spec: _Spec) -> None:
    """Every instance done and no more can come: collect (join="none"), drop the watchers."""
    if inst.open or inst.items is not None or inst.done < inst.n:
        return
    if inst.needed is None:
        _write_collect(inst, spec.collect)
    _withdraw_rest(st, inst)


def _add(st: ExecState, inst: MIInst, spec: _Spec, tok: Token, item: Any) -> None:
    """Add an instance with ``item`` (WCP-15); ``tok`` is the watcher that got it."""
    i = inst.n
    inst.n += 1
    if spec.all_ and not inst.fired:
        assert inst.needed is not None
        inst.needed += 1
    if inst.items is not None:
        inst.items.append(item)  # the spawner, still at work, spawns it in order
        new = None
    else:
        new = _spawn_instance(st, inst, spec, tok, i, item)
        st.ready.append(new)
        inst.spawned += 1
    if st.full:
        data: dict[str, Any] = {"index": i}
        if new is not None:  # else the spawner's mi_chunk names it
            data["tokens"] = [new.id]
        st.emit(EventKind.MI_INSTANCE_ADDED, spec.path, tok, data)


def _close_adding(st: ExecState, inst: MIInst, spec: _Spec, tok: Token) -> None:
    """End the adding: what the ``more`` watcher holds or finds queued is added first.

    So every ``more_on`` signal received before the close is processed adds its
    instance, whatever order the watchers ran in; then the watcher is withdrawn.
    """
    inst.open = False
    creg = inst.cancel_region
    assert creg is not None
    assert spec.more_on is not None
    watcher = None
    for r in creg.children:
        for t in r.tokens:
            if t.frame is inst and t.pc in spec.more_pcs:
                watcher = t
    if watcher is not None and watcher.pc == spec.more_pcs[1]:
        _add(st, inst, spec, watcher, watcher.scope.data.pop(MI_PAYLOAD, None))
    while True:
        ok, item = st.take_signal(spec.more_on)
        if not ok:
            break
        st.emit(EventKind.SIGNAL_CONSUMED, spec.more_on, tok, {"payload": item})
        _add(st, inst, spec, tok, item)
    if watcher is not None and watcher.region is not None:
        st.withdraw_region(watcher.region)


def _complete(st: ExecState, inst: MIInst, tok: Token, spec: _Spec, by: str) -> int:
    """Complete the activity (WCP-27): continue if not yet, withdraw every instance left."""
    withdrawn = inst.n - inst.done
    inst.open = False
    inst.completed = True
    cont = None
    if not inst.fired:
        cont = _fire(st, inst, tok, spec, by)
    elif inst.needed is None:
        _write_collect(inst, spec.collect)
    st.emit(
        EventKind.MI_COMPLETED,
        spec.path,
        tok,
        {"by": by, "done": inst.done, "withdrawn": withdrawn},
    )
    st.kill(tok)
    _withdraw_rest(st, inst)  # instances not yet spawned never are (see spawn_some)
    if cont is not None:
        st.current = cont
    return 1


# ---------------------------------------------------------------------------
# handler factories


def mi_spawn(pc: int, ins: Instr, lk: Linker) -> Handler:
    """``mi_spawn``: evaluate the items, create the activation, spawn instances and watchers."""
    ops = ins.ops
    if not isinstance(ops, MISpawnOps):
        raise EngineError(f"{ins.op} at {ins.path}: expected MISpawnOps, got {ops!r}")
    spec = _spec(lk.program.instrs, ins)
    count = ops.count
    items = ops.items
    join = ops.join
    collect = ops.collect
    watch = ops.watch
    open_ = bool(spec.more_pcs)
    cont = ins.next
    path = ins.path

    def mi_spawn(st: ExecState, tok: Token, max_steps: int) -> int:
        f = tok.frame
        if type(f) is MIInst and f.items is not None and f.cont == cont:
            return spawn_some(st, tok, f)  # this mi's spawner, resumed
        view = tok.scope.view
        try:
            if items is not None:
                its = list(items(view)) if callable(items) else list(items)
            else:
                c = count(view) if callable(count) else count
                if not is_int(c) or c < 0:
                    raise TaskError(f"mi at {path}: count returned {c!r}, expected an int >= 0")
                its = list(range(c))
            n = len(its)
            needed = n if spec.all_ else None if join == "none" else join
            assert needed is None or is_int(needed)
            if needed is not None and needed > n and not open_:
                raise TaskError(f"mi at {path}: join={needed} but only {n} instances started")
        except Exception as exc:
            st.fail(tok, exc, where=path)
            return 1
        scope = tok.scope
        inst = MIInst(st.new_id(), tok.frame, tok.region, scope, n, needed, cont)
        inst.open = open_
        if spec.isolated and (n or open_):
            # the instances (and watchers) run in an implicit region, withdrawn together
            creg = RegionInst(st.new_id(), None, tok.region, tok.frame, scope, -1)
            if tok.region is not None:
                tok.region.children[creg] = None
            inst.cancel_region = creg
        if needed is None or (needed == 0 and not open_):
            inst.fired = True
            if collect is not None and n == 0:
                scope.snap = None
                scope.data[collect] = FrozenList()
            nxt = st.spawn(cont, tok.frame, tok.region, scope)
            st.ready.append(nxt)
        else:
            nxt = None
        data: dict[str, Any] | None = None
        if st.full:  # recorded once the first chunk's instances exist (spawn_some)
            data = {"instances": n, "needed": needed}
            if nxt is not None:
                data["next"] = nxt.id
        outer = inst.cancel_region
        if outer is not None:
            # reversed: the ready stack runs the first watcher (more_on) first
            for w in reversed(watch):
                wreg = RegionInst(st.new_id(), None, outer, tok.frame, scope, -1)
                outer.children[wreg] = None
                layer = CtxLayer(st.new_id(), {}, scope)
                st.ready.append(st.spawn(w.entry, inst, wreg, layer))
        if n == 0:
            if data is not None:
                data["tokens"] = []
                st.emit(EventKind.MI_SPAWNED, path, tok, data)
            st.kill(tok)
            return 1
        inst.items = its
        inst.spawned = 0
        # the spawning token becomes this mi's spawner (frame: the activation)
        tok.frame = inst
        return spawn_some(st, tok, inst, data)

    def spawn_some(
        st: ExecState, tok: Token, inst: MIInst, data: dict[str, Any] | None = None
    ) -> int:
        """Spawn the next :data:`SPAWN_CHUNK` instances in one step (bounded work per step).

        The chunk does not depend on ``max_steps``: where a caller splits a run
        into bursts must not change the case (a replay runs other bursts).
        The instances' tokens are recorded (level ``"full"``): the first
        chunk's in ``mi_spawned`` (``data``, from :func:`mi_spawn`), each
        later one's in an ``mi_chunk`` event, so a reader of the trace knows
        which token is which instance.
        """
        its = inst.items
        assert its is not None
        first = inst.spawned
        if inst.completed or (spec.rest and inst.fired):
            # the activity completed, or the cancelling join fired: the rest never start
            inst.items = None
            inst.n = first
            st.kill(tok)
            return 1
        last = min(inst.n, first + SPAWN_CHUNK)
        kids = [_spawn_instance(st, inst, spec, tok, i, its[i]) for i in range(first, last)]
        if st.full:
            tokens = [k.id for k in kids]
            if data is not None:
                data["tokens"] = tokens
                st.emit(EventKind.MI_SPAWNED, path, tok, data)
            else:
                st.emit(EventKind.MI_CHUNK, path, tok, {"first": first, "tokens": tokens})
        inst.spawned = last
        if last == inst.n:
            inst.items = None
            st.kill(tok)
        else:
            # the spawner resumes after this chunk's instances (pushed below them)
            if st.current is tok:
                st.current = None
            st.ready.append(tok)
        kids.reverse()
        st.ready.extend(kids)
        return 1

    return mi_spawn


def mi_done(pc: int, ins: Instr, lk: Linker) -> Handler:
    """``mi_done``: an instance finished; the join may fire, the activity complete or end."""
    ops = ins.ops
    if not isinstance(ops, MIDoneOps):
        raise EngineError(f"{ins.op} at {ins.path}: expected MIDoneOps, got {ops!r}")
    collect = ops.collect
    path = ins.path
    spec = _spec_at(lk, ops.spawn, ins) if ops.spawn >= 0 else None

    def mi_done(st: ExecState, tok: Token, max_steps: int) -> int:
        inst = tok.frame
        assert isinstance(inst, MIInst)
        sc = tok.scope
        inst.results[sc.index] = FrozenDict(sc.data)  # its values are frozen already
        inst.done += 1
        if st.full:
            st.emit(EventKind.MI_INSTANCE_DONE, path, tok, {"index": sc.index})
        if spec is not None:
            return dynamic(st, tok, inst, spec)
        if inst.fired:
            st.kill(tok)
            if inst.needed is None and inst.done == inst.n and collect is not None:
                _write_collect(inst, collect)
            return 1
        assert inst.needed is not None
        if inst.done < inst.needed:
            st.kill(tok)
            return 1
        inst.fired = True
        _write_collect(inst, collect)
        if st.full:
            st.emit(EventKind.MI_JOINED, path, tok, {"done": inst.done, "of": inst.n})
        # spawned before the instance's token dies (see join)
        cont = st.spawn(inst.cont, inst.parent, inst.region, inst.scope)
        st.kill(tok)
        st.current = cont
        return 1

    def dynamic(st: ExecState, tok: Token, inst: MIInst, spec: _Spec) -> int:
        by = None
        try:
            if spec.until is not None and spec.until(_results(inst)):
                return _complete(st, inst, tok, spec, "until")
            if not inst.fired and spec.when is not None and spec.when(_results(inst)):
                by = "condition"
        except Exception as exc:
            st.fail(tok, exc, where=path)
            return 1
        needed = inst.needed
        if (
            by is None
            and not inst.fired
            and needed is not None
            and inst.done >= needed
            and not (inst.open and spec.all_)
        ):
            by = "count"
        cont = None if by is None else _fire(st, inst, tok, spec, by)
        st.kill(tok)
        if cont is not None and spec.rest:
            # the cancelling partial join (WCP-35): the rest and the watchers go
            inst.open = False
            _withdraw_rest(st, inst)
        _over(st, inst, spec)
        if cont is not None:
            st.current = cont
        return 1

    return mi_done


def mi_signal(pc: int, ins: Instr, lk: Linker) -> Handler:
    """``mi_signal``: a watcher got its signal: add an instance, close, or complete."""
    ops = ins.ops
    if not isinstance(ops, MISignalOps):
        raise EngineError(f"{ins.op} at {ins.path}: expected MISignalOps, got {ops!r}")
    spec = _spec_at(lk, ops.spawn, ins)
    kind = ops.kind
    wait_pc = ins.next
    path = ins.path

    def more(st: ExecState, tok: Token, max_steps: int) -> int:
        inst = tok.frame
        assert isinstance(inst, MIInst)
        # the payload was stored in the watcher's own layer by its wait_signal
        _add(st, inst, spec, tok, tok.scope.data.pop(MI_PAYLOAD, None))
        tok.pc = wait_pc
        return 1

    def close(st: ExecState, tok: Token, max_steps: int) -> int:
        inst = tok.frame
        assert isinstance(inst, MIInst)
        _close_adding(st, inst, spec, tok)
        creg = inst.cancel_region
        if st.full:
            st.emit(EventKind.MI_CLOSED, path, tok, {"instances": inst.n})
        needed = inst.needed
        cont = None
        if not inst.fired and needed is not None:
            if needed > inst.n:
                err = TaskError(
                    f"mi at {path}: join={needed} but only {inst.n} instances were added "
                    f"before {spec.close_on!r}"
                )
                st.fail(tok, err, where=path)
                return 1
            if inst.done >= needed:
                cont = _fire(st, inst, tok, spec, "count")
        wreg = tok.region
        st.kill(tok)
        if wreg is not None and wreg is not creg:
            st.withdraw_region(wreg)
        _over(st, inst, spec)
        if cont is not None:
            st.current = cont
        return 1

    def complete(st: ExecState, tok: Token, max_steps: int) -> int:
        inst = tok.frame
        assert isinstance(inst, MIInst)
        return _complete(st, inst, tok, spec, "signal")

    return more if kind == "more" else close if kind == "close" else complete
