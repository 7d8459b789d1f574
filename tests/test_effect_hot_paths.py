"""This round's effect and small-case fast paths change no behaviour (issue #12).

* an async task's request (``_effects.request_fn``, linked for programs
  without region allowlists) records the same events, commands and metas
  as the general ``_effects.request``;
* an ok outcome's events built inline (events kept, no ``on_event``) equal
  those the general path records through ``emit`` (with ``on_event``), at
  levels ``min`` and ``full``, for a late branch, a non-dict result and
  results that need freezing; ``feed_effect_outcome`` is ``feed_effect``
  with positional arguments;
* ``new_case`` still refuses non-str ctx keys (a ``str`` subclass is a
  ``str``) and non-Mapping ctxs;
* generated case ids come from a pool of random bytes that a forked child
  does not share with its parent;
* the runtime's inline effect path reports errors, stray BaseExceptions and
  its context as ``run_effect`` does;
* a fork that requests its branches' effects itself, and a batch of outcomes
  that takes the woken tokens' join arrivals, take the steps the run loop
  would: the same ids, events, ctx and step counts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
import trio
import trio.lowlevel

import wftrio as wf
from wftrio.effects import current_effect
from wftrio.engine import ExecState, StartEffect, Status, _effects, _ops, feed_effect_outcomes
from wftrio.engine.frozen import FrozenDict
from wftrio.errors import EscapedBaseException, OptionError
from wftrio.receipts import receipts
from wftrio.runtime import open_substrate
from wftrio.runtime._ids import new_ids
from wftrio.scheduling import Seeded

Ctx = Mapping[str, Any]


def _fx(key: str) -> Any:
    async def fx(ctx: Ctx) -> dict[str, Any]:
        return {key: 1}

    fx.__name__ = f"fx_{key}"
    return fx


def _term(tag: str) -> wf.Term:
    # a fresh Program per call (its own functions): link() caches handlers per Program
    return wf.seq(
        wf.par(
            wf.task("a", _fx(f"a{tag}"), kind="http", cost=1.5),
            wf.task("b", _fx(f"b{tag}")),
            wf.task("c", _fx(f"c{tag}")),
        ),
        wf.join(wf.first(1), wf.task("d", _fx(f"d{tag}")), wf.task("e", _fx(f"e{tag}"))),
    )


def _drive(
    st: ExecState,
    results: Mapping[str, Any],
    positional: bool = False,
    fed_at: dict[int, int] | None = None,
) -> list[StartEffect]:
    """Run ``st`` to its end, feeding each effect ``results[name]`` (default ``{name: 1}``).

    One outcome per run, oldest request first: the join of ``first(1)`` fires
    before its other branch's outcome arrives (a late branch).
    """
    started: list[StartEffect] = []
    pending: list[StartEffect] = []
    while st.run() is Status.BLOCKED:
        for c in st.take_outbox():
            assert isinstance(c, StartEffect)
            started.append(c)
            pending.append(c)
        c = pending.pop(0)
        if fed_at is not None:
            fed_at[c.eid] = st.steps
        r = results.get(c.name, {c.name: 1})
        if positional:
            st.feed_effect_outcome(c.eid, r, None, 1, 0.25, 0.5, "ok")
        else:
            st.feed_effect(c.eid, r, attempts=1, started=0.25, ended=0.5, outcome="ok")
    return started


def _general_request(st: ExecState, tok: Any, a: Any, step: int) -> None:
    # an allowlist of a region no token is in: request() takes its general path
    allows = {"elsewhere": frozenset({"http"})}
    _effects.request(st, tok, st.program.instrs[tok.pc], a, step, None, allows)


@pytest.mark.parametrize("level", ["min", "full"])
def test_the_fast_request_records_what_the_general_request_records(
    level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_prog = wf.compile(_term("x"))
    fast = ExecState(fast_prog, {"n": 1}, case_id="c", trace_level=level)
    fast_cmds = _drive(fast, {})
    monkeypatch.setattr(_effects, "request_fn", _general_request)
    slow_prog = wf.compile(_term("x"))  # new functions: another Program, linked anew
    assert slow_prog is not fast_prog
    assert slow_prog not in _ops._LINKED
    slow = ExecState(slow_prog, {"n": 1}, case_id="c", trace_level=level)
    slow_cmds = _drive(slow, {})
    assert fast.events == slow.events
    assert [c._replace(fn=None) for c in fast_cmds] == [c._replace(fn=None) for c in slow_cmds]
    assert fast.ctx == slow.ctx
    assert fast.budget_usage() == slow.budget_usage()
    assert fast.budget_usage().effects == 5
    assert fast.budget_usage().cost == 1.5


class _Updates(Mapping[str, Any]):
    """A result that is a Mapping but not a dict (the general as_updates path)."""

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    def __getitem__(self, k: str) -> Any:
        return self._d[k]

    def __iter__(self) -> Any:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


@pytest.mark.parametrize("level", ["min", "full"])
@pytest.mark.parametrize("positional", [False, True])
def test_inline_outcome_events_equal_the_emitted_ones(level: str, positional: bool) -> None:
    results: dict[str, Any] = {
        "b": {"lst": [1, {"x": [2]}], "t": (1, 2)},  # needs freezing
        "c": _Updates({"m": 3}),  # not a dict
        "e": {"late": 1},  # e finishes after the first(1) join fired: a late branch
    }
    prog = wf.compile(_term("y"))
    traces = []
    fed_at: dict[int, int] = {}
    for on_event in (None, lambda ev: None):
        st = ExecState(prog, {"n": 1}, case_id="c", trace_level=level, on_event=on_event)
        _drive(st, results, positional, fed_at)
        assert st.status is Status.DONE
        traces.append(st.events)
    assert traces[0] == traces[1]
    completed = [e for e in traces[0] if e.kind == "effect_completed"]
    assert len(completed) == 5
    for e in completed:
        d = e.data
        assert list(d)[:6] == ["eid", "at_step", "result", "attempts", "started", "ended"]
        assert (d["at_step"], d["attempts"], d["started"], d["ended"]) == (
            fed_at[d["eid"]],
            1,
            0.25,
            0.5,
        )
        assert type(d) is FrozenDict
        assert type(d["result"]) is FrozenDict
    late = [e for e in traces[0] if e.kind == "effect_completed" and e.name == "e"]
    assert [e.data.get("late") for e in late] == [True]
    rs = {r.task: r for r in receipts(traces[0], steps=False)}
    assert (rs["a"].outcome, rs["a"].cost, rs["a"].started, rs["a"].ended) == ("ok", 1.5, 0.25, 0.5)
    frozen = next(e for e in traces[0] if e.kind == "effect_completed" and e.name == "b")
    with pytest.raises(TypeError):
        frozen.data["result"]["lst"].append(3)


async def test_new_case_refuses_non_str_keys_and_non_mappings() -> None:
    class Name(str):
        pass

    t = wf.task("t", lambda ctx: None)
    async with open_substrate() as sub:
        for bad in ({1: 2}, {"a": 1, ("k",): 3}):
            with pytest.raises(OptionError, match="ctx keys must be str"):
                await sub.new_case(t, bad)
        with pytest.raises(OptionError, match="must be a Mapping"):
            await sub.new_case(t, [("a", 1)])  # type: ignore[arg-type]
        res = await sub.wait(await sub.new_case(t, {Name("x"): 1}))
        assert res.ctx == {"x": 1}
        res = await sub.wait(await sub.new_case(t, MappingProxyType({"y": 2})))
        assert res.ctx == {"y": 2}
        assert sub.stats().cases_started == 2


def test_a_forked_child_draws_other_case_ids_than_its_parent() -> None:
    new_ids()  # the parent's pool is filled now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(w, new_ids()[0].encode())
        finally:
            os._exit(0)
    os.close(w)
    child = os.read(r, 64).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != new_ids()[0]


async def test_the_inline_effect_path_reports_errors_escapes_and_its_context() -> None:
    seen: list[Any] = []

    async def ok(ctx: Ctx) -> dict[str, Any]:
        e = current_effect()
        await trio.lowlevel.checkpoint()

        async def child() -> None:  # a task the effect starts inherits its binding
            seen.append(current_effect())

        async with trio.open_nursery() as n:
            n.start_soon(child)
        seen.append(e)
        return {"ok": ctx["n"]}

    async def boom(ctx: Ctx) -> None:
        await trio.lowlevel.checkpoint()
        raise ValueError("boom")

    class Stray(BaseException):
        pass

    async def stray(ctx: Ctx) -> None:
        raise Stray

    async with open_substrate() as sub:
        res = await sub.wait(await sub.new_case(wf.task("ok", ok), {"n": 4}))
        assert res.ctx == {"n": 4, "ok": 4}
        assert seen[0] is seen[1]
        assert (seen[0].task, seen[0].attempt) == ("ok", 1)
        failed = await sub.new_case(wf.task("boom", boom, on_error=wf.task("f", lambda c: None)))
        res = await sub.wait(failed)
        [r] = receipts(res.trace, steps=False)
        assert (r.outcome, r.error_type, r.attempts) == ("error", "ValueError", 1)
        cid = await sub.new_case(wf.task("stray", stray))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
        assert isinstance(info.value.result.error, EscapedBaseException)
        assert isinstance(info.value.result.error.__cause__, Stray)


@pytest.mark.parametrize("level", ["min", "full"])
def test_event_times_never_go_back_with_shared_clock_readings(level: str) -> None:
    ticks = iter(range(1, 10_000))
    st = ExecState(wf.compile(_term("z")), {}, trace_level=level, clock=lambda: float(next(ticks)))
    _drive(st, {})
    times = [e.time for e in st.events]
    assert times == sorted(times)
    # an effect's request and its effect_requested event share one reading,
    # an outcome's effect_completed and receipt events another
    by_kind = {(e.kind, e.name): e.time for e in st.events}
    assert by_kind[("effect_completed", "a")] == by_kind[("receipt", "a")]


def test_case_ids_drawn_from_many_threads_are_all_distinct() -> None:
    import threading

    drawn: list[list[str]] = [[] for _ in range(6)]

    def draw(out: list[str]) -> None:
        for _ in range(2_000):  # many refills of the 64-id pool, raced by the others
            out.append(new_ids()[0])

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for out in drawn for i in out]
    assert len(ids) == 12_000
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("level", ["min", "full"])
def test_take_events_keeps_receipts_and_builds_fused_runs(level: str) -> None:
    from wftrio.engine import materialise
    from wftrio.engine._fused import FusedRun
    from wftrio.engine._receipt_records import PendingReceipt

    term = wf.seq(
        wf.task("p1", lambda c: {"p": 1}),
        wf.task("p2", lambda c: {"q": 2}),
        wf.task("fx", _fx("r")),
        wf.task("p3", lambda c: {"s": 3}),
        wf.task("p4", lambda c: {"t": 4}),
    )
    prog = wf.compile(term)
    eager = ExecState(prog, {}, trace_level=level, on_event=lambda ev: None)
    _drive(eager, {"fx": {"r": 1}})
    st = ExecState(prog, {}, trace_level=level)
    taken: list[Any] = []
    while st.run() is Status.BLOCKED:
        taken += st.take_events(defer_receipts=True)
        for c in st.take_outbox():
            st.feed_effect(c.eid, {"r": 1}, attempts=1, started=0.25, ended=0.5, outcome="ok")
    taken += st.take_events(defer_receipts=True)
    assert not any(type(e) is FusedRun for e in taken)  # built by take_events
    assert [type(e) for e in taken].count(PendingReceipt) == 1  # kept for the reader
    materialise(taken)
    assert taken == eager.events


def test_compact_effect_events_are_kept_pickle_and_build_the_eager_events() -> None:
    # effect_requested / effect_completed stay compact tuples in a deferred
    # take_events list; pickled as they are, they build the eager events
    import pickle

    from wftrio.engine import materialise

    prog = wf.compile(_term("z"))

    def drive(st: ExecState) -> list[Any]:
        taken: list[Any] = []
        while st.run() is Status.BLOCKED:
            taken += st.take_events(defer_receipts=True)
            for c in st.take_outbox():
                st.feed_effect_outcome(c.eid, {c.name: 1}, None, 1, 0.25, 0.5, "ok")
        return taken + st.take_events(defer_receipts=True)

    eager = drive(
        ExecState(prog, {"n": 1}, case_id="c", trace_level="min", on_event=lambda e: None)
    )
    assert all(type(e) is wf.TraceEvent for e in eager)
    taken = drive(ExecState(prog, {"n": 1}, case_id="c", trace_level="min"))
    # (an effect's records start with their builder; the plain events of
    # Recording.emit, tuples too, with their seq)
    tuples = [e for e in taken if type(e) is tuple and type(e[0]) is not int]
    names = [e[0].__name__ for e in tuples]
    requested = [e for e in eager if e.kind == "effect_requested"]
    completed = [e for e in eager if e.kind == "effect_completed"]
    assert names.count("requested_event") == len(requested) == 5
    assert names.count("completed_event") == len(completed) - sum(
        1 for e in completed if "late" in e.data
    )
    copied = pickle.loads(pickle.dumps(tuples))
    materialise(copied)
    by_seq = {e.seq: e for e in eager}
    assert copied == [by_seq[e.seq] for e in copied]
    materialise(taken)
    assert taken == eager


def _fork_terms() -> list[wf.Term]:
    # a fresh Program per call, as _term: forks whose branches all start with
    # an async task (the fork requests them itself when its budget allows)
    return [
        wf.par(wf.task("a", _fx("a")), wf.task("b", _fx("b")), wf.task("c", _fx("c"))),
        wf.choice(
            wf.branch(lambda c: c["n"] > 0, wf.seq(wf.task("a", _fx("a")), wf.task("x", _fx("x")))),
            wf.branch(lambda c: c["n"] < 0, wf.task("b", _fx("b"))),
            wf.branch(lambda c: True, wf.task("c", _fx("c"))),
        ),
        wf.region(
            "r",
            wf.join(wf.first(1), wf.task("a", _fx("a")), wf.task("b", _fx("b"))),
        ),
        wf.seq(
            wf.task("p", lambda c: {"p": 1}),
            wf.par(wf.task("a", _fx("a")), wf.par(wf.task("b", _fx("b")), wf.task("c", _fx("c")))),
        ),
    ]


def _fork_run(i: int, level: str, budget: int | None, limits: bool) -> tuple[Any, ...]:
    term = _fork_terms()[i]
    gov = {"budget": wf.Budget(max_effects=2)} if limits else {}
    st = ExecState(wf.compile(term), {"n": 1}, case_id="c", trace_level=level, **gov)
    steps: list[int] = []
    cmds: list[StartEffect] = []
    pending: list[StartEffect] = []
    while True:
        status = st.run() if budget is None else st.run(budget)
        steps.append(st.steps)
        if status is Status.RUNNING:
            continue
        if status is not Status.BLOCKED:
            break
        new = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
        cmds += new
        pending += new
        c = pending.pop(0)
        st.feed_effect(c.eid, {c.name: 1}, attempts=1, started=0.25, ended=0.5, outcome="ok")
    return (
        status,
        st.events,
        [c._replace(fn=None) for c in cmds],
        st.ctx,
        st.budget_usage(),
        steps if budget is None else None,
        st.steps,
    )


@pytest.mark.parametrize("limits", [False, True], ids=["plain", "budget"])
@pytest.mark.parametrize("level", ["min", "full"])
@pytest.mark.parametrize("i", range(4))
def test_a_fork_requesting_its_branches_equals_the_run_loop_doing_it(
    i: int, level: str, limits: bool
) -> None:
    # one step per run (max_steps=1: the fork never requests for its
    # branches) and runs of 2 (a fork of 2 or more branches cannot) take the
    # same steps, ids, events and commands as whole runs (it does)
    whole = _fork_run(i, level, None, limits)
    for budget in (1, 2):
        assert _fork_run(i, level, budget, limits)[:5] == whole[:5]
        assert _fork_run(i, level, budget, limits)[6] == whole[6]


def test_a_fork_requests_its_branches_in_one_step_of_the_loop() -> None:
    # the budget of a run counts the fork and each branch's request: a par of
    # three effects blocks in one run of 4 steps, and a run of 3 stops first
    st = ExecState(wf.compile(_fork_terms()[0]), case_id="c")
    assert st.run(4) is Status.BLOCKED
    assert st.steps == 4
    assert [c.causal_id for c in st.take_outbox() if isinstance(c, StartEffect)] == [
        "c/t3/s1",
        "c/t4/s2",
        "c/t5/s3",
    ]
    st = ExecState(wf.compile(_fork_terms()[0]), case_id="c")
    assert st.run(3) is Status.RUNNING
    assert st.steps == 3


def _batch_terms() -> list[wf.Term]:
    # a fresh Program per call: joins a batch of outcomes arrives at
    return [
        wf.par(*(wf.task(f"e{i}", _fx(f"e{i}")) for i in range(4))),
        wf.seq(
            wf.par(wf.task("a", _fx("a")), wf.task("b", _fx("b")), wf.wait_signal("s")),
            wf.task("z", _fx("z")),
        ),
        wf.par(wf.seq(wf.task("a", _fx("a")), wf.task("a2", _fx("a2"))), wf.task("b", _fx("b"))),
        wf.par(wf.task("a", _fx("a")), wf.par(wf.task("b", _fx("b")), wf.task("c", _fx("c")))),
        wf.region("r", wf.par(wf.task("a", _fx("a")), wf.task("b", _fx("b")))),
        wf.join(wf.first(2), *(wf.task(f"e{i}", _fx(f"e{i}")) for i in range(3))),
        wf.loop(wf.par(wf.task("a", _fx("a")), wf.task("b", _fx("b"))), times=2),
    ]


def _batch_run(i: int, batched: bool, stepped: bool, seeded: bool = False) -> tuple[Any, ...]:
    st = ExecState(
        wf.compile(_batch_terms()[i]),
        {"n": 1},
        case_id="c",
        trace_level="min",
        scheduler=Seeded(7) if seeded else None,
    )
    pending: list[StartEffect] = []
    errors: list[Exception] = []
    status = st.run(1) if stepped else st.run()
    while status not in (Status.DONE, Status.FAILED):
        pending += [c for c in st.take_outbox() if isinstance(c, StartEffect)]
        if status is Status.BLOCKED and not pending:
            st.feed_signal("s")
        elif pending:
            # every pending outcome at once (stepped: while a token is still runnable)
            batch = [(c.eid, {c.name: 1}, None, 1, 0.25, 0.5, "ok") for c in pending]
            pending.clear()
            if batched:
                assert feed_effect_outcomes(st, batch, errors.append) == len(batch)
            else:
                for m in batch:
                    st.feed_effect_outcome(*m)
        status = st.run(1) if stepped else st.run()
    assert not errors
    return status, st.events, st.ctx, st.steps, len(st.tokens)


@pytest.mark.parametrize("seeded", [False, True], ids=["deterministic", "seeded"])
@pytest.mark.parametrize("stepped", [False, True], ids=["blocked", "running"])
@pytest.mark.parametrize("i", range(7))
def test_a_batch_of_outcomes_arriving_at_joins_equals_one_outcome_at_a_time(
    i: int, stepped: bool, seeded: bool
) -> None:
    # feed_effect_outcomes takes the arrivals at a plain join that do not
    # fire it itself (while nothing else is runnable): the same steps, ids,
    # events and ctx as the run loop taking them after single feeds
    one_by_one = _batch_run(i, batched=False, stepped=stepped, seeded=seeded)
    assert one_by_one[0] is Status.DONE
    assert _batch_run(i, batched=True, stepped=stepped, seeded=seeded) == one_by_one


def test_a_batch_takes_the_arrivals_that_do_not_fire_the_join() -> None:
    st = ExecState(wf.compile(_batch_terms()[0]), case_id="c", trace_level="min")
    assert st.run() is Status.BLOCKED
    cmds = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
    before = st.steps
    batch = [(c.eid, {c.name: 1}, None, 1, 0.25, 0.5, "ok") for c in cmds]
    assert feed_effect_outcomes(st, batch, pytest.fail) == 4
    # three branches arrived (one step each); the fourth fires the join in run()
    assert st.steps == before + 3
    assert len(st.ready) == 1
    assert st.run() is Status.DONE
    assert st.ctx == {"e0": 1, "e1": 1, "e2": 1, "e3": 1}


async def test_the_substrate_counts_the_steps_a_batch_takes() -> None:
    async def fx(ctx: Ctx) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        return {}

    async with open_substrate(trace_level="min") as sub:
        cid = await sub.new_case(wf.par(*(wf.task(f"e{i}", fx) for i in range(20))))
        await sub.wait(cid)
        # fork, 20 requests, 20 arrivals, the end of the continuation
        assert sub.status(cid).steps == 42
        assert sub.stats().steps == 42
