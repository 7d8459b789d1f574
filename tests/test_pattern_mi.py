"""The multiple-instance patterns beyond WCP-12..14, 26 and 34 (WCP-15/36: test_pattern_mi_more.py).

WCP-35, the cancelling partial join for MI: ``mi(..., join=n, cancel_rest=True)``;
WCP-27, completing an MI activity: ``mi(..., until=cond, complete_on=signal)``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from reducer_helpers import completed, drive, effect, noop, run, start

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import CancelEffect, ExecState, StartEffect, Status
from wftrio.engine.consistency import violations
from wftrio.engine.replay import run_with_inputs
from wftrio.runtime import CaseState, open_substrate
from wftrio.scheduling import Replay, Seeded
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.testing.strategies import terms

Ctx = Mapping[str, Any]


def tenfold(ctx: Ctx) -> Mapping[str, Any]:
    return {"r": ctx["item"] * 10}


def waits_for_reply() -> wf.Term:
    """An instance that waits for its reply (signal ``reply``), then records it."""
    return wf.seq(wf.wait_signal("reply", store_as="got"), wf.task("record", tenfold))


def via_json(st: ExecState) -> ExecState:
    """Snapshot -> JSON -> restored state (the snapshot round-trips exactly)."""
    snap = st.snapshot()
    restored = ExecState.restore(st.program, loads_snapshot(dumps_snapshot(snap)))
    assert restored.snapshot() == snap
    return restored


def mi_events(st: ExecState, kind: str) -> list[Mapping[str, Any]]:
    return [dict(e.data) for e in st.events if e.kind == kind]


# ---------------------------------------------------------------------------
# WCP-35 cancelling partial join for multiple instances


def quotes(n: int = 2, count: int = 5) -> wf.Term:
    """Ask ``count`` suppliers for a quote; continue with the first ``n`` replies."""
    return wf.seq(
        wf.mi(waits_for_reply(), count=count, join=n, cancel_rest=True, collect="quotes"),
        noop("decide"),
    )


class TestCancellingPartialJoinMI:
    def test_continues_after_n_and_withdraws_the_rest(self) -> None:
        st = run(quotes())
        assert st.status is Status.BLOCKED
        assert len(st.signal_waiters("reply")) == 5
        st.feed_signal("reply", "a")
        st.feed_signal("reply", "b")
        assert st.run() is Status.DONE
        # the oldest waiters (instances 0 and 1) were served; the other three withdrawn
        assert st.ctx["quotes"] == [{"got": "a", "r": 0}, {"got": "b", "r": 10}]
        assert completed(st) == ["record", "record", "decide"]
        (joined,) = mi_events(st, "mi_joined")
        assert joined == {"done": 2, "of": 5, "withdrawn": 3}
        assert len(mi_events(st, "token_withdrawn")) == 3
        assert st.signal_waiters("reply") == []
        assert violations(st) == []

    def test_withdrawn_instances_consume_no_signal(self) -> None:
        st = run(wf.seq(quotes(n=1, count=3), wf.wait_signal("reply", store_as="late")))
        st.feed_signal("reply", "first")
        st.run()
        assert st.status is Status.BLOCKED  # the two withdrawn waits took nothing
        st.feed_signal("reply", "second")
        assert st.run() is Status.DONE
        assert st.ctx["late"] == "second"
        assert st.ctx["quotes"] == [{"got": "first", "r": 0}]

    def test_without_cancel_rest_the_late_ones_finish_and_are_absorbed(self) -> None:
        # the contrast with WCP-34: same scenario, the rest keep waiting
        st = run(wf.mi(waits_for_reply(), count=3, join=1, collect="quotes"))
        st.feed_signal("reply", "a")
        assert st.run() is Status.BLOCKED
        assert len(st.signal_waiters("reply")) == 2

    def test_withdrawn_effects_are_cancelled(self) -> None:
        body = wf.seq(effect("fetch", {"ok": 1}), wf.task("record", tenfold))
        st = start(wf.mi(body, items=[1, 2, 3], join=1, cancel_rest=True, collect="out"))
        assert st.run() is Status.BLOCKED
        starts = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
        assert len(starts) == 3
        st.feed_effect(starts[1].eid, {"ok": 1})
        assert st.run() is Status.DONE
        cancelled = {c.eid for c in st.take_outbox() if isinstance(c, CancelEffect)}
        assert cancelled == {starts[0].eid, starts[2].eid}
        assert st.ctx["out"] == [{"ok": 1, "r": 20}]
        assert [e.kind for e in st.events].count("effect_cancelled") == 2

    def test_late_instance_never_runs_after_the_join(self) -> None:
        # instance 0 finishes at once, instance 1 would finish later: withdrawn first
        body = wf.xor(
            wf.branch(lambda ctx: ctx["index"] == 0, wf.task("quick", tenfold)),
            wf.seq(wf.wait_signal("slow"), wf.task("late", tenfold)),
        )
        st = run(wf.seq(wf.mi(body, count=2, join=1, cancel_rest=True), noop("after")))
        assert st.status is Status.DONE
        assert completed(st) == ["quick", "after"]
        st2 = run(wf.seq(wf.mi(body, count=2, join=1), noop("after")))
        assert st2.status is Status.BLOCKED  # without cancel_rest, the late one is awaited

    def test_join_fires_before_every_instance_is_spawned(self) -> None:
        # 200 instances spawn 64 per step; the first to finish fires the join and
        # the instances never spawned never start
        st = run(wf.seq(wf.mi(noop("work"), count=200, join=1, cancel_rest=True), noop("after")))
        assert st.status is Status.DONE
        assert completed(st).count("work") < 64 + 1
        assert completed(st)[-1] == "after"
        (joined,) = mi_events(st, "mi_joined")
        assert joined["withdrawn"] == 199
        assert violations(st) == []

    def test_cancelling_the_enclosing_region_withdraws_every_instance(self) -> None:
        term = wf.seq(wf.region("ask", quotes(n=2, count=3), compensate=noop("undo")), noop("end"))
        st = run(term)
        st.feed_signal("reply", "a")
        st.run()
        assert st.cancel_region("ask") == 1
        assert st.run() is Status.DONE
        assert completed(st) == ["record", "undo", "end"]
        assert "quotes" not in st.ctx
        assert st.live_regions() == []
        assert violations(st) == []

    def test_case_cancel_mid_way(self) -> None:
        st = run(quotes())
        st.cancel()
        assert st.status is Status.CANCELLED
        assert violations(st) == []

    def test_in_a_loop_each_round_has_its_own_activation(self) -> None:
        def more(ctx: Ctx) -> bool:
            return len(ctx.get("rounds", [])) < 3

        def note(ctx: Ctx) -> Mapping[str, Any]:
            return {"rounds": [*ctx.get("rounds", []), [q["got"] for q in ctx["quotes"]]]}

        term = wf.loop(wf.seq(quotes(n=1, count=3), wf.task("note", note)), while_=more)
        st = run(term)
        for i in range(3):
            assert st.status is Status.BLOCKED
            assert len(st.signal_waiters("reply")) == 3  # a fresh activation, the old withdrawn
            st.feed_signal("reply", i)
            st.run()
            assert violations(st) == []
        assert st.status is Status.DONE
        assert st.ctx["rounds"] == [[0], [1], [2]]

    def test_on_the_runtime(self) -> None:
        res = wf.run(wf.mi(wf.task("r", tenfold), items=[1, 2, 3], join=2, cancel_rest=True,
                           collect="out"))  # fmt: skip
        assert res.state is CaseState.DONE
        assert res.ctx == {"out": [{"r": 10}, {"r": 20}]}

    def test_catalogue_alias(self) -> None:
        a = noop("a")
        assert P.CATALOGUE[35] == ("cancelling_partial_join_mi", P.cancelling_partial_join_mi)
        assert P.cancelling_partial_join_mi(a, 2, count=3) == wf.mi(
            a, count=3, join=2, cancel_rest=True
        )


async def test_cancelling_partial_join_mi_cancels_effects_in_flight(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cancelled: list[int] = []

    async def quote(ctx: Ctx) -> Mapping[str, Any]:
        try:
            await trio.sleep(ctx["item"])
        except trio.Cancelled:
            cancelled.append(ctx["item"])
            raise
        return {"price": ctx["item"]}

    term = wf.mi(wf.task("quote", quote), items=[5, 1, 9, 2], join=2, cancel_rest=True,
                 collect="q")  # fmt: skip
    async with open_substrate() as sub:
        res = await sub.wait(await sub.new_case(term))
    assert res.ctx == {"q": [{"price": 1}, {"price": 2}]}
    assert sorted(cancelled) == [5, 9]
    assert trio.current_time() == pytest.approx(2)


class TestCancellingPartialJoinMIDeterminism:
    @staticmethod
    def term() -> wf.Term:
        # each instance's path is a scheduler choice; effects finish in random order
        body = wf.xor(wf.seq(effect("slow", {"s": 1}), noop("s2")), effect("fast", {"f": 1}))
        return wf.seq(wf.mi(body, count=4, join=2, cancel_rest=True, collect="c"), noop("after"))

    @pytest.mark.parametrize("seed", [0, 1, 5])
    def test_seeded_run_replays(self, seed: int) -> None:
        st = start(self.term(), scheduler=Seeded(seed))
        assert drive(st, random.Random(seed)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(self.term()), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx
        assert len(st.ctx["c"]) == 2

    def test_snapshot_restore_before_the_join_fires(self) -> None:
        ref = run(quotes(n=2, count=4))
        ref.feed_signal("reply", "a")
        ref.run()
        restored = via_json(ref)
        for st in (ref, restored):
            st.feed_signal("reply", "b")
            assert st.run() is Status.DONE
        assert restored.events[-8:] == ref.events[-8:]
        assert restored.ctx == ref.ctx == {"quotes": [{"got": "a", "r": 0}, {"got": "b", "r": 10}]}
        assert violations(restored) == []

    def test_snapshot_restore_while_spawning(self) -> None:
        body = waits_for_reply()
        term = wf.seq(wf.mi(body, count=100, join=1, cancel_rest=True, collect="c"), noop("x"))
        ref = start(term)
        ref.run(max_steps=2)  # the spawner has spawned one chunk of 64
        assert ref.status is Status.RUNNING
        restored = via_json(ref)
        for st in (ref, restored):
            st.run()
            assert len(st.signal_waiters("reply")) == 100
            st.feed_signal("reply", 7)
            assert st.run() is Status.DONE
            assert st.signal_waiters("reply") == []
            assert violations(st) == []
        assert restored.ctx == ref.ctx == {"c": [{"got": 7, "r": 0}]}


class TestCancellingPartialJoinMIStatic:
    def test_validate_finds_nothing(self) -> None:
        assert wf.validate(quotes(), signals={"reply"}) == []

    def test_validate_reports_a_join_no_instance_can_reach(self) -> None:
        never = wf.seq(wf.wait_signal("never"), noop("x"))
        term = wf.seq(wf.mi(never, count=3, join=2, cancel_rest=True), noop("after"))
        codes = [i.code for i in wf.validate(term, signals={"reply"})]
        assert "WF102" in codes

    def test_compiles_to_mi_spawn_with_cancel_rest(self) -> None:
        prog = wf.compile(quotes())
        (spawn,) = [i for i in prog.instrs if i.op == "mi_spawn"]
        assert spawn.ops.as_args()["cancel_rest"] is True
        plain = wf.compile(wf.mi(noop("a"), count=2, join=1))
        (spawn,) = [i for i in plain.instrs if i.op == "mi_spawn"]
        assert "cancel_rest" not in spawn.ops.as_args()  # fingerprints of old programs kept

    def test_repr_equality_hash(self) -> None:
        a = noop("a")
        t1 = wf.mi(a, count=3, join=2, cancel_rest=True)
        assert repr(t1) == f"mi({a!r}, count=3, join=2, cancel_rest=True)"
        assert t1 != wf.mi(a, count=3, join=2)
        assert hash(t1) != hash(wf.mi(a, count=3, join=2))

    @pytest.mark.parametrize(
        ("kw", "error", "match"),
        [
            ({"join": "all", "cancel_rest": True}, wf.TermError, r"cancel_rest needs a partial"),
            ({"join": "none", "cancel_rest": True}, wf.TermError, r"cancel_rest needs a partial"),
            ({"join": 1, "cancel_rest": 1}, wf.TermTypeError, r"cancel_rest=1.*bool"),
            ({"join": 4, "cancel_rest": True}, wf.TermError, r"join=4.*exceeds the 3"),
        ],
    )
    def test_bad_arguments(self, kw: dict[str, Any], error: type[Exception], match: str) -> None:
        with pytest.raises(error, match=match):
            wf.mi(noop("a"), count=3, **kw)

    # test_strategies.py::test_every_constructor_kind_is_generated: each option is drawn
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(hst.data())
    def test_strategy_draws_only_well_formed_options(self, data: hst.DataObject) -> None:
        term = data.draw(terms(max_leaves=6))
        for node in _mis(term):
            assert not node.cancel_rest or isinstance(node.join, int) or callable(node.join)
            assert node.more_on is None or node.close_on is not None


# ---------------------------------------------------------------------------
# WCP-27 complete multiple instance activity


def total_at_least(n: int) -> Any:
    def enough(results: list[Any]) -> bool:
        return sum(r["r"] for r in results) >= n

    enough.__qualname__ = f"total>={n}"
    return enough


def inspections(**kw: Any) -> wf.Term:
    """Inspect items as replies come in; stop once the findings add up (or on "stop")."""
    return wf.seq(wf.mi(waits_for_reply(), items=[1, 2, 3, 4, 5], collect="found", **kw),
                  noop("report"))  # fmt: skip


class TestCompleteMIActivity:
    def test_until_completes_from_inside_and_withdraws_the_rest(self) -> None:
        st = run(inspections(until=total_at_least(25)))
        st.feed_signal("reply", "x")
        assert st.run() is Status.BLOCKED  # 10 so far
        st.feed_signal("reply", "y")
        assert st.run() is Status.DONE  # 10 + 20 >= 25
        assert st.ctx["found"] == [{"got": "x", "r": 10}, {"got": "y", "r": 20}]
        (done,) = mi_events(st, "mi_completed")
        assert done == {"by": "until", "done": 2, "withdrawn": 3}
        assert st.signal_waiters("reply") == []
        assert completed(st) == ["record", "record", "report"]
        assert violations(st) == []

    def test_until_is_asked_after_each_instance(self) -> None:
        seen: list[int] = []

        def never(results: list[Any]) -> bool:
            seen.append(len(results))
            return False

        st = run(wf.mi(wf.task("r", tenfold), items=[1, 2, 3], until=never, collect="c"))
        assert st.status is Status.DONE
        assert seen == [1, 2, 3]
        assert mi_events(st, "mi_completed") == []  # every instance done: no early completion
        assert st.ctx["c"] == [{"r": 10}, {"r": 20}, {"r": 30}]

    def test_complete_on_signal_from_outside(self) -> None:
        st = run(inspections(complete_on="stop"))
        st.feed_signal("reply", "a")
        st.run()
        st.feed_signal("stop")
        assert st.run() is Status.DONE
        assert st.ctx["found"] == [{"got": "a", "r": 10}]
        (done,) = mi_events(st, "mi_completed")
        assert done == {"by": "signal", "done": 1, "withdrawn": 4}
        assert completed(st) == ["record", "report"]
        assert violations(st) == []

    def test_the_stop_signal_is_left_alone_once_the_activity_is_over(self) -> None:
        st = run(wf.seq(inspections(complete_on="stop"), wf.wait_signal("stop", store_as="s")))
        for _ in range(5):
            st.feed_signal("reply", "a")
        assert st.run() is Status.BLOCKED  # every instance done: the watcher is gone
        assert mi_events(st, "mi_completed") == []
        st.feed_signal("stop", "for the next step")
        assert st.run() is Status.DONE
        assert st.ctx["s"] == "for the next step"

    def test_a_raising_until_fails_the_case(self) -> None:
        def bad(results: list[Any]) -> bool:
            raise ValueError("no")

        st = run(wf.mi(noop("a"), count=2, until=bad))
        assert st.status is Status.FAILED

    def test_withdrawn_effects_are_cancelled_without_compensation(self) -> None:
        body = wf.seq(effect("fetch", {"ok": 1}), wf.task("record", tenfold))
        term = wf.region("r", wf.mi(body, items=[1, 2, 3], complete_on="enough"),
                         compensate=noop("undo"))  # fmt: skip
        st = run(term)
        starts = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
        st.feed_effect(starts[0].eid, {"ok": 1})
        st.run()
        st.feed_signal("enough")
        assert st.run() is Status.DONE
        cancelled = {c.eid for c in st.take_outbox() if isinstance(c, CancelEffect)}
        assert cancelled == {starts[1].eid, starts[2].eid}
        assert "undo" not in completed(st)

    def test_completed_after_a_partial_join_withdraws_the_late_ones(self) -> None:
        st = run(wf.seq(wf.mi(waits_for_reply(), count=3, join=1, complete_on="stop"),
                        noop("next")))  # fmt: skip
        st.feed_signal("reply", "a")
        assert st.run() is Status.BLOCKED  # fired; two late instances still wait
        assert completed(st) == ["record", "next"]
        st.feed_signal("stop")
        assert st.run() is Status.DONE
        (done,) = mi_events(st, "mi_completed")
        assert done["withdrawn"] == 2
        assert [e.kind for e in st.events].count("mi_joined") == 1  # continued once

    def test_completion_stops_the_spawning(self) -> None:
        def first(results: list[Any]) -> bool:
            return True

        st = run(wf.seq(wf.mi(noop("w"), count=300, until=first), noop("after")))
        assert st.status is Status.DONE
        assert completed(st).count("w") <= 64
        (done,) = mi_events(st, "mi_completed")
        assert done == {"by": "until", "done": 1, "withdrawn": 299}
        assert violations(st) == []

    def test_cancelling_the_enclosing_region_first(self) -> None:
        st = run(wf.seq(wf.region("r", inspections(complete_on="stop"), compensate=noop("undo")),
                        noop("end")))  # fmt: skip
        assert st.cancel_region("r") == 1
        assert st.run() is Status.DONE
        assert completed(st) == ["undo", "end"]
        st2 = run(wf.seq(inspections(complete_on="stop"), wf.wait_signal("stop")))
        st2.cancel()
        assert st2.status is Status.CANCELLED
        assert violations(st2) == []

    def test_in_a_loop(self) -> None:
        def rounds(ctx: Ctx) -> bool:
            return len(ctx.get("log", [])) < 3

        def log(ctx: Ctx) -> Mapping[str, Any]:
            return {"log": [*ctx.get("log", []), len(ctx["found"])]}

        st = run(wf.loop(wf.seq(wf.mi(waits_for_reply(), count=3, complete_on="stop",
                                      collect="found"), wf.task("log", log)),
                         while_=rounds))  # fmt: skip
        for k in range(3):
            for _ in range(k):
                st.feed_signal("reply", k)
            st.feed_signal("stop")
            st.run()
            assert violations(st) == []
        assert st.status is Status.DONE
        assert st.ctx["log"] == [0, 1, 2]

    def test_catalogue_alias(self) -> None:
        a = noop("a")
        enough = total_at_least(1)
        assert P.CATALOGUE[27] == ("complete_mi_activity", P.complete_mi_activity)
        assert P.complete_mi_activity(a, count=2, until=enough) == wf.mi(a, count=2, until=enough)
        with pytest.raises(wf.TermError, match="until=, complete_on="):
            P.complete_mi_activity(a, count=2)


async def test_complete_mi_activity_by_signal_on_the_runtime(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cancelled: list[int] = []

    async def inspect(ctx: Ctx) -> Mapping[str, Any]:
        try:
            await trio.sleep(ctx["item"])
        except trio.Cancelled:
            cancelled.append(ctx["item"])
            raise
        return {"r": ctx["item"]}

    term = wf.seq(wf.mi(wf.task("inspect", inspect), items=[1, 5, 10], complete_on="enough",
                        collect="c"), wf.task("after", lambda ctx: {"after": True}))  # fmt: skip
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await trio.sleep(2)
        await sub.signal(cid, "enough")
        res = await sub.wait(cid)
    assert res.ctx == {"c": [{"r": 1}], "after": True}
    assert sorted(cancelled) == [5, 10]
    assert trio.current_time() == pytest.approx(2)


class TestCompleteMIActivityDeterminism:
    @staticmethod
    def term() -> wf.Term:
        body = wf.xor(wf.seq(effect("slow", {"r": 1}), noop("s2")), effect("fast", {"r": 2}))
        return wf.seq(wf.mi(body, count=5, until=total_at_least(3), collect="c"), noop("after"))

    @pytest.mark.parametrize("seed", [0, 3, 8])
    def test_seeded_run_replays(self, seed: int) -> None:
        st = start(self.term(), scheduler=Seeded(seed))
        assert drive(st, random.Random(seed)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(self.term()), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx
        assert sum(r["r"] for r in st.ctx["c"]) >= 3

    def test_snapshot_restore_mid_way(self) -> None:
        ref = run(inspections(until=total_at_least(30), complete_on="stop"))
        ref.feed_signal("reply", "a")
        ref.run()
        restored = via_json(ref)
        for st in (ref, restored):
            st.feed_signal("reply", "b")
            assert st.run() is Status.DONE
            assert st.signal_waiters("stop") == []  # the watcher went with the activity
            assert violations(st) == []
        assert restored.ctx == ref.ctx
        assert restored.events[-6:] == ref.events[-6:]


class TestCompleteMIActivityStatic:
    def test_validate_finds_nothing(self) -> None:
        assert wf.validate(inspections(until=total_at_least(30)), signals={"reply"}) == []
        assert wf.validate(inspections(complete_on="stop"), signals={"reply", "stop"}) == []

    def test_validate_reports_a_completion_signal_that_cannot_come(self) -> None:
        # with neither the instances' signal nor the stop signal declared: stuck
        never = wf.seq(wf.wait_signal("never"), noop("x"))
        term = wf.seq(wf.mi(never, count=2, complete_on="stop"), noop("after"))
        assert wf.validate(term, signals={"never", "stop"}) == []  # stop can come
        assert {"WF109", "WF201"} <= {i.code for i in wf.validate(term, signals={"other"})}

    def test_a_completion_signal_lets_a_blocked_activity_finish(self) -> None:
        # no WF102: instances that never finish do not keep the join from firing
        # when the activity can be completed from outside
        stuck = wf.mi(wf.wait_signal("never"), count=2, complete_on="stop")
        race = wf.seq(wf.join(wf.first(1), stuck, wf.terminate()), noop("after"))
        assert "WF102" not in {i.code for i in wf.validate(race, signals={"stop"})}
        assert "WF102" in {i.code for i in wf.validate(race, signals={"other"})}
        partial = wf.mi(wf.wait_signal("never"), count=2, join=1, complete_on="stop")
        assert "WF102" not in {i.code for i in wf.validate(partial, signals={"stop"})}

    def test_compiles_to_a_watcher(self) -> None:
        prog = wf.compile(inspections(complete_on="stop"))
        (spawn,) = [i for i in prog.instrs if i.op == "mi_spawn"]
        (watch,) = spawn.ops.watch
        assert (watch.kind, watch.signal) == ("complete", "stop")
        assert prog.instrs[watch.entry].op == "wait_signal"
        assert prog.instrs[prog.instrs[watch.entry].next].op == "mi_signal"

    def test_repr(self) -> None:
        a = noop("a")
        term = wf.mi(a, count=2, until=total_at_least(3), complete_on="stop")
        assert repr(term) == f"mi({a!r}, count=2, until=total>=3, complete_on='stop')"

    @pytest.mark.parametrize(
        ("kw", "error", "match"),
        [
            ({"until": 3}, wf.TermTypeError, r"until"),
            ({"complete_on": ""}, wf.TermTypeError, r"complete_on"),
            ({"complete_on": "x", "more_on": "x", "close_on": "y"}, wf.TermError, r"both"),
        ],
    )
    def test_bad_arguments(self, kw: dict[str, Any], error: type[Exception], match: str) -> None:
        with pytest.raises(error, match=match):
            wf.mi(noop("a"), count=3, **kw)


def _mis(term: wf.Term) -> list[Any]:
    from wftrio.terms import MI, walk

    return [node for _, node in walk(term) if isinstance(node, MI)]
