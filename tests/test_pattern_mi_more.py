"""MI patterns whose instances are added while the activity runs.

WCP-15, multiple instances without a priori run-time knowledge:
``mi(..., more_on=signal, close_on=signal)``; WCP-36, the dynamic partial
join for MI: ``mi(..., join=cond, more_on=...)``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing
from reducer_helpers import completed, drive, effect, noop, run, start

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import ExecState, Status
from wftrio.engine.consistency import violations
from wftrio.engine.replay import run_with_inputs
from wftrio.runtime import open_substrate
from wftrio.scheduling import Replay, Seeded
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.validation import analyze

Ctx = Mapping[str, Any]


def price(ctx: Ctx) -> Mapping[str, Any]:
    return {"price": ctx["item"]["amount"] * 2}


def orders(**kw: Any) -> wf.Term:
    """Price order lines as they come in (signal ``line``) until ``no_more``."""
    return wf.seq(
        wf.mi(wf.task("price", price), items=[{"amount": 1}], more_on="line",
              close_on="no_more", collect="priced", **kw),
        noop("invoice"),
    )  # fmt: skip


def via_json(st: ExecState) -> ExecState:
    snap = st.snapshot()
    restored = ExecState.restore(st.program, loads_snapshot(dumps_snapshot(snap)))
    assert restored.snapshot() == snap
    return restored


def events(st: ExecState, kind: str) -> list[Mapping[str, Any]]:
    return [dict(e.data) for e in st.events if e.kind == kind]


# ---------------------------------------------------------------------------
# WCP-15


class TestMIWithoutAPrioriKnowledge:
    def test_instances_added_on_signal_until_closed(self) -> None:
        st = run(orders())
        assert st.status is Status.BLOCKED  # the first line is priced, more may come
        assert completed(st) == ["price"]
        st.feed_signal("line", {"amount": 5})
        st.feed_signal("line", {"amount": 7})
        assert st.run() is Status.BLOCKED
        assert completed(st) == ["price"] * 3  # every instance is done, yet it stays open
        st.feed_signal("no_more")
        assert st.run() is Status.DONE
        assert st.ctx["priced"] == [{"price": 2}, {"price": 10}, {"price": 14}]
        assert completed(st)[-1] == "invoice"
        assert [e["index"] for e in events(st, "mi_instance_added")] == [1, 2]
        assert events(st, "mi_closed") == [{"instances": 3}]
        assert st.signal_waiters("line") == []
        assert violations(st) == []

    def test_close_waits_for_the_instances_still_running(self) -> None:
        body = wf.seq(wf.wait_signal("done"), wf.task("price", price))
        st = run(wf.seq(wf.mi(body, items=[], more_on="line", close_on="no_more",
                              collect="priced"), noop("invoice")))  # fmt: skip
        st.feed_signal("line", {"amount": 3})
        st.feed_signal("no_more")
        assert st.run() is Status.BLOCKED  # closed, but the instance has not finished
        assert "invoice" not in completed(st)
        st.feed_signal("done")
        assert st.run() is Status.DONE
        assert st.ctx["priced"] == [{"price": 6}]

    def test_no_instance_at_all(self) -> None:
        st = run(wf.seq(wf.mi(noop("x"), items=[], more_on="line", close_on="no_more",
                              collect="c"), noop("after")))  # fmt: skip
        assert st.status is Status.BLOCKED
        st.feed_signal("no_more")
        assert st.run() is Status.DONE
        assert st.ctx == {"c": []}

    def test_a_line_after_closing_waits_for_someone_else(self) -> None:
        st = run(wf.seq(orders(), wf.wait_signal("line", store_as="late")))
        st.feed_signal("no_more")
        st.run()
        st.feed_signal("line", {"amount": 9})
        assert st.run() is Status.DONE
        assert st.ctx["late"] == {"amount": 9}
        assert len(st.ctx["priced"]) == 1

    @pytest.mark.parametrize("seed", range(5))
    def test_added_while_the_first_ones_still_spawn(self, seed: int) -> None:
        # a preemptive scheduler may run the watcher between the spawner's chunks:
        # the added item then joins the spawner's list
        term = wf.mi(wf.task("price", price), items=[{"amount": 1}] * 100, more_on="line",
                     close_on="no_more", collect="priced")  # fmt: skip
        st = start(term, scheduler=Seeded(seed))
        st.feed_signal("line", {"amount": 50})
        st.run(max_steps=3)
        st.feed_signal("no_more")
        assert st.run() is Status.DONE
        assert len(st.ctx["priced"]) == 101
        assert st.ctx["priced"][100] == {"price": 100}  # added last, in item order
        assert violations(st) == []

    def test_closing_below_a_partial_join_fails_the_case(self) -> None:
        st = run(orders(join=3))
        st.feed_signal("no_more")
        assert st.run() is Status.FAILED
        assert "join=3 but only 1 instances" in str(st.error)

    def test_partial_join_fires_on_added_instances(self) -> None:
        st = run(orders(join=2))
        st.feed_signal("line", {"amount": 4})
        st.run()
        assert completed(st) == ["price", "price", "invoice"]  # fired before any close
        assert st.status is Status.BLOCKED  # still open: more lines are absorbed
        st.feed_signal("line", {"amount": 6})
        st.feed_signal("no_more")
        assert st.run() is Status.DONE
        assert st.ctx["priced"] == [{"price": 2}, {"price": 8}]

    def test_complete_on_ends_an_open_activity(self) -> None:
        body = wf.seq(wf.wait_signal("done"), wf.task("price", price))
        term = wf.mi(body, items=[], more_on="line", complete_on="cancel_rest", collect="c")
        st = run(term)
        st.feed_signal("line", {"amount": 1})
        st.feed_signal("line", {"amount": 2})
        st.run()
        st.feed_signal("done")  # one of the two instances finishes
        st.run()
        st.feed_signal("cancel_rest")
        assert st.run() is Status.DONE
        assert len(st.ctx["c"]) == 1
        assert events(st, "mi_completed") == [{"by": "signal", "done": 1, "withdrawn": 1}]
        assert st.signal_waiters("done") == []

    def test_cancelling_the_enclosing_region(self) -> None:
        st = run(wf.seq(wf.region("o", orders(), compensate=noop("undo")), noop("end")))
        st.feed_signal("line", {"amount": 2})
        st.run()
        assert st.cancel_region("o") == 1
        assert st.run() is Status.DONE
        assert completed(st)[-2:] == ["undo", "end"]
        assert st.signal_waiters("line") == []
        assert st.signal_waiters("no_more") == []
        assert violations(st) == []

    def test_in_a_loop(self) -> None:
        def again(ctx: Ctx) -> bool:
            return len(ctx.get("sizes", [])) < 2

        def size(ctx: Ctx) -> Mapping[str, Any]:
            return {"sizes": [*ctx.get("sizes", []), len(ctx["priced"])]}

        st = run(wf.loop(wf.seq(orders(), wf.task("size", size)), while_=again))
        st.feed_signal("line", {"amount": 1})
        st.feed_signal("no_more")
        st.run()
        assert violations(st) == []
        st.feed_signal("no_more")
        assert st.run() is Status.DONE
        assert st.ctx["sizes"] == [2, 1]

    def test_catalogue_alias(self) -> None:
        a = noop("a")
        assert P.CATALOGUE[15] == (
            "mi_without_a_priori_runtime_knowledge",
            P.mi_without_a_priori_runtime_knowledge,
        )
        assert P.mi_without_a_priori_runtime_knowledge(a, more_on="m", close_on="c") == wf.mi(
            a, items=[], more_on="m", close_on="c"
        )

    @pytest.mark.parametrize(
        ("kw", "match"),
        [
            ({"more_on": "m"}, r"more_on='m'.*close_on=.*complete_on=.*until="),
            ({"close_on": "c"}, r"close_on='c'.*needs more_on"),
            ({"more_on": "m", "close_on": "c", "join": "none"}, r"join='none'"),
            ({"more_on": "m", "close_on": "m"}, r"both"),
        ],
    )
    def test_bad_arguments(self, kw: dict[str, Any], match: str) -> None:
        with pytest.raises(wf.TermError, match=match):
            wf.mi(noop("a"), items=[], **kw)


async def test_instances_added_by_signal_on_the_runtime(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow_price(ctx: Ctx) -> Mapping[str, Any]:
        await trio.sleep(ctx["item"]["amount"])
        return {"price": ctx["item"]["amount"] * 2}

    term = wf.seq(wf.mi(wf.task("price", slow_price), items=[], more_on="line",
                        close_on="no_more", collect="priced"), noop("invoice"))  # fmt: skip
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.signal(cid, "line", {"amount": 3})
        await trio.sleep(1)
        await sub.signal(cid, "line", {"amount": 1})
        await sub.signal(cid, "no_more")
        res = await sub.wait(cid)
    assert res.ctx == {"priced": [{"price": 6}, {"price": 2}]}
    assert trio.current_time() == pytest.approx(3)


class TestMIWithoutAPrioriKnowledgeDeterminism:
    @staticmethod
    def term() -> wf.Term:
        body = wf.xor(effect("a", {"r": 1}), wf.seq(effect("b", {"r": 2}), noop("b2")))
        return wf.seq(wf.mi(body, items=[0], more_on="more", close_on="close", collect="c"),
                      noop("after"))  # fmt: skip

    @pytest.mark.parametrize("seed", [0, 2, 9])
    def test_seeded_run_replays(self, seed: int) -> None:
        rng = random.Random(seed)
        st = start(self.term(), scheduler=Seeded(seed))
        st.run()
        for i in range(3):
            st.feed_signal("more", i)
            st.run()
        st.feed_signal("close")

        def answer(s: ExecState, pending: list[Any]) -> None:
            if rng.random() < 0.3 and s.status is not Status.DONE:
                s.feed_signal("more", "late")  # after the close: for nobody

        assert drive(st, rng, answer) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(self.term()), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx
        assert len(st.ctx["c"]) == 4

    def test_snapshot_restore_while_open(self) -> None:
        body = wf.seq(wf.wait_signal("done"), wf.task("price", price))
        term = wf.mi(body, items=[{"amount": 1}], more_on="line", close_on="no_more",
                     collect="priced")  # fmt: skip
        ref = run(term)
        ref.feed_signal("line", {"amount": 4})
        ref.feed_signal("done")
        ref.run()
        restored = via_json(ref)
        for st in (ref, restored):
            st.feed_signal("line", {"amount": 2})
            st.feed_signal("no_more")
            assert st.run() is Status.BLOCKED  # closed; two instances still wait
            st.feed_signal("done")
            st.feed_signal("done")
            assert st.run() is Status.DONE
            assert violations(st) == []
        assert restored.ctx == ref.ctx
        assert restored.events[-12:] == ref.events[-12:]
        assert [p["price"] for p in ref.ctx["priced"]] == [2, 8, 4]


# ---------------------------------------------------------------------------
# WCP-36


def two_cheap(results: list[Any]) -> bool:
    """Enough once two lines priced under 10."""
    return sum(1 for r in results if r["price"] < 10) >= 2


def bids(**kw: Any) -> wf.Term:
    body = wf.seq(wf.wait_signal("quote", store_as="q"), wf.task("price", price))
    return wf.seq(
        wf.mi(body, items=[{"amount": 1}, {"amount": 20}], join=two_cheap, more_on="bidder",
              close_on="closed", collect="bids", **kw),
        noop("award"),
    )  # fmt: skip


class TestDynamicPartialJoinMI:
    def test_continues_when_the_condition_holds_while_instances_are_added(self) -> None:
        st = run(bids())
        st.feed_signal("quote")  # instance 0: price 2
        st.feed_signal("quote")  # instance 1: price 40
        st.run()
        assert "award" not in completed(st)  # one cheap bid so far
        st.feed_signal("bidder", {"amount": 3})
        st.feed_signal("quote")  # instance 2: price 6 -> two cheap
        assert st.run() is Status.BLOCKED  # continued, but still open for bidders
        assert completed(st)[-1] == "award"
        assert [b["price"] for b in st.ctx["bids"]] == [2, 40, 6]
        (joined,) = events(st, "mi_joined")
        assert joined["by"] == "condition"
        st.feed_signal("bidder", {"amount": 1})  # a late bidder: absorbed
        st.feed_signal("quote")
        st.feed_signal("closed")
        assert st.run() is Status.DONE
        assert [b["price"] for b in st.ctx["bids"]] == [2, 40, 6]  # fixed at the join
        assert completed(st).count("award") == 1
        assert violations(st) == []

    def test_with_cancel_rest_the_rest_are_withdrawn(self) -> None:
        st = run(bids(cancel_rest=True))
        st.feed_signal("bidder", {"amount": 3})
        st.feed_signal("bidder", {"amount": 4})
        st.run()
        for _ in range(3):  # the oldest waiters first: instances 0, 1, 2
            st.feed_signal("quote")
        assert st.run() is Status.DONE  # fired on two cheap bids, one bidder withdrawn
        # instance 3 (amount 4) was added last, so it ran (and began waiting) first
        assert [b["price"] for b in st.ctx["bids"]] == [2, 40, 8]
        (joined,) = events(st, "mi_joined")
        assert joined == {"done": 3, "of": 4, "by": "condition", "withdrawn": 1}
        assert st.signal_waiters("quote") == []
        assert st.signal_waiters("bidder") == []
        assert violations(st) == []
        st2 = run(bids(cancel_rest=True))
        st2.feed_signal("quote")
        st2.feed_signal("bidder", {"amount": 2})
        st2.run()
        st2.feed_signal("quote")  # taken by instance 1 (price 40): not enough
        st2.feed_signal("quote")  # instance 2: price 4 -> fires, nothing left
        assert st2.run() is Status.DONE
        assert st2.signal_waiters("bidder") == []
        assert st2.signal_waiters("closed") == []
        (joined,) = events(st2, "mi_joined")
        assert joined["withdrawn"] == 0

    def test_cancelling_before_every_instance_is_spawned(self) -> None:
        def first(results: list[Any]) -> bool:
            return True

        term = wf.seq(wf.mi(noop("w"), items=list(range(100)), join=first, cancel_rest=True,
                            more_on="m", close_on="c"), noop("after"))  # fmt: skip
        st = start(term)
        while st.run(max_steps=1) is Status.RUNNING:
            assert violations(st) == []  # the spawner outlives the join by a step
        assert st.status is Status.DONE
        assert completed(st)[-1] == "after"
        assert st.signal_waiters("m") == []

    def test_never_holding_fires_when_all_are_done_and_closed(self) -> None:
        st = run(bids())
        st.feed_signal("quote")
        st.feed_signal("quote")
        st.feed_signal("closed")
        assert st.run() is Status.DONE
        (joined,) = events(st, "mi_joined")
        assert "by" not in joined  # by count: every instance done
        assert [b["price"] for b in st.ctx["bids"]] == [2, 40]

    def test_a_raising_condition_fails_the_case(self) -> None:
        def bad(results: list[Any]) -> bool:
            raise KeyError("price")

        st = run(wf.mi(noop("a"), count=2, join=bad))
        assert st.status is Status.FAILED

    def test_catalogue_alias(self) -> None:
        a = noop("a")
        assert P.CATALOGUE[36] == ("dynamic_partial_join_mi", P.dynamic_partial_join_mi)
        assert P.dynamic_partial_join_mi(a, two_cheap, more_on="m", close_on="c") == wf.mi(
            a, items=[], join=two_cheap, more_on="m", close_on="c"
        )
        assert repr(wf.mi(a, count=1, join=two_cheap)).endswith("join=two_cheap)")


class TestDynamicPartialJoinMIDeterminism:
    @pytest.mark.parametrize("seed", [1, 4])
    def test_seeded_run_replays(self, seed: int) -> None:
        def enough(results: list[Any]) -> bool:
            return sum(r["r"] for r in results) >= 3

        body = wf.xor(effect("a", {"r": 1}), effect("b", {"r": 2}))
        term = wf.mi(body, items=[0, 1], join=enough, more_on="more", close_on="close",
                     collect="c")  # fmt: skip
        st = start(term, scheduler=Seeded(seed))
        st.run()
        st.feed_signal("more", 2)
        st.feed_signal("close")
        assert drive(st, random.Random(seed)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(term), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx

    def test_snapshot_restore_after_the_join(self) -> None:
        ref = run(bids())
        for _ in range(2):
            ref.feed_signal("quote")
        ref.feed_signal("bidder", {"amount": 3})
        ref.feed_signal("quote")
        ref.run()
        assert completed(ref)[-1] == "award"
        restored = via_json(ref)
        for st in (ref, restored):
            st.feed_signal("bidder", {"amount": 2})
            st.feed_signal("quote")
            st.feed_signal("closed")
            assert st.run() is Status.DONE
            assert violations(st) == []
        assert restored.ctx == ref.ctx
        assert restored.events[-5:] == ref.events[-5:]


class TestStatic:
    def test_validate_finds_nothing(self) -> None:
        assert wf.validate(orders(), signals={"line", "no_more"}) == []
        assert wf.validate(bids(), signals={"quote", "bidder", "closed"}) == []

    def test_validate_reports_an_activity_that_never_closes(self) -> None:
        codes = {i.code for i in wf.validate(orders(), signals={"line"})}
        assert {"WF109", "WF201"} <= codes  # no_more can never come: stuck open

    def test_durable_validation_names_a_lambda_condition(self) -> None:
        term = wf.mi(noop("a"), count=2, join=lambda results: True, until=lambda r: False)
        found = [i.message for i in wf.validate(term, durable=True) if i.code == "WF107"]
        assert any("join condition" in m for m in found)
        assert any("until condition" in m for m in found)

    def test_graph_labels_the_options(self) -> None:
        from wftrio.graph import diagram

        (c,) = diagram(bids()).clusters
        assert c.label == (
            "≡ mi(items=2, join=two_cheap, collect=bids, more_on=bidder, close_on=closed)"
        )

    def test_validation_explores_a_bounded_number_of_added_instances(self) -> None:
        # every line adds an instance: the exploration stops adding at max_instances
        rep = analyze(orders(), signals={"line", "no_more"})
        assert rep.complete
        assert rep.ok
        assert analyze(orders(), signals={"line", "no_more"}, max_instances=5).complete
        # a join=n above max_instances is explored with n instances: no false finding
        assert wf.validate(orders(join=5), signals={"line", "no_more"}) == []


def two_priced(results: list[Any]) -> bool:
    return len(results) >= 2


def durable_orders() -> wf.Term:
    body = wf.seq(wf.wait_signal("ok"), wf.task("price", price))
    return wf.seq(
        wf.mi(body, items=[{"amount": 1}], join=two_priced, more_on="line",
              close_on="no_more", collect="priced"),
        wf.task("invoice", invoice),
    )  # fmt: skip


def invoice(ctx: Ctx) -> Mapping[str, Any]:
    return {"total": sum(p["price"] for p in ctx["priced"])}


async def test_durable_case_with_added_instances_resumes_mid_way(tmp_path: Any) -> None:
    reg = wf.Registry()
    reg.register("orders", durable_orders(), version=1)
    assert wf.validate(durable_orders(), durable=True, signals={"ok", "line", "no_more"}) == []
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        cid = await sub.new_case("orders", {}, case_id="o1")
        await sub.wait_state(cid, "waiting_signal")
        await sub.signal(cid, "line", {"amount": 3})
        await sub.signal(cid, "ok")
        await trio.testing.wait_all_tasks_blocked()
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert sub.case_ids() == ["o1"]
        await sub.wait_state("o1", "waiting_signal")
        await sub.signal("o1", "line", {"amount": 5})
        await sub.signal("o1", "ok")  # two priced: the join fires
        await trio.testing.wait_all_tasks_blocked()
        await sub.signal("o1", "ok")
        await sub.signal("o1", "no_more")
        res = await sub.wait("o1")
    assert res.state is wf.CaseState.DONE
    assert len(res.ctx["priced"]) == 2
    assert res.ctx["total"] == sum(p["price"] for p in res.ctx["priced"])
    kinds = [e.kind for e in res.trace]
    assert kinds.count("mi_instance_added") == 2
    assert kinds.count("mi_joined") == 1
