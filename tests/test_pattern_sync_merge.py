"""Generalised AND-join (WCP-33), local (WCP-37) and general (WCP-38) synchronising merge.

One construct: a ``choice`` / ``join("sync_merge", ...)`` whose branches may
end with ``wf.halt()`` without arriving; the join fires once no live token
of its activation can still reach it.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as hst
from reducer_helpers import completed, drive, effect, inc, noop, start

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import ExecState, Status
from wftrio.engine.replay import run_with_inputs
from wftrio.graph import diagram
from wftrio.scheduling import Replay, Seeded
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.terms import Halt, walk
from wftrio.testing.invariants import check_invariants
from wftrio.testing.strategies import terms


def step(st: ExecState) -> Status:
    status = st.run()
    check_invariants(st)
    return status


def joins(st: ExecState) -> list[tuple[str, dict[str, Any]]]:
    return [(e.kind, dict(e.data)) for e in st.events if e.kind.startswith("join_")]


def halt_on(signal: str, arrive: wf.Term) -> wf.Term:
    """A branch that waits: ``signal`` ends it without arriving, ``go`` lets it arrive."""
    return wf.defer(wf.on_signal(signal, wf.halt()), wf.on_signal("go", arrive))


def flag(key: str) -> Any:
    def cond(ctx: Any) -> bool:
        return bool(ctx.get(key))

    return cond


class TestGeneralisedAndJoin:
    def test_waits_for_the_branches_that_did_not_halt(self) -> None:
        term = wf.seq(
            P.generalised_and_join(
                wf.seq(noop("a"), wf.halt()),  # ends without arriving
                wf.seq(wf.wait_signal("b"), noop("b")),
                noop("c"),
            ),
            noop("after"),
        )
        st = start(term)
        assert step(st) is Status.BLOCKED  # b can still arrive
        assert completed(st) == ["a", "c"]
        st.feed_signal("b")
        assert step(st) is Status.DONE
        assert completed(st) == ["a", "c", "b", "after"]
        assert joins(st) == [
            ("join_arrived", {"arrived": 0, "halted": True}),
            ("join_arrived", {"arrived": 1}),
            ("join_fired", {"arrived": 2, "of": 2}),
        ]

    def test_fires_when_the_last_live_branch_halts(self) -> None:
        term = wf.seq(P.generalised_and_join(noop("a"), halt_on("stop", noop("b"))), noop("after"))
        st = start(term)
        assert step(st) is Status.BLOCKED
        st.feed_signal("stop")  # a late branch withdraws itself: the join fires at once
        assert step(st) is Status.DONE
        assert completed(st) == ["a", "after"]
        assert joins(st)[-1] == ("join_fired", {"arrived": 1, "of": 1, "halted": True})

    def test_every_branch_halting_fires_once_with_none_arrived(self) -> None:
        st = start(wf.seq(P.generalised_and_join(wf.halt(), wf.halt()), noop("after")))
        assert step(st) is Status.DONE
        assert completed(st) == ["after"]
        assert joins(st)[-1] == ("join_fired", {"arrived": 0, "of": 0, "halted": True})

    def test_without_halts_it_is_the_and_join(self) -> None:
        term = wf.seq(P.generalised_and_join(noop("a"), wf.wait_signal("s")), noop("after"))
        st = start(term)
        assert step(st) is Status.BLOCKED
        st.feed_signal("s")
        assert step(st) is Status.DONE
        assert completed(st) == ["a", "after"]

    def test_cancelled_region_inside_a_branch_counts_as_arrived(self) -> None:
        body = wf.region("r", wf.wait_signal("never"), compensate=noop("undo"))
        term = wf.seq(P.generalised_and_join(body, wf.seq(noop("a"), wf.halt())), noop("after"))
        st = start(term)
        assert step(st) is Status.BLOCKED
        assert st.cancel_region("r") == 1
        assert step(st) is Status.DONE
        assert completed(st) == ["a", "undo", "after"]

    def test_cancel_region_around_the_join_withdraws_it(self) -> None:
        join = P.generalised_and_join(wf.halt(), wf.wait_signal("s"), noop("a"))
        term = wf.seq(wf.region("outer", join, compensate=noop("undo")), noop("after"))
        st = start(term)
        assert step(st) is Status.BLOCKED
        assert st.cancel_region("outer") == 1
        assert step(st) is Status.DONE
        assert completed(st) == ["a", "undo", "after"]
        assert not any(k == "join_fired" for k, _ in joins(st))

    def test_terminate_in_a_branch_ends_the_case(self) -> None:
        term = wf.seq(P.generalised_and_join(wf.terminate(), wf.halt()), noop("never"))
        st = start(term)
        assert step(st) is Status.DONE
        assert "never" not in completed(st)

    def test_loop_around_the_join_each_round_is_its_own_activation(self) -> None:
        # round by round a different branch halts; rounds never mix arrivals
        rounds = wf.seq(
            P.generalised_and_join(
                wf.xor(wf.branch(flag("odd"), wf.halt()), inc("a", "a")),
                wf.seq(wf.wait_signal("b"), inc("b", "b")),
            ),
            wf.task("flip", lambda ctx: {"odd": not ctx.get("odd")}),
        )
        st = start(wf.loop(rounds, times=3))
        for _ in range(3):
            assert step(st) is Status.BLOCKED
            st.feed_signal("b")
        assert step(st) is Status.DONE
        assert st.ctx == {"a": 2, "b": 3, "odd": True}
        assert [k for k, _ in joins(st)].count("join_fired") == 3


class TestLocalSynchronizingMerge:
    def test_waits_for_exactly_the_branches_started_and_not_halted(self) -> None:
        term = wf.seq(
            P.local_synchronizing_merge(
                wf.branch(flag("x"), wf.seq(noop("x"), wf.halt())),
                wf.branch(flag("y"), wf.seq(wf.wait_signal("y"), noop("y"))),
                wf.branch(flag("z"), noop("z")),  # not started
            ),
            noop("after"),
        )
        st = start(term, {"x": True, "y": True})
        assert step(st) is Status.BLOCKED
        split = next(e for e in st.events if e.kind == "split")
        assert {k: v for k, v in split.data.items() if k != "tokens"} == {
            "branches": [0, 1],
            "needed": 2,
        }
        assert len(set(split.data["tokens"])) == 2
        st.feed_signal("y")
        assert step(st) is Status.DONE
        assert completed(st) == ["x", "y", "after"]

    def test_a_branch_decides_late_whether_to_arrive(self) -> None:
        term = wf.seq(
            P.local_synchronizing_merge(noop("a"), halt_on("skip", noop("b"))), noop("after")
        )
        for signal, done in (("go", ["a", "b", "after"]), ("skip", ["a", "after"])):
            st = start(term)
            assert step(st) is Status.BLOCKED
            st.feed_signal(signal)
            assert step(st) is Status.DONE
            assert completed(st) == done

    def test_no_condition_holding_still_fails(self) -> None:
        st = start(P.local_synchronizing_merge(wf.branch(flag("x"), wf.halt())))
        assert step(st) is Status.FAILED


class TestGeneralSynchronizingMerge:
    def test_a_looping_branch_counts_until_it_halts(self) -> None:
        # the branch may come round again: the join waits for it, round after round
        body = wf.seq(
            wf.wait_signal("tick"),
            inc("rounds", "rounds"),
            wf.xor(wf.branch(lambda ctx: ctx["rounds"] >= 3, wf.halt()), noop("again")),
        )
        term = wf.seq(
            P.general_synchronizing_merge(noop("a"), wf.loop(body, while_=lambda ctx: True)),
            noop("after"),
        )
        st = start(term)
        for _ in range(2):
            assert step(st) is Status.BLOCKED
            assert "after" not in completed(st)
            st.feed_signal("tick")
        assert step(st) is Status.BLOCKED
        st.feed_signal("tick")
        assert step(st) is Status.DONE
        assert st.ctx["rounds"] == 3
        assert completed(st)[-1] == "after"

    def test_arbitrary_cycles_in_a_branch(self) -> None:
        # a state machine (WCP-10) in one branch: its review cycle may come round
        # again any number of times; the "drop" state ends the branch unmerged
        machine = wf.machine(
            "review",
            {
                "review": (
                    wf.wait_signal("verdict", store_as="v"),
                    [
                        (lambda ctx: ctx["v"] == "redo", "review"),
                        (lambda ctx: ctx["v"] == "drop", "drop"),
                        wf.END,
                    ],
                ),
                "drop": (wf.halt(), wf.END),
            },
        )
        term = wf.seq(P.general_synchronizing_merge(noop("a"), machine), noop("after"))
        for verdicts, arrived in ((["redo", "ok"], 2), (["redo", "redo", "drop"], 1)):
            st = start(term)
            for v in verdicts:
                assert step(st) is Status.BLOCKED
                st.feed_signal("verdict", v)
            assert step(st) is Status.DONE
            assert completed(st)[-1] == "after"
            assert [d for k, d in joins(st) if k == "join_fired"][0]["arrived"] == arrived

    def test_nested_merges_each_count_their_own_branches(self) -> None:
        inner = P.general_synchronizing_merge(wf.halt(), noop("i"))
        term = wf.seq(P.general_synchronizing_merge(inner, wf.halt()), noop("after"))
        st = start(term)
        assert step(st) is Status.DONE
        assert completed(st) == ["i", "after"]


class TestProperties:
    @settings(max_examples=60, deadline=None, database=None)
    @given(
        hst.lists(hst.booleans(), min_size=1, max_size=5).flatmap(
            lambda arrive: hst.tuples(hst.just(arrive), hst.permutations(range(len(arrive))))
        )
    )
    def test_fires_once_after_the_last_branch_arrives_or_halts(
        self, case: tuple[list[bool], list[int]]
    ) -> None:
        arrive, order = case
        branches = [
            wf.defer(wf.on_signal(f"h{i}", wf.halt()), wf.on_signal(f"a{i}", inc(f"b{i}", f"b{i}")))
            for i in range(len(arrive))
        ]
        st = start(wf.seq(P.generalised_and_join(*branches), inc("after", "after")))
        assert step(st) is Status.BLOCKED
        for k, i in enumerate(order):
            st.feed_signal(f"{'a' if arrive[i] else 'h'}{i}")
            status = step(st)
            last = k == len(order) - 1
            assert status is (Status.DONE if last else Status.BLOCKED)
            assert ("after" in st.ctx) is last
        assert st.ctx == {"after": 1} | {f"b{i}": 1 for i, a in enumerate(arrive) if a}
        (fired,) = [d for k, d in joins(st) if k == "join_fired"]
        assert fired["arrived"] == sum(arrive)

    def test_halt_in_a_counted_loop_ends_the_branch_mid_way(self) -> None:
        body = wf.seq(
            inc("round", "rounds"),
            wf.xor(wf.branch(lambda ctx: ctx["rounds"] == 2, wf.halt()), noop("on")),
        )
        term = wf.seq(P.general_synchronizing_merge(wf.loop(body, times=3), noop("b")), noop("z"))
        st = start(term)
        assert step(st) is Status.DONE
        assert st.ctx == {"rounds": 2}
        # the loop's third round never runs: the branch ended in its second
        assert completed(st) == ["round", "on", "round", "b", "z"]


class TestDeterminism:
    @staticmethod
    def term() -> wf.Term:
        maybe = wf.xor(wf.branch(lambda ctx: ctx.get("n", 0) % 2 == 1, wf.halt()), inc("x", "x"))
        merge = P.local_synchronizing_merge(
            wf.seq(effect("ask", None), inc("work", "n"), maybe),
            wf.seq(effect("tell", None), inc("work2", "n")),
            wf.seq(inc("c", "n"), wf.halt()),
        )
        return wf.loop(wf.seq(merge, inc("round", "rounds")), times=2)

    @pytest.mark.parametrize("seed", [0, 1, 7])
    def test_seeded_run_replays(self, seed: int) -> None:
        st = start(self.term(), scheduler=Seeded(seed))
        assert drive(st, random.Random(seed)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(self.term()), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx
        assert st.ctx["rounds"] == 2

    def test_snapshot_restore_after_a_halt_before_the_join_fires(self) -> None:
        term = wf.seq(
            P.generalised_and_join(
                wf.seq(noop("a"), wf.halt()), halt_on("stop", noop("b")), wf.wait_signal("c")
            ),
            noop("after"),
        )
        whole, cut = start(term), start(term)
        for st in (whole, cut):
            assert step(st) is Status.BLOCKED
            st.feed_signal("stop")
            assert step(st) is Status.BLOCKED  # two halted, c still live
        back = ExecState.restore(wf.compile(term), loads_snapshot(dumps_snapshot(cut.snapshot())))
        check_invariants(back)
        for st in (whole, back):
            st.feed_signal("c")
            assert step(st) is Status.DONE
            assert completed(st)[-1] == "after"
        tail = [(e.kind, e.name, dict(e.data)) for e in back.events]
        assert tail == [(e.kind, e.name, dict(e.data)) for e in whole.events][-len(tail) :]

    async def test_on_the_substrate(self) -> None:
        term = wf.seq(
            P.generalised_and_join(wf.seq(effect("call", {"called": True}), wf.halt()), noop("b")),
            inc("after", "after"),
        )
        async with wf.open_substrate() as sub:
            case = await sub.new_case(term)
            result = await sub.wait(case)
        assert result.ctx == {"called": True, "after": 1}


class TestStatic:
    def test_validate_correct_use(self) -> None:
        # the explorer runs the halting firing rule: without it "after" would be
        # dead and the case deadlocked
        term = wf.seq(
            P.general_synchronizing_merge(
                wf.seq(noop("a"), wf.halt()), halt_on("stop", noop("b")), noop("c")
            ),
            noop("after"),
        )
        assert wf.validate(term, signals={"stop", "go"}) == []

    def test_validate_broken_use(self) -> None:
        # a step after halt() never runs; a live branch that can never arrive
        # nor halt keeps the merge from firing
        dead = P.generalised_and_join(wf.seq(wf.halt(), noop("never")), noop("b"))
        assert [i.code for i in wf.validate(dead)] == ["WF205"]
        stuck = wf.seq(
            P.generalised_and_join(wf.halt(), wf.defer(wf.on_signal("x", noop("x")))),
            noop("after"),
        )
        codes = {i.code for i in wf.validate(stuck, signals={"y"})}
        assert {"WF201", "WF205"} <= codes
        # a loop whose every round halts is never left
        looped = P.general_synchronizing_merge(wf.loop(wf.seq(noop("a"), wf.halt()), times=2))
        assert [i.code for i in wf.validate(wf.seq(looped, noop("z")))] == ["WF204"]

    def test_halt_outside_a_synchronising_merge_is_refused(self) -> None:
        a = noop("a")
        bad = {
            r"halt\(\) at halt: it is not inside a branch": wf.halt(),
            r"halt\(\) at par\[0\]\.halt: its nearest split, par,": wf.par(wf.halt(), a),
            r"join\[0\]\.halt": wf.join(wf.first(1), wf.halt(), a),
            r"threads\[0\]\.halt": wf.choice(wf.threads(2, wf.halt())),
            r"inside choice\[0\]\.region\('r'\)": wf.choice(wf.region("r", wf.halt()), a),
            r"inside choice\[0\]\.mi": wf.choice(wf.mi(wf.halt(), count=2), a),
            r"par\[0\]\.halt": wf.choice(wf.par(wf.halt(), a)),
        }
        for message, term in bad.items():
            with pytest.raises(wf.TermError, match=message):
                wf.compile(term)
        with pytest.raises(wf.TermError, match="generalised_and_join"):
            P.generalised_and_join(wf.branch(flag("x"), a))

    def test_compiles_to_fork_join_and_halt(self) -> None:
        prog = wf.compile(P.generalised_and_join(wf.seq(noop("a"), wf.halt()), noop("b")))
        assert [i.op for i in prog.instrs] == ["fork", "join", "task", "halt", "task", "end"]
        assert prog.instrs[3].next == -1  # a halt has no successor

    def test_term_form_and_repr(self) -> None:
        a, b = noop("a"), noop("b")
        assert P.CATALOGUE[33] == ("generalised_and_join", P.generalised_and_join)
        assert P.CATALOGUE[37] == ("local_synchronizing_merge", P.local_synchronizing_merge)
        assert P.CATALOGUE[38] == ("general_synchronizing_merge", P.general_synchronizing_merge)
        assert P.generalised_and_join(a, b) == wf.join("sync_merge", a, b)
        assert P.general_synchronizing_merge(a, b) == wf.join("sync_merge", a, b)
        assert P.local_synchronizing_merge(a, b) == wf.choice(a, b)
        assert repr(wf.halt()) == "halt()"
        assert wf.halt() == wf.halt()
        assert hash(wf.halt()) == hash(wf.halt())
        assert wf.halt() != wf.terminate()
        d = diagram(wf.choice(wf.seq(a, wf.halt()), b))
        assert d.labels("halt") == ["halt"]
        assert d.labels("end") == ["end"]

    def test_strategy_draws_halts(self) -> None:
        term = find(
            terms(effects=False, signals=False, timers=False),
            lambda t: any(isinstance(n, Halt) for _, n in walk(t)),
            settings=settings(
                database=None, derandomize=True, suppress_health_check=list(HealthCheck)
            ),
        )
        st = ExecState(wf.compile(term))
        assert st.run() in (Status.DONE, Status.FAILED)
        check_invariants(st)


def mark_a(ctx: Any) -> Any:
    return {"a": True}


def mark_after(ctx: Any) -> Any:
    return {"after": True}


def durable_review() -> wf.Term:
    review = wf.defer(wf.on_signal("drop", wf.halt()), wf.on_signal("ok", wf.task("a", mark_a)))
    return wf.seq(
        P.general_synchronizing_merge(review, wf.seq(wf.wait_signal("b"), wf.halt())),
        wf.task("after", mark_after),
    )


async def test_durable_case_resumes_after_a_halt(tmp_path: Any) -> None:
    reg = wf.Registry()
    reg.register("review", durable_review(), version=1)
    assert wf.validate(durable_review(), durable=True, signals={"drop", "ok", "b"}) == []
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        cid = await sub.new_case("review", {}, case_id="r1")
        await sub.wait_state(cid, "waiting_signal")
        await sub.signal(cid, "b")  # one branch halts: the join waits for the review
        await trio.testing.wait_all_tasks_blocked()
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert sub.case_ids() == ["r1"]
        await sub.wait_state("r1", "waiting_signal")
        await sub.signal("r1", "ok")
        res = await sub.wait("r1")
    assert res.state is wf.CaseState.DONE
    assert res.ctx == {"a": True, "after": True}
    fired = [e.data for e in res.trace if e.kind == "join_fired"]
    assert fired == [{"arrived": 1, "of": 1}]
