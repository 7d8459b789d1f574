"""Consistency checks a snapshot passes before anything is rebuilt from it.

A snapshot may come from a store, a file or another process: restore
treats it as untrusted input.  :func:`check_snapshot` runs on the records
alone, before any object is built, and raises
:class:`~wftrio.errors.SerializationError` naming the first offending field
(``paths`` holds it) for:

* text that is not valid Unicode and nesting deeper than
  :data:`~.jsonvalues.MAX_DEPTH`, anywhere in the snapshot (checked
  iteratively: never a ``RecursionError``);
* negative counters: ``steps``, ``seq``, ``next_id``, ``elapsed``, join /
  loop / mi counters, effect attempts, governance usage;
* a final status (done, failed, cancelled) with live tokens or anything
  pending;
* a token waiting on an effect, signal or timer without the matching
  pending entry, or a pending entry whose token does not wait on it;
* a token whose program counter is not an instruction that waits that way
  (an effect wait at a task, a signal wait at that signal's ``wait_signal``,
  a deferred choice at its ``defer`` with the same alternatives);
* a region activation of a region the program does not have (or with
  another cancellation continuation than the program's);
* a token whose control frames (join, loop, mi), regions or ctx layers are
  not those the program puts around its pc (:func:`shapes`): a token
  outside the region it is in, or without the join it will arrive at.

What the case may do comes from the Program and the options given to
restore (``allow=``, ``budget=``), never from the snapshot: see
:func:`governor_for`.
"""

from __future__ import annotations

import weakref
from typing import Any

import attrs

from wftrio.engine._call_ops import call_scopes
from wftrio.engine._state import FINAL
from wftrio.engine.program import Program
from wftrio.governance import Budget, Governor

from .jsonvalues import MAX_DEPTH, instr_arg, ser_error, valid_text
from .records import (
    DeferWaitSnap,
    EffectWaitSnap,
    JoinSnap,
    LoopSnap,
    MISnap,
    SignalWaitSnap,
    StateSnapshot,
)

__all__ = ["EFFECT_OPS", "Shape", "check_snapshot", "governor_for", "program_regions", "shapes"]

EFFECT_OPS = frozenset({"task", "effect", "step"})
"""Opcodes at which a token can wait for an effect (async tasks, sync tasks returning one)."""


def check_snapshot(program: Program, snap: StateSnapshot) -> None:
    """Check ``snap`` against itself and ``program`` (see the module docs).

    Raises:
        SerializationError: naming the offending field.
    """
    _check_text_and_depth(snap)
    _check_counters(snap)
    _check_final(snap)
    _check_waits(program, snap)
    _check_frames(program, snap)
    _check_regions(program, snap)
    _check_shapes(program, snap)


def _check_text_and_depth(snap: StateSnapshot) -> None:
    """Every str in the snapshot is valid Unicode; no data nests deeper than MAX_DEPTH."""
    stack: list[tuple[Any, str, int]] = [(snap, "", 0)]
    while stack:
        v, path, depth = stack.pop()
        if isinstance(v, str):
            if not valid_text(v):
                raise ser_error(f"{path or '$'}: text {v!r:.60} is not valid Unicode", path)
            continue
        if v is None or isinstance(v, int | float):
            continue
        if depth > MAX_DEPTH + 8:  # records add a few levels above the data
            raise ser_error(
                f"{path}: nested deeper than {MAX_DEPTH} lists and dicts; a snapshot holds "
                "no deeper data",
                path,
            )
        if attrs.has(type(v)):
            for a in attrs.fields(type(v)):
                stack.append((getattr(v, a.name), f"{path}.{a.name}" if path else a.name, depth))
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str) and not valid_text(k):
                    raise ser_error(f"{path}: key {k!r:.60} is not valid Unicode", path)
                stack.append((x, f"{path}[{k!r}]", depth + 1))
        elif isinstance(v, list | tuple):
            for i, x in enumerate(v):
                stack.append((x, f"{path}[{i}]", depth + 1))


def _nonneg(value: float, path: str) -> None:
    if not value >= 0:  # NaN too
        raise ser_error(f"{path}: {value!r} is negative; a counter is never negative", path)


def _check_counters(snap: StateSnapshot) -> None:
    for name in ("steps", "seq", "next_id", "elapsed", "epoch"):
        _nonneg(getattr(snap, name), name)
    for i, f in enumerate(snap.frames):
        p = f"frames[{i}]"
        if isinstance(f, JoinSnap):
            for name in ("needed", "started", "arrived"):
                _nonneg(getattr(f, name), f"{p}.{name}")
            if f.arrived > f.started or f.needed > f.started:
                raise ser_error(
                    f"{p}: arrived={f.arrived} needed={f.needed} exceed started={f.started}",
                    f"{p}.arrived",
                )
        elif isinstance(f, LoopSnap):
            _nonneg(f.count, f"{p}.count")
        elif isinstance(f, MISnap):
            for name in ("n", "done"):
                _nonneg(getattr(f, name), f"{p}.{name}")
            if f.needed is not None:
                _nonneg(f.needed, f"{p}.needed")
            if f.done > f.n or len(f.results) != f.done:
                raise ser_error(
                    f"{p}: done={f.done} with n={f.n} and {len(f.results)} results",
                    f"{p}.done",
                )
    for i, e in enumerate(snap.effects):
        _nonneg(e.attempts, f"effects[{i}].attempts")
        if not -1 <= e.epoch <= snap.epoch:
            raise ser_error(
                f"effects[{i}].epoch: {e.epoch!r} is outside -1..{snap.epoch} (the state's epoch)",
                f"effects[{i}].epoch",
            )
        _nonneg(e.cost, f"effects[{i}].cost")
    g = snap.governance
    if g is not None:
        for name in ("effects", "time", "cost"):
            _nonneg(getattr(g, name), f"governance.{name}")


def _check_final(snap: StateSnapshot) -> None:
    if snap.status not in FINAL:
        return
    live = {
        "tokens": snap.tokens,
        "ready": snap.ready,
        "current": () if snap.current is None else (snap.current,),
        "effects": snap.effects,
        "timers": snap.timers,
        "waiters": tuple(w for ws in snap.waiters.values() for w in ws),
        "region_index": tuple(r for rs in snap.region_index.values() for r in rs),
    }
    for name, items in live.items():
        if items:
            raise ser_error(
                f"{name}: the case is {snap.status} (final) but holds {len(items)} live "
                f"{name} entries; a finished case holds none",
                name,
            )


def _check_waits(program: Program, snap: StateSnapshot) -> None:
    instrs = program.instrs
    # what each waiting token's wait implies, after checking it against its pc
    want_effects: dict[int, tuple[int, str]] = {}  # eid -> (token, path)
    want_timers: dict[int, tuple[int, int, str]] = {}  # tid -> (token, alt, path)
    # (name, token) -> (alt, path): a token waits once per name, with the first
    # alternative naming it (ExecState.add_waiter)
    want_waiters: dict[tuple[str, int], tuple[int, str]] = {}
    for i, t in enumerate(snap.tokens):
        w = t.wait
        if w is None:
            continue
        p = f"tokens[{i}]"
        if not 0 <= t.pc < len(instrs):
            raise ser_error(
                f"{p}.pc: pc {t.pc} is outside the program (0..{len(instrs) - 1})", f"{p}.pc"
            )
        ins = instrs[t.pc]
        if isinstance(w, EffectWaitSnap):
            if ins.op not in EFFECT_OPS:
                raise _pc_mismatch(p, t.pc, ins.op, f"effect {w.eid}")
            want_effects[w.eid] = (t.id, f"{p}.wait")
        elif isinstance(w, SignalWaitSnap):
            if ins.op != "wait_signal" or instr_arg(ins, "name") != w.name:
                raise _pc_mismatch(p, t.pc, ins.op, f"signal {w.name!r}")
            want_waiters[(w.name, t.id)] = (0, f"{p}.wait")
        else:
            assert isinstance(w, DeferWaitSnap)
            alts = instr_arg(ins, "alts", ()) if ins.op == "defer" else ()
            if ins.op != "defer" or len(w.alts) != len(alts):
                raise _pc_mismatch(p, t.pc, ins.op, f"a deferred choice of {len(w.alts)}")
            for k, a in enumerate(w.alts):
                q = f"{p}.wait.alts[{k}]"
                if (a.signal is None) == (a.timer is None):
                    raise ser_error(f"{q}: give exactly one of signal and timer", q)
                if not 0 <= a.alt < len(alts):
                    raise ser_error(f"{q}.alt: alternative {a.alt} is not in the defer", q)
                kind, key = alts[a.alt]
                if a.signal is not None:
                    if kind != "signal" or key != a.signal:
                        raise _pc_mismatch(p, t.pc, ins.op, f"signal {a.signal!r} as {a.alt}")
                    want_waiters.setdefault((a.signal, t.id), (a.alt, q))
                elif kind != "timer":
                    raise _pc_mismatch(p, t.pc, ins.op, f"a timer as {a.alt}")
                else:
                    assert a.timer is not None  # exactly one of the two, checked above
                    want_timers[a.timer] = (t.id, a.alt, q)
    # every pending entry belongs to a token waiting on it ...
    effects: set[int] = set()
    for k, e in enumerate(snap.effects):
        if want_effects.get(e.eid, (None,))[0] != e.token:
            raise ser_error(
                f"effects[{k}]: effect {e.eid} of token {e.token}, which does not wait on it",
                f"effects[{k}]",
            )
        effects.add(e.eid)
    timers: set[int] = set()
    for k, tm in enumerate(snap.timers):
        if want_timers.get(tm.tid, (None, None))[:2] != (tm.token, tm.alt):
            raise ser_error(
                f"timers[{k}]: timer {tm.tid} of token {tm.token}, which does not wait on it",
                f"timers[{k}]",
            )
        timers.add(tm.tid)
    waiters: set[tuple[str, int]] = set()
    for name, ws in snap.waiters.items():
        for k, wt in enumerate(ws):
            if want_waiters.get((name, wt.token), (None,))[0] != wt.alt:
                q = f"waiters[{name!r}][{k}]"
                raise ser_error(
                    f"{q}: token {wt.token} is listed as a waiter of {name!r} but does not "
                    "wait on it",
                    q,
                )
            waiters.add((name, wt.token))
    # ... and every wait has its pending entry
    for eid, (tid, path) in want_effects.items():
        if eid not in effects:
            raise ser_error(
                f"{path}: token {tid} waits on effect {eid} but no pending effect is its", path
            )
    for tid_, (tok, _alt, path) in want_timers.items():
        if tid_ not in timers:
            raise ser_error(
                f"{path}: token {tok} waits on timer {tid_} but no armed timer is its", path
            )
    for (name, tok), (_alt, path) in want_waiters.items():
        if (name, tok) not in waiters:
            raise ser_error(
                f"{path}: token {tok} waits on signal {name!r} but is no waiter of it", path
            )


# opcodes whose handler needs the token's innermost frame to be of a kind
_FRAME_OF: dict[str, type[JoinSnap | LoopSnap | MISnap]] = {
    "join": JoinSnap,
    "loop_next": LoopSnap,
    "mi_done": MISnap,
    "mi_signal": MISnap,
}


def _check_frames(program: Program, snap: StateSnapshot) -> None:
    """Frames agree with the program: continuations, and the frame a token's pc needs."""
    instrs = program.instrs
    join_conts = {ins.next for ins in instrs if ins.op == "join"}
    mi_conts = {ins.next for ins in instrs if ins.op == "mi_spawn"}
    frames = {f.id: f for f in snap.frames}
    for i, f in enumerate(snap.frames):
        if isinstance(f, JoinSnap) and f.cont not in join_conts:
            raise ser_error(
                f"frames[{i}].cont: {f.cont} is no join's continuation", f"frames[{i}].cont"
            )
        if isinstance(f, MISnap) and f.cont not in mi_conts:
            raise ser_error(
                f"frames[{i}].cont: {f.cont} is no mi's continuation", f"frames[{i}].cont"
            )
    for i, t in enumerate(snap.tokens):
        if not 0 <= t.pc < len(instrs):
            continue  # reported with the token's pc when the graph is built
        ins = instrs[t.pc]
        need = _FRAME_OF.get(ins.op)
        frame = None if t.frame is None else frames.get(t.frame)
        if need is not None and not isinstance(frame, need):
            raise ser_error(
                f"tokens[{i}].frame: the token is at a {ins.op!r} (pc {t.pc}), which needs "
                f"a {need.TAG} frame, not {type(frame).__name__ if frame else None}",
                f"tokens[{i}].frame",
            )
        if ins.op == "join" and isinstance(frame, JoinSnap) and frame.cont != ins.next:
            raise ser_error(
                f"tokens[{i}].frame: the token's join frame continues at {frame.cont}, "
                f"its join (pc {t.pc}) at {ins.next}",
                f"tokens[{i}].frame",
            )
        if ins.op == "region_exit" and t.region is None:
            raise ser_error(
                f"tokens[{i}].region: the token is at a region's exit (pc {t.pc}) outside "
                "any region",
                f"tokens[{i}].region",
            )


def _pc_mismatch(p: str, pc: int, op: str, what: str) -> Exception:
    return ser_error(
        f"{p}.pc: the token waits on {what} but instruction {pc} is a {op!r}, which does "
        "not wait that way",
        f"{p}.pc",
    )


def program_regions(program: Program) -> dict[str, frozenset[int]]:
    """Region id -> the cancellation continuations its ``region_enter`` instructions have."""
    out: dict[str, set[int]] = {}
    for ins in program.instrs:
        if ins.op == "region_enter":
            out.setdefault(instr_arg(ins, "scope_id"), set()).add(instr_arg(ins, "cancel_pc"))
    return {k: frozenset(v) for k, v in out.items()}


def _check_regions(program: Program, snap: StateSnapshot) -> None:
    known = program_regions(program)
    for i, r in enumerate(snap.regions):
        p = f"regions[{i}]"
        if r.scope_id is None:
            if r.cancel_pc != -1:
                raise ser_error(
                    f"{p}.cancel_pc: a join's implicit region has no cancellation "
                    f"continuation, got {r.cancel_pc}",
                    f"{p}.cancel_pc",
                )
            continue
        pcs = known.get(r.scope_id)
        if pcs is None:
            raise ser_error(
                f"{p}.scope_id: region {r.scope_id!r} is not a region of the program "
                f"(it has {sorted(known)})",
                f"{p}.scope_id",
            )
        if r.cancel_pc not in pcs:
            raise ser_error(
                f"{p}.cancel_pc: region {r.scope_id!r} continues at {sorted(pcs)} when "
                f"cancelled, not {r.cancel_pc}",
                f"{p}.cancel_pc",
            )
    for sid in snap.region_index:
        if sid not in known:
            raise ser_error(
                f"region_index[{sid!r}]: region {sid!r} is not a region of the program",
                f"region_index[{sid!r}]",
            )


def governor_for(
    snap: StateSnapshot, allow: frozenset[str] | None, budget: Budget | None
) -> Governor | None:
    """The restored case's governor: limits from the options, usage from the snapshot.

    A snapshot records the limits it ran under only so that restoring under
    other limits is noticed: a snapshot cannot grant itself an allowlist or
    a budget.

    Raises:
        SerializationError: the snapshot ran under another allowlist or
            budget than the options given (``governance.allow`` /
            ``governance.budget``).
    """
    gs = snap.governance
    recorded_allow = None if gs is None or gs.allow is None else frozenset(gs.allow)
    given_allow = None if allow is None else frozenset(allow)
    if recorded_allow != given_allow:
        raise ser_error(
            f"governance.allow: the snapshot ran with allow={_show(recorded_allow)} but "
            f"restore was given allow={_show(given_allow)}; pass the case's own allow= "
            "(an allowlist comes from the case options, never from the snapshot)",
            "governance.allow",
        )
    limits = (None, None, None) if gs is None else (gs.max_effects, gs.max_time, gs.max_cost)
    given = (None, None, None) if budget is None else budget_limits(budget)
    if limits != given:
        raise ser_error(
            f"governance.budget: the snapshot ran with budget limits {limits} but restore "
            f"was given {given}; pass the case's own budget= (a budget comes from the case "
            "options, never from the snapshot)",
            "governance.budget",
        )
    if gs is None and allow is None and budget is None:
        return None
    g = Governor(given_allow, budget)
    if gs is not None:
        g.effects, g.time, g.cost = gs.effects, gs.time, gs.cost
    return g


def budget_limits(b: Budget) -> tuple[int | None, float | None, float | None]:
    """A budget's limits as recorded in a snapshot."""
    return (b.max_effects, b.max_time, b.max_cost)


def _show(allow: frozenset[str] | None) -> str:
    return "None" if allow is None else repr(sorted(allow))


# ---------------------------------------------------------------------------
# what the program puts around each pc

Shape = tuple[tuple[str, ...], tuple[str | None, ...]]
"""Control frame kinds (``"join"``, ``"loop"``, ``"mi"``) and region ids (``None``:
a join's implicit region) around a pc, outermost first."""

_SHAPES: weakref.WeakKeyDictionary[Program, dict[int, Shape | None]] = weakref.WeakKeyDictionary()


def shapes(program: Program) -> dict[int, Shape | None]:
    """The frames and regions every token at a pc has, for each reachable pc.

    Found by following the program from its entry the way the reducer moves
    tokens (a fork pushes a join frame, and its implicit region for
    ``cancel_rest``; the join pops them; a ``times`` loop and an mi body
    push their frame; a region's body its id).  ``None`` for a pc reached
    with two different shapes (never, for a compiled term: then it is not
    checked).
    """
    got = _SHAPES.get(program)
    if got is not None:
        return got
    instrs = program.instrs
    cancel_rest_of_join = {
        instr_arg(ins, "join_pc"): bool(instr_arg(ins, "cancel_rest"))
        for ins in instrs
        if ins.op == "fork"
    }
    out: dict[int, Shape | None] = {}
    stack: list[tuple[int, Shape]] = [(program.entry, ((), ()))]
    while stack:
        pc, shape = stack.pop()
        if not 0 <= pc < len(instrs):
            continue
        seen = out.get(pc, shape)
        if pc in out:
            if seen != shape:
                out[pc] = None
            continue
        out[pc] = shape
        ins = instrs[pc]
        f, r = shape
        op = ins.op
        nxt = ins.next
        if op in ("task", "wait_signal", "loop_test", "xor", "defer", "effect", "step"):
            stack.append((nxt, shape))
            for key in ("on_error", "body"):
                target = instr_arg(ins, key, -1)
                if isinstance(target, int) and target >= 0:
                    stack.append((target, shape))
            stack.extend((e, shape) for e in instr_arg(ins, "entries", ()))
        elif op == "fork":
            inner = (*r, None) if instr_arg(ins, "cancel_rest") else r
            stack.extend((e, ((*f, "join"), inner)) for e in instr_arg(ins, "entries", ()))
        elif op == "join":
            popped = r[:-1] if cancel_rest_of_join.get(pc) else r
            stack.append((nxt, (f[:-1], popped)))
        elif op == "loop_enter":
            stack.append((instr_arg(ins, "body"), ((*f, "loop"), r)))
            stack.append((nxt, shape))
        elif op == "loop_next":
            stack.append((instr_arg(ins, "body"), shape))
            stack.append((nxt, (f[:-1], r)))
        elif op == "region_enter":
            stack.append((instr_arg(ins, "body"), (f, (*r, instr_arg(ins, "scope_id")))))
            stack.append((instr_arg(ins, "cancel_pc"), shape))
        elif op == "region_exit":
            stack.append((nxt, (f, r[:-1])))
        elif op == "mi_spawn":
            # an mi's instances run in its implicit region when it has one
            # (cancel_rest, until, watchers), each watcher in a region of its own
            watch = instr_arg(ins, "watch", ())
            isolated = instr_arg(ins, "cancel_rest") or instr_arg(ins, "until") is not None or watch
            inner = (*r, None) if isolated else r
            stack.append((instr_arg(ins, "body"), ((*f, "mi"), inner)))
            for w in watch:
                stack.append((w.entry, ((*f, "mi"), (*inner, None))))
            stack.append((nxt, shape))
        elif op in ("call_enter", "call_exit"):
            # a call's ctx layer is counted from its region (see _call_layers)
            stack.append((nxt, shape))
        # mi_done, terminate, end: nothing new (an mi continues at mi_spawn's next)
    _SHAPES[program] = out
    return out


def _chain(table: dict[int, Any], start: int | None) -> list[Any] | None:
    """Records from ``start`` up its ``parent`` chain (None: dangling or cyclic)."""
    out: list[Any] = []
    cur = start
    while cur is not None:
        rec = table.get(cur)
        if rec is None or len(out) > len(table):
            return None  # reported when the graph is built
        out.append(rec)
        cur = rec.parent
    return out


def _call_layers(program: Program, pc: int, regions: tuple[str | None, ...]) -> int:
    """The ctx layers of calls (WCP-22) a token at ``pc`` inside ``regions`` reads.

    One per enclosing call region (a call's region id is no user region's:
    the compiler refuses that), less the call whose region the token has
    entered but whose ``call_enter`` it has not run, or whose ``call_exit``
    it has run but not yet its ``region_exit``.
    """
    ids = call_scopes(program)
    if not ids:
        return 0
    n = sum(1 for r in regions if r in ids)
    instrs = program.instrs
    ins = instrs[pc]
    entering = ins.op == "call_enter" and not instr_arg(ins, "exceeded", False)
    leaving = ins.op == "region_exit" and pc > 0 and instrs[pc - 1].op == "call_exit"
    return n - 1 if entering or leaving else n


def _check_shapes(program: Program, snap: StateSnapshot) -> None:
    expected = shapes(program)
    frames = {f.id: f for f in snap.frames}
    regions = {r.id: r for r in snap.regions}
    layers = {s.id: s for s in snap.scopes}
    for i, t in enumerate(snap.tokens):
        shape = expected.get(t.pc)
        if shape is None:
            continue
        want_frames, want_regions = shape
        p = f"tokens[{i}]"
        fchain = _chain(frames, t.frame)
        if fchain is not None:
            kinds = tuple(type(f).TAG for f in reversed(fchain))
            top = fchain[0] if fchain else None
            if (
                isinstance(top, MISnap)
                and top.spawned is not None
                and top.spawned < top.n
                and program.instrs[t.pc].op == "mi_spawn"
                and program.instrs[t.pc].next == top.cont
            ):
                kinds = kinds[:-1]  # an mi's spawner, with instances left to spawn
            if kinds != want_frames:
                raise ser_error(
                    f"{p}.frame: the token at pc {t.pc} is inside {list(kinds) or 'no frame'}; "
                    f"the program puts {list(want_frames) or 'no frame'} around that pc",
                    f"{p}.frame",
                )
        rchain = _chain(regions, t.region)
        if rchain is not None:
            ids = tuple(r.scope_id for r in reversed(rchain))
            if ids != want_regions:
                raise ser_error(
                    f"{p}.region: the token at pc {t.pc} is in regions {list(ids)}; the "
                    f"program puts {list(want_regions)} around that pc",
                    f"{p}.region",
                )
        lchain = _chain(layers, t.scope)
        depth = 1 + want_frames.count("mi") + _call_layers(program, t.pc, want_regions)
        if lchain is not None and len(lchain) != depth:
            raise ser_error(
                f"{p}.scope: the token at pc {t.pc} reads {len(lchain)} ctx layers; the "
                f"program gives it {depth} there",
                f"{p}.scope",
            )
