"""Blocking discriminator (WCP-28) and partial join (WCP-31): ``first(n, blocking=True)``."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, find, settings
from reducer_helpers import completed, drive, effect, inc, noop, start

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import ExecState, Status, program_fingerprint
from wftrio.engine.replay import run_with_inputs
from wftrio.errors import SerializationError, TermError, TermTypeError
from wftrio.scheduling import Replay, Seeded
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.terms import First, Join, walk
from wftrio.testing.invariants import check_invariants
from wftrio.testing.strategies import terms

Ctx = Mapping[str, Any]


def late(x: str) -> wf.Term:
    """A branch that arrives only after signal ``reply_x``."""
    return wf.seq(wf.wait_signal(f"reply_{x}"), noop(f"late_{x}"))


def rounds(policy: wf.First, *branches: wf.Term, times: int = 2) -> wf.Term:
    """``times`` rounds of the join, each followed by ``go_on``."""
    return wf.loop(wf.seq(wf.join(policy, *branches), inc("go_on", "rounds")), times=times)


def fired(st: ExecState) -> list[dict[str, Any]]:
    return [dict(e.data) for e in st.events if e.kind == "join_fired"]


def step(st: ExecState) -> Status:
    status = st.run()
    check_invariants(st)
    return status


class TestRuns:
    def test_blocking_discriminator_holds_the_next_round_until_reset(self) -> None:
        # not blocking: round 2's fast branch passes while round 1's slow one still runs
        st = start(rounds(wf.first(1), noop("fast"), late("slow")))
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"rounds": 2}
        # blocking: round 2's arrivals are held until round 1 has reset
        st = start(rounds(wf.first(1, blocking=True), noop("fast"), late("slow")))
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"rounds": 1}
        held = [e.data["held"] for e in st.events if e.kind == "join_arrived"]
        assert held == [1]
        st.feed_signal("reply_slow")  # round 2's slow branch registered first: held too
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"rounds": 1}
        st.feed_signal("reply_slow")  # round 1's slow branch arrives: reset, release
        assert step(st) is Status.DONE
        assert st.ctx == {"rounds": 2}
        assert [f.get("released") for f in fired(st)] == [None, 2]
        resets = [e.data for e in st.events if e.kind == "join_absorbed" and "reset" in e.data]
        assert [r["released"] for r in resets] == [2]

    def test_late_branches_finish_and_are_never_cancelled(self) -> None:
        st = start(rounds(wf.first(1, blocking=True), noop("fast"), late("slow"), times=3))
        for _ in range(3):
            st.feed_signal("reply_slow")
        assert step(st) is Status.DONE
        assert completed(st).count("late_slow") == 3
        assert st.ctx == {"rounds": 3}
        assert not [e for e in st.events if e.kind == "token_withdrawn"]

    def test_pure_rounds_hold_and_release_without_outside_input(self) -> None:
        # the continuation runs first, so round 2 starts before round 1's "b" arrives
        st = start(rounds(wf.first(1, blocking=True), noop("a"), noop("b"), times=3))
        assert step(st) is Status.DONE
        assert st.ctx == {"rounds": 3}
        assert completed(st).count("b") == 3

    def test_round_is_not_held_once_the_previous_one_reset(self) -> None:
        body = wf.seq(
            wf.join(wf.first(1, blocking=True), noop("a"), noop("b")),
            wf.wait_signal("next"),  # round 1's "b" arrives meanwhile
            inc("go_on", "rounds"),
        )
        st = start(wf.loop(body, times=3))
        for _ in range(3):
            assert step(st) is Status.BLOCKED
            st.feed_signal("next")
        assert step(st) is Status.DONE
        assert st.ctx == {"rounds": 3}
        assert not [e for e in st.events if e.kind == "join_arrived" and "held" in e.data]
        assert all("held_by" not in e.data for e in st.events if e.kind == "split")

    def test_blocking_partial_join_two_of_three(self) -> None:
        term = rounds(wf.first(2, blocking=True), noop("x"), noop("y"), late("z"))
        st = start(term)
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"rounds": 1}  # round 2: x and y arrived, both held
        held = [e.data["held"] for e in st.events if e.kind == "join_arrived" and "held" in e.data]
        assert held == [1, 2]
        st.feed_signal("reply_z")  # round 2's z: held (round 1 has not reset)
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"rounds": 1}
        st.feed_signal("reply_z")  # round 1's z: reset; round 2 counts 3, fires and resets
        assert step(st) is Status.DONE
        assert st.ctx == {"rounds": 2}
        assert fired(st)[-1] == {"arrived": 3, "of": 3, "released": 3}

    def test_release_cascades_through_a_held_round_that_completes(self) -> None:
        # three rounds: 2 is held on 1; when 1 resets, 2 completes at once (all its
        # arrivals were held), fires, resets, and round 3 is not held
        st = start(rounds(wf.first(1, blocking=True), noop("fast"), late("slow"), times=3))
        assert step(st) is Status.BLOCKED
        st.feed_signal("reply_slow")  # round 2's slow
        st.feed_signal("reply_slow")  # round 1's slow
        assert step(st) is Status.BLOCKED  # round 3's slow still waits
        assert st.ctx == {"rounds": 3}
        st.feed_signal("reply_slow")
        assert step(st) is Status.DONE

    def test_cancelled_region_in_a_branch_counts_as_arrived(self) -> None:
        slow = wf.region("slow", late("slow"), compensate=noop("undo"))
        st = start(rounds(wf.first(1, blocking=True), noop("fast"), slow))
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"rounds": 1}
        # cancels both rounds' slow branches: each compensates and arrives
        assert st.cancel_region("slow") == 2
        assert step(st) is Status.DONE
        assert completed(st).count("undo") == 2
        assert st.ctx == {"rounds": 2}

    def test_cancel_region_around_the_join_drops_the_held_round(self) -> None:
        join = wf.region(
            "r", wf.join(wf.first(1, blocking=True), noop("fast"), late("slow")),
            compensate=noop("undo"),
        )  # fmt: skip
        term = wf.loop(wf.seq(join, inc("go_on", "rounds")), times=2)
        st = start(term)
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"rounds": 1}  # round 2 held inside its activation of r
        # round 1's exited activation is withdrawn, round 2's compensates and goes on
        assert st.cancel_region("r") == 2
        assert step(st) is Status.DONE
        assert completed(st).count("undo") == 1
        assert st.ctx == {"rounds": 2}
        assert len(fired(st)) == 1  # the held round never fired

    def test_a_new_par_activation_each_round_is_still_the_same_join(self) -> None:
        # the blocking join's control frame (the par's activation) is new every round
        body = wf.par(wf.join(wf.first(1, blocking=True), noop("fast"), late("slow")), noop("x"))
        st = start(wf.loop(wf.seq(body, inc("go_on", "rounds")), times=2))
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"rounds": 1}  # round 2 held on round 1
        st.feed_signal("reply_slow")
        st.feed_signal("reply_slow")
        assert step(st) is Status.DONE
        assert st.ctx == {"rounds": 2}

    def test_each_mi_instance_has_its_own_join(self) -> None:
        body = rounds(wf.first(1, blocking=True), noop("fast"), late("slow"))
        st = start(wf.mi(body, count=2))
        assert step(st) is Status.BLOCKED
        # each instance: round 1 fired, round 2 held on its own round 1 only
        assert [e.data["held"] for e in st.events if e.kind == "join_arrived"] == [1, 1]
        for _ in range(4):
            st.feed_signal("reply_slow")
        assert step(st) is Status.DONE
        assert len(fired(st)) == 4

    def test_until_loop_and_machine(self) -> None:
        def three(ctx: Ctx) -> bool:
            return bool(ctx.get("rounds", 0) >= 3)

        body = wf.seq(wf.join(wf.first(1, blocking=True), noop("fast"), late("slow")),
                      inc("go_on", "rounds"))  # fmt: skip
        for term in (
            wf.loop(body, until=three),
            wf.machine("s", {"s": (body, [(three, wf.END), "s"])}),
        ):
            st = start(term)
            assert step(st) is Status.BLOCKED
            assert st.ctx.get("rounds") == 1
            for _ in range(3):
                st.feed_signal("reply_slow")
            assert step(st) is Status.DONE
            assert st.ctx["rounds"] == 3

    async def test_on_the_substrate(self) -> None:
        term = rounds(wf.first(1, blocking=True), effect("fast"), late("slow"))
        async with wf.open_substrate() as sub:
            case = await sub.new_case(term)
            await trio.testing.wait_all_tasks_blocked()
            assert sub.status(case).state == wf.CaseState.WAITING_SIGNAL
            await sub.signal(case, "reply_slow")
            await sub.signal(case, "reply_slow")
            result = await sub.wait(case)
        assert result.ctx == {"rounds": 2}


class TestDeterminism:
    @staticmethod
    def term() -> wf.Term:
        return rounds(wf.first(2, blocking=True), effect("a"), effect("b"), noop("c"), times=3)

    @pytest.mark.parametrize("seed", [0, 1, 7])
    def test_seeded_run_replays(self, seed: int) -> None:
        st = start(self.term(), scheduler=Seeded(seed))
        assert drive(st, random.Random(seed)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(self.term()), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx == {"rounds": 3}

    def test_snapshot_restore_while_a_round_is_held(self) -> None:
        term = rounds(wf.first(1, blocking=True), noop("fast"), late("slow"), times=3)
        whole = start(term)
        whole.run()
        cut = start(term)
        cut.run()
        snap = loads_snapshot(dumps_snapshot(cut.snapshot()))
        (held,) = [f for f in snap.frames if getattr(f, "held", None) is not None]
        assert held.held == 1
        assert any(getattr(f, "blocks", None) == held.id for f in snap.frames)
        back = ExecState.restore(wf.compile(term), snap)
        check_invariants(back)
        for st in (whole, back):
            for _ in range(3):
                st.feed_signal("reply_slow")
            assert step(st) is Status.DONE
            assert st.ctx == {"rounds": 3}
        tail = [(e.kind, e.name, dict(e.data)) for e in back.events]
        assert tail == [(e.kind, e.name, dict(e.data)) for e in whole.events][-len(tail) :]

    def test_restore_refuses_a_bad_blocking_field(self) -> None:
        term = rounds(wf.first(1, blocking=True), noop("fast"), late("slow"))
        st = start(term)
        st.run()
        text = dumps_snapshot(st.snapshot())
        bad = text.replace('"held": 1', '"held": -3')
        assert bad != text
        with pytest.raises(SerializationError, match="held"):
            ExecState.restore(wf.compile(term), loads_snapshot(bad))


class TestStatic:
    def test_validate_correct_use(self) -> None:
        term = rounds(wf.first(1, blocking=True), noop("fast"), late("slow"))
        assert wf.validate(term, signals={"reply_slow"}) == []

    def test_validate_broken_use_never_resets(self) -> None:
        never = wf.defer(wf.on_signal("never", noop("b")))  # no one sends "never"
        blocking = rounds(wf.first(1, blocking=True), noop("a"), never)
        codes = [i.code for i in wf.validate(blocking, signals={"go"})]
        assert "WF110" in codes
        assert "WF204" in codes  # the explorer: the loop's second round never ends
        (issue,) = [i for i in wf.validate(blocking, signals={"go"}) if i.code == "WF110"]
        assert issue.path == "loop[0].seq[0].join"
        assert "never resets" in issue.message
        # the same join without blocking lets every round pass: no WF110, no WF204
        plain = [i.code for i in wf.validate(rounds(wf.first(1), noop("a"), never),
                                              signals={"go"})]  # fmt: skip
        assert "WF110" not in plain
        assert "WF204" not in plain
        # outside a loop a blocking join never blocks: no WF110
        once = wf.join(wf.first(1, blocking=True), noop("a"), never)
        assert "WF110" not in [i.code for i in wf.validate(once, signals={"go"})]

    def test_compiles_to_fork_and_join(self) -> None:
        term = P.blocking_discriminator(noop("a"), noop("b"))
        prog = wf.compile(term)
        assert {i.op for i in prog.instrs} == {"fork", "join", "task", "end"}
        (fork,) = [i for i in prog.instrs if i.op == "fork"]
        assert fork.args["blocking"] is True
        assert fork.args["n"] == 1
        # a non-blocking join's operands (and fingerprint) are unchanged
        plain = wf.compile(P.discriminator(noop("a"), noop("b")))
        assert "blocking" not in next(i for i in plain.instrs if i.op == "fork").args
        assert program_fingerprint(plain) != program_fingerprint(prog)

    def test_catalogue_and_term_forms(self) -> None:
        a, b, c = noop("a"), noop("b"), noop("c")
        assert P.CATALOGUE[28] == ("blocking_discriminator", P.blocking_discriminator)
        assert P.CATALOGUE[31] == ("blocking_partial_join", P.blocking_partial_join)
        assert P.blocking_discriminator(a, b) == wf.join(wf.first(1, blocking=True), a, b)
        assert P.blocking_partial_join(2, a, b, c) == wf.join(wf.first(2, blocking=True), a, b, c)
        assert repr(wf.first(2, blocking=True)) == "first(2, blocking=True)"
        assert wf.first(1, blocking=True) != wf.first(1)

    def test_bad_arguments(self) -> None:
        with pytest.raises(TermTypeError, match="blocking"):
            wf.first(1, cancel_rest=True, blocking=True)
        with pytest.raises(TermTypeError, match="blocking"):
            wf.first(1, blocking="yes")  # type: ignore[arg-type]
        with pytest.raises(TermError, match="exceeds"):
            P.blocking_partial_join(3, noop("a"), noop("b"))

    def test_strategy_draws_blocking_joins(self) -> None:
        def blocking(t: wf.Term) -> bool:
            return any(
                isinstance(n, Join) and isinstance(n.policy, First) and n.policy.blocking
                for _, n in walk(t)
            )

        term = find(
            terms(effects=False, signals=False, timers=False),
            blocking,
            settings=settings(
                database=None, derandomize=True, suppress_health_check=list(HealthCheck)
            ),
        )
        assert blocking(term)
        st = ExecState(wf.compile(term))
        assert st.run() in (Status.DONE, Status.FAILED)
        check_invariants(st)
