"""Thread split (WCP-42) and thread merge (WCP-41): ``wf.threads(n, body)``."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, find, settings
from reducer_helpers import completed, drive, effect, inc, noop, start

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import ExecState, Status
from wftrio.engine.replay import run_with_inputs
from wftrio.errors import TermTypeError
from wftrio.graph import diagram
from wftrio.scheduling import Replay, Seeded
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.terms import Threads, walk
from wftrio.testing.invariants import check_invariants
from wftrio.testing.strategies import terms


def step(st: ExecState) -> Status:
    status = st.run()
    check_invariants(st)
    return status


def waiting_body() -> wf.Term:
    """Each thread counts itself, waits for its own ``go`` signal, then counts again."""
    return wf.seq(inc("start", "started"), wf.wait_signal("go"), inc("finish", "finished"))


class TestRuns:
    def test_threads_share_the_ctx_and_merge_into_one(self) -> None:
        term = wf.seq(P.thread_split(3, inc("work", "n")), inc("after", "after"))
        st = start(term)
        assert step(st) is Status.DONE
        # three threads ran the body in the branch's own ctx; what follows ran once
        assert st.ctx == {"n": 3, "after": 1}
        assert completed(st) == ["work", "work", "work", "after"]
        (split,) = [e for e in st.events if e.kind == "split"]
        assert split.data["branches"] == [0, 1, 2]
        assert [e.kind for e in st.events if e.kind.startswith("join_")] == [
            "join_arrived", "join_arrived", "join_fired",
        ]  # fmt: skip

    def test_merge_waits_for_the_last_thread(self) -> None:
        st = start(wf.seq(P.thread_merge(3, waiting_body()), noop("merged")))
        assert step(st) is Status.BLOCKED
        assert st.ctx == {"started": 3}
        for left in (2, 1):
            st.feed_signal("go")
            assert step(st) is Status.BLOCKED
            assert "merged" not in completed(st)
            assert st.ctx["finished"] == 3 - left
        st.feed_signal("go")  # the late thread
        assert step(st) is Status.DONE
        assert completed(st)[-1] == "merged"
        assert st.ctx == {"started": 3, "finished": 3}

    def test_a_region_in_the_body_is_entered_per_thread(self) -> None:
        body = wf.region("r", waiting_body(), compensate=inc("undo", "undone"))
        st = start(wf.seq(wf.threads(2, body), noop("merged")))
        assert step(st) is Status.BLOCKED
        st.feed_signal("go")
        assert step(st) is Status.BLOCKED  # one thread finished, one waits
        assert st.cancel_region("r") == 1  # the cancelled thread compensates and arrives
        assert step(st) is Status.DONE
        assert st.ctx == {"started": 2, "finished": 1, "undone": 1}
        assert completed(st)[-1] == "merged"

    def test_cancelling_the_case_withdraws_every_thread(self) -> None:
        st = start(wf.threads(3, waiting_body()))
        assert step(st) is Status.BLOCKED
        st.cancel()
        assert st.status is Status.CANCELLED
        assert not st.tokens

    def test_terminate_in_a_thread_ends_the_case(self) -> None:
        st = start(wf.seq(wf.threads(2, wf.seq(noop("t"), wf.terminate())), noop("never")))
        assert step(st) is Status.DONE
        assert "never" not in completed(st)

    def test_in_a_loop(self) -> None:
        term = wf.loop(wf.seq(wf.threads(2, inc("work", "n")), inc("round", "rounds")), times=3)
        st = start(term)
        assert step(st) is Status.DONE
        assert st.ctx == {"n": 6, "rounds": 3}

    def test_threads_at_one_blocking_join_hold_each_other(self) -> None:
        # two threads reach the same blocking join in the same ctx: the second
        # thread's activation is held until the first has reset
        join = wf.join(wf.first(1, blocking=True), noop("fast"), waiting_body())
        st = start(wf.seq(wf.threads(2, join), noop("merged")))
        assert step(st) is Status.BLOCKED
        held = [e.data["held"] for e in st.events if e.kind == "join_arrived" and "held" in e.data]
        assert held == [1]
        st.feed_signal("go")
        st.feed_signal("go")
        assert step(st) is Status.DONE
        assert completed(st).count("merged") == 1
        assert st.ctx == {"started": 2, "finished": 2}
        # found by the term strategy: the explorer keys states with held joins
        found = wf.threads(2, wf.join(wf.first(1, blocking=True), noop("a"), noop("b")))
        assert wf.validate(found) == []

    def test_one_thread_is_the_body(self) -> None:
        st = start(wf.threads(1, inc("work", "n")))
        assert step(st) is Status.DONE
        assert st.ctx == {"n": 1}

    async def test_on_the_substrate(self) -> None:
        term = wf.seq(wf.threads(3, effect("call", {"called": True})), inc("after", "after"))
        async with wf.open_substrate() as sub:
            case = await sub.new_case(term)
            result = await sub.wait(case)
        assert result.ctx == {"called": True, "after": 1}
        assert [e.kind for e in result.trace].count("effect_completed") == 3


class TestDeterminism:
    @staticmethod
    def term() -> wf.Term:
        body = wf.seq(effect("ask", None), inc("work", "n"), noop("done"))
        return wf.loop(wf.seq(wf.threads(3, body), inc("round", "rounds")), times=2)

    @pytest.mark.parametrize("seed", [0, 1, 7])
    def test_seeded_run_replays(self, seed: int) -> None:
        st = start(self.term(), scheduler=Seeded(seed))
        assert drive(st, random.Random(seed)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(self.term()), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx == {"n": 6, "rounds": 2}

    def test_snapshot_restore_mid_way(self) -> None:
        term = wf.seq(wf.threads(3, waiting_body()), noop("merged"))
        whole, cut = start(term), start(term)
        for st in (whole, cut):
            st.run()
            st.feed_signal("go")
            st.run()
        back = ExecState.restore(wf.compile(term), loads_snapshot(dumps_snapshot(cut.snapshot())))
        check_invariants(back)
        for st in (whole, back):
            st.feed_signal("go")
            st.feed_signal("go")
            assert step(st) is Status.DONE
            assert st.ctx == {"started": 3, "finished": 3}
        tail = [(e.kind, e.name, dict(e.data)) for e in back.events]
        assert tail == [(e.kind, e.name, dict(e.data)) for e in whole.events][-len(tail) :]


class TestStatic:
    def test_validate_correct_use(self) -> None:
        assert wf.validate(wf.threads(2, waiting_body()), signals={"go"}) == []

    def test_validate_broken_use(self) -> None:
        # a thread that never finishes: the merge can never fire
        never = wf.seq(wf.defer(wf.on_signal("never", noop("x"))), noop("y"))
        codes = [i.code for i in wf.validate(wf.seq(wf.threads(2, never), noop("z")),
                                              signals={"go"})]  # fmt: skip
        assert "WF201" in codes  # deadlock: both threads wait for a signal that never comes
        assert "WF205" in codes  # the task after the merge never runs

    def test_compiles_to_fork_and_join_with_one_body(self) -> None:
        prog = wf.compile(wf.threads(3, wf.seq(noop("a"), noop("b"))))
        assert [i.op for i in prog.instrs] == ["fork", "join", "task", "task", "end"]
        fork = prog.instrs[0].args
        assert fork["entries"] == (2, 2, 2)
        assert fork["n"] is None

    def test_term_form_and_repr(self) -> None:
        a = noop("a")
        assert P.CATALOGUE[41] == ("thread_merge", P.thread_merge)
        assert P.CATALOGUE[42] == ("thread_split", P.thread_split)
        assert P.thread_split(2, a) == P.thread_merge(2, a) == wf.threads(2, a)
        assert repr(wf.threads(2, a)).startswith("threads(2, task('a'")
        assert wf.threads(2, a) != wf.threads(3, a)
        assert [p for p, _ in walk(wf.threads(2, a))] == ["threads", "threads[0].task('a')"]
        assert "2 threads" in {e.label for e in diagram(wf.threads(2, a)).edges}

    def test_region_id_written_once(self) -> None:
        # a par of copies would repeat the region id; threads write it once
        body = wf.region("r", noop("a"))
        assert wf.threads(2, body).region_ids == frozenset({"r"})
        with pytest.raises(wf.TermError, match="duplicate region id"):
            wf.par(body, body)

    def test_bad_arguments(self) -> None:
        with pytest.raises(TermTypeError, match=r"threads\(n=0\)"):
            wf.threads(0, noop("a"))
        with pytest.raises(TermTypeError, match="n must be an int"):
            wf.threads(True, noop("a"))  # type: ignore[arg-type]
        with pytest.raises(TermTypeError, match="threads.body"):
            wf.threads(2, "a")  # type: ignore[arg-type]

    def test_strategy_draws_threads(self) -> None:
        term = find(
            terms(effects=False, signals=False, timers=False),
            lambda t: any(isinstance(n, Threads) for _, n in walk(t)),
            settings=settings(
                database=None, derandomize=True, suppress_health_check=list(HealthCheck)
            ),
        )
        st = ExecState(wf.compile(term))
        assert st.run() in (Status.DONE, Status.FAILED)
        check_invariants(st)
