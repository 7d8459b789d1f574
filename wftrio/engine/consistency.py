"""The invariants of a case's execution state, checked.

:func:`violations` inspects an :class:`~wftrio.engine.ExecState` between
steps (after ``run``, or after any ``feed_*`` / ``cancel*`` call) and lists
everything inconsistent.  :func:`wftrio.engine.restore` runs it on every
state it rebuilds from a snapshot, and
:func:`wftrio.testing.check_invariants` in tests.  It checks:

* tokens: every live token is registered in ``st.tokens`` under its id,
  sits in its innermost region's token set, and is either runnable (the
  current token or in the ready list) or waiting with every registration
  its wait names; no token is in a dead region;
* waits: every signal waiter, effect and timer entry points at a live token
  whose wait mentions it (no orphans), and ``blocked_on()`` reports exactly
  what live tokens wait for;
* regions: every live activation is reachable, alive all the way up, and
  holds a live token or a live nested activation; an activation control
  has left closes with its last token;
* frames: join and multiple-instance counters stay in range
  (``0 <= arrived <= started``, ``0 <= done <= n``) and ``fired`` agrees
  with them; a join's arrivals plus its live branches never exceed the
  branches it started; loop counters are not negative;
* status: a blocked case has live tokens, all waiting, and reports what on;
  a finished case holds no token, wait or live region.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from wftrio.engine._effects import EffectMeta
from wftrio.engine._state import FINAL, ExecState, Status
from wftrio.engine.objects import CtxLayer, Frame, JoinInst, LoopFrame, MIInst, RegionInst, Token
from wftrio.governance import Governor

__all__ = ["CHECKED", "NOT_CHECKED", "violations"]

CHECKED: Mapping[type, frozenset[str]] = MappingProxyType(
    {
        Token: frozenset({"alive", "frame", "id", "region", "wait"}),
        Frame: frozenset({"id", "parent"}),
        JoinInst: frozenset(
            {"id", "parent", "arrived", "fired", "needed", "started", "held", "blocks", "site"}
        ),
        LoopFrame: frozenset({"id", "parent", "count"}),
        MIInst: frozenset(
            {"id", "parent", "done", "fired", "items", "n", "needed", "results", "spawned"}
            | {"open", "completed"}
        ),
        RegionInst: frozenset(
            {"alive", "children", "exited", "id", "parent", "scope_id", "tokens"}
        ),
        CtxLayer: frozenset({"parent", "snap", "view"}),
        ExecState: frozenset(
            {"current", "effects", "ready", "regions", "status", "steps", "timers", "tokens"}
            | {"waiters"}
        ),
    }
)
"""The fields :func:`violations` reads, per engine class."""

NOT_CHECKED: Mapping[type, Mapping[str, str]] = MappingProxyType(
    {
        Token: {
            "pc": "any instruction can hold a token",
            "scope": "a ctx layer has no invariant of its own",
        },
        JoinInst: {
            "cancel_region": "checked through the region tree",
            "cont": "a constant of the program",
            "region": "checked through the region tree",
            "scope": "a ctx layer has no invariant of its own",
        },
        MIInst: {
            "cancel_region": "checked through the region tree",
            "cont": "a constant of the program",
            "region": "checked through the region tree",
            "scope": "a ctx layer has no invariant of its own",
        },
        RegionInst: {
            "cancel_pc": "a constant of the program",
            "frame": "the continuation's frame: any frame",
            "scope": "a ctx layer has no invariant of its own",
        },
        CtxLayer: {
            name: "ctx data: the reducer keeps no invariant on it"
            for name in ("base", "data", "id", "index", "maps")
        },
        EffectMeta: dict.fromkeys(
            (
                "attempts",
                "causal_id",
                "cost",
                "epoch",
                "key",
                "kind",
                "request",
                "requested_at",
                "spec",
                "started",
                "ended",
            ),
            "receipt data of a pending effect",
        ),
        Governor: dict.fromkeys(
            ("allow", "budget", "cost", "effects", "time"), "governance keeps its own counters"
        ),
        ExecState: {
            "_events": "the trace, checked by the trace tests",
            "_lazy": "whether the trace holds compact records (receipts, fused runs)",
            "_next_id": "a counter the checker cannot bound",
            "_record": "derived from the trace level",
            "_unhashed": "a cache of the receipts' request hashes",
            "case_id": "any id",
            "clock": "a host constant",
            "code": "the Program's",
            "defer_keys": "a host option",
            "effect_meta": "receipt data (engine/_effects.py keeps it with effects)",
            "epoch": "a counter of blocks; only receipts read it",
            "error": "any recorded error",
            "full": "derived from the trace level",
            "governor": "governance keeps its own counters",
            "keep_events": "a host option",
            "level": "checked by set_level",
            "on_event": "a host constant",
            "outbox": "commands for the host",
            "preemptive": "the scheduler's",
            "program": "a constant",
            "root": "reached through the tokens",
            "root_id": "any id",
            "scheduler": "a policy object",
            "seq": "a counter the checker cannot bound",
            "signals": "queued payloads: any values",
            "t0": "a clock value",
            "tracing": "derived from the trace level",
        },
    }
)
"""The fields :func:`violations` leaves alone, and why (``tests/test_schema.py``
checks that every schema field is in exactly one of the two tables)."""


def _wait_regs(wait: tuple[Any, ...]) -> list[tuple[str, Any, int]]:
    """The registrations a wait implies: (kind, key, alternative)."""
    if wait[0] == "effect":
        return [("effect", wait[1], 0)]
    if wait[0] == "signal":
        return [("signal", wait[1], 0)]
    if wait[0] == "defer":
        return [(k, key, alt) for k, key, alt in wait[1]]
    return [("unknown", wait, -1)]


def _settled(below: Any) -> bool:
    """Whether what lies just below a join in a frame chain will never arrive at it.

    A token arrives once; an unfired nested join, loop or mi sends one
    continuation; a fired nested join or mi has sent it already (that
    continuation is a token of its own) and its late branches are absorbed.
    """
    return type(below) in (JoinInst, MIInst) and bool(below.fired)


def violations(st: ExecState) -> list[tuple[str, str]]:
    """Every invariant ``st`` breaks, as (the state's field it concerns, a description).

    Empty when ``st`` is consistent.
    """
    bad: list[tuple[str, str]] = []
    tokens = st.tokens
    ready_live = [t for t in st.ready if t.alive]
    ready_ids = [t.id for t in ready_live]
    if len(set(ready_ids)) != len(ready_ids):
        bad.append(("ready", f"a live token is in the ready list twice: {sorted(ready_ids)}"))
    cur = st.current
    if cur is not None:
        if not cur.alive or tokens.get(cur.id) is not cur:
            bad.append(("current", f"current token {cur!r} is not a live registered token"))
        if cur.wait is not None:
            bad.append(("current", f"current token {cur!r} is blocked"))
        if cur.id in ready_ids:
            bad.append(("current", f"current token {cur!r} is also in the ready list"))

    frames: dict[int, Frame] = {}
    regions: dict[int, RegionInst] = {}
    want_signals: set[str] = set()
    want_effects: set[int] = set()
    want_timers: set[int] = set()
    layers: set[int] = set()
    for tid, tok in tokens.items():
        if tok.id != tid:
            bad.append(("tokens", f"token {tok!r} registered under id {tid}"))
        if not tok.alive:
            bad.append(("tokens", f"dead token {tok!r} is still registered"))
        r = tok.region
        if r is not None:
            if tok not in r.tokens:
                bad.append(
                    ("tokens", f"token {tok!r} is missing from its region {r!r}'s token set")
                )
            while r is not None:
                regions[r.id] = r
                if not r.alive:
                    bad.append(("tokens", f"token {tok!r} is in dead region {r!r}"))
                r = r.parent
        f = tok.frame
        while f is not None:
            frames[f.id] = f
            f = f.parent
        layer: CtxLayer | None = tok.scope
        while layer is not None and id(layer) not in layers:
            layers.add(id(layer))
            snap = layer.snap
            if snap is not None and (layer.parent is not None or snap.view != layer.view):
                bad.append(("tokens", f"ctx layer {layer!r} caches a stale snapshot of its view"))
            layer = layer.parent
        if tok.wait is None:
            if tok is not cur and tok.id not in ready_ids:
                bad.append(
                    ("tokens", f"runnable token {tok!r} is neither current nor ready (lost)")
                )
            continue
        if tok.id in ready_ids:
            bad.append(("tokens", f"blocked token {tok!r} is in the ready list"))
        for kind, key, alt in _wait_regs(tok.wait):
            if kind == "effect":
                want_effects.add(key)
                if st.effects.get(key) is not tok:
                    bad.append(
                        ("tokens", f"token {tok!r} waits on effect {key} the state does not hold")
                    )
            elif kind == "signal":
                want_signals.add(key)
                if all(t is not tok for t, _alt in st.signal_waiters(key)):
                    bad.append(
                        ("tokens", f"token {tok!r} waits on signal {key!r} but is no waiter of it")
                    )
            elif kind == "timer":
                want_timers.add(key)
                if st.timers.get(key) != (tok, alt):
                    bad.append(
                        ("tokens", f"token {tok!r} waits on timer {key} the state does not hold")
                    )
            else:
                bad.append(("tokens", f"token {tok!r} has an unknown wait {tok.wait!r}"))

    # no orphaned registrations
    for eid, tok in st.effects.items():
        if not tok.alive or tok.wait != ("effect", eid):
            bad.append(
                ("effects", f"effect {eid} points at {tok!r}, which does not wait on it (orphan)")
            )
    for tid, (tok, alt) in st.timers.items():
        if not tok.alive or tok.wait is None or ("timer", tid, alt) not in _wait_regs(tok.wait):
            bad.append(
                ("timers", f"timer {tid} points at {tok!r}, which does not wait on it (orphan)")
            )
    for name, ws in st.waiters.items():
        if isinstance(ws, dict) and not ws:
            bad.append(("waiters", f"signal {name!r} keeps an empty waiter entry"))
        for tok, alt in st.signal_waiters(name):
            regs = _wait_regs(tok.wait) if tok.wait is not None else []
            if not tok.alive or ("signal", name, alt) not in regs:
                bad.append(
                    (
                        "waiters",
                        f"signal waiter {name!r} -> {tok!r}, which does not wait on it (orphan)",
                    )
                )
    blocked = st.blocked_on()
    exact = {
        "effects": sorted(want_effects),
        "signals": sorted(want_signals),
        "timers": sorted(want_timers),
    }
    if blocked != exact:
        bad.append(("tokens", f"blocked_on() reports {blocked} but live tokens wait on {exact}"))

    # held blocking joins (no token of theirs is left: their arrivals are held)
    held_in: set[int] = set()
    for f in list(frames.values()):
        nxt = f.blocks if isinstance(f, JoinInst) else None
        while nxt is not None:
            frames[nxt.id] = nxt
            if nxt.region is not None:
                held_in.add(nxt.region.id)
            nxt = nxt.blocks

    # regions
    for sid, insts in st.regions.items():
        for r in insts:
            if r.scope_id != sid:
                bad.append(("region_index", f"region {r!r} is indexed under {sid!r}"))
            if not r.alive:
                bad.append(("region_index", f"dead region {r!r} is still indexed under {sid!r}"))
            regions.setdefault(r.id, r)
    stack = list(regions.values())
    while stack:
        r = stack.pop()
        for c in r.children:
            if c.id not in regions:
                regions[c.id] = c
                stack.append(c)
    for r in regions.values():
        if not r.alive:
            continue
        if r.parent is not None and (not r.parent.alive or r not in r.parent.children):
            bad.append(
                ("regions", f"live region {r!r} is not a live child of its parent {r.parent!r}")
            )
        for c in r.children:
            if not c.alive or c.parent is not r:
                bad.append(
                    ("regions", f"region {r!r} lists child {c!r} that is dead or not its child")
                )
        for tok in r.tokens:
            if not tok.alive or tokens.get(tok.id) is not tok or tok.region is not r:
                bad.append(
                    ("regions", f"region {r!r} lists token {tok!r} that is dead or elsewhere")
                )
        if not r.tokens and not r.children and r.id not in held_in:
            bad.append(
                ("regions", f"live region {r!r} holds no token and no nested region (leaked)")
            )
        if r.scope_id is not None and r not in st.regions.get(r.scope_id, {}):
            bad.append(("region_index", f"live region {r!r} is missing from the region index"))

    # frames: a join never expects more arrivals than it has branches left
    pending: dict[int, set[int]] = {}  # join id -> ids of its live branches
    for tok in tokens.values():
        below: Any = tok
        f = tok.frame
        while f is not None:
            if _settled(below):
                # a late token: the fired join or mi below absorbs it, so no frame
                # above ever sees it (e.g. a late mi instance whose loop went on)
                break
            if type(f) is JoinInst:
                pending.setdefault(f.id, set()).add(id(below))
            below = f
            f = f.parent
    for jid, branches in pending.items():
        j = frames[jid]
        assert isinstance(j, JoinInst)
        held = j.held or 0
        if j.arrived + held + len(branches) > j.started:
            bad.append(
                (
                    "frames",
                    f"join #{j.id}: {j.arrived} arrived, {held} held and {len(branches)} "
                    f"branches still live, of {j.started} started",
                )
            )
    for f in frames.values():
        if isinstance(f, JoinInst):
            if not 0 <= f.arrived <= f.started or not 0 <= f.needed <= f.started:
                bad.append(
                    (
                        "frames",
                        f"join #{f.id}: arrived={f.arrived} needed={f.needed} started={f.started}",
                    )
                )
            if f.fired != (f.arrived >= f.needed):
                bad.append(
                    ("frames", f"join #{f.id}: fired={f.fired} with {f.arrived}/{f.needed} arrived")
                )
            # a held blocking join counts nothing until the one before it resets
            nxt = f.blocks
            if (f.held is not None and (f.site < 0 or f.arrived or f.held < 0)) or (
                nxt is not None and (nxt.held is None or nxt.site != f.site)
            ):
                bad.append(
                    (
                        "frames",
                        f"join #{f.id}: site={f.site} held={f.held} arrived={f.arrived} "
                        f"blocks={nxt!r}",
                    )
                )
        elif isinstance(f, MIInst):
            if not 0 <= f.done <= f.spawned <= f.n or (f.items is None) != (f.spawned == f.n):
                bad.append(("frames", f"mi #{f.id}: spawned={f.spawned} done={f.done} n={f.n}"))
            if f.open and f.cancel_region is None:
                bad.append(("frames", f"mi #{f.id}: open without its region"))
            if f.completed and f.open:
                bad.append(("frames", f"mi #{f.id}: completed yet open"))
            if not 0 <= f.done <= f.n or len(f.results) != f.done:
                bad.append(
                    ("frames", f"mi #{f.id}: done={f.done} n={f.n} results={len(f.results)}")
                )
            if f.needed is not None and (
                f.needed < 0
                or (f.needed > f.n and not f.open)
                or (f.fired and f.done < f.needed)
                or (not f.fired and not f.open and f.done >= f.needed)
            ):
                bad.append(
                    ("frames", f"mi #{f.id}: needed={f.needed} fired={f.fired} done={f.done}")
                )
        elif isinstance(f, LoopFrame) and f.count < 0:
            bad.append(("frames", f"loop #{f.id}: negative count {f.count}"))

    # status
    if st.steps < 0:
        bad.append(("steps", f"negative step count {st.steps}"))
    if st.status in FINAL:
        if tokens:
            bad.append(("status", f"case is {st.status} but holds tokens {list(tokens.values())}"))
        if any(blocked.values()):
            bad.append(("status", f"case is {st.status} but still waits on {blocked}"))
        if st.live_regions():
            bad.append(("status", f"case is {st.status} but regions {st.live_regions()} are live"))
    elif st.status is Status.BLOCKED:
        if not tokens:
            bad.append(("status", "case is BLOCKED without live tokens"))
        if any(t.wait is None for t in tokens.values()):
            bad.append(("status", "case is BLOCKED but a live token is runnable"))
        if not any(blocked.values()):
            bad.append(("status", "case is BLOCKED but blocked_on() reports nothing"))
    return bad
