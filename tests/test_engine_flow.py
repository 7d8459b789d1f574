"""The pure reducer, control flow: task, seq, par, joins, xor, choice and loop.

Every test runs the real compiler and a real ExecState (no runtime) and
checks the order of task completions, the final ctx and the end status.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import pytest
from reducer_helpers import completed, effect, inc, kinds, noop, outbox_of, put, run

import wftrio as wf
from wftrio.engine import CancelEffect, StartEffect, Status
from wftrio.errors import TaskError
from wftrio.scheduling import Seeded


class Boom(Exception):
    pass


def yes(ctx: Mapping[str, Any]) -> bool:
    return True


def no(ctx: Mapping[str, Any]) -> bool:
    return False


class TestTask:
    def test_updates_merged_and_seen_by_later_tasks(self) -> None:
        st = run(
            wf.seq(
                put("a", x=1),
                wf.task("b", lambda c: {"y": c["x"] + 1, "x": 10}),
                wf.task("c", lambda c: {"z": (c["x"], c["y"], c["given"])}),
            ),
            {"given": "g"},
        )
        assert st.status is Status.DONE
        assert st.ctx == {"given": "g", "x": 10, "y": 2, "z": (10, 2, "g")}
        assert completed(st) == ["a", "b", "c"]

    def test_initial_ctx_is_copied(self) -> None:
        ctx = {"k": 1}
        st = run(put("a", k=2), ctx)
        assert ctx == {"k": 1}
        assert st.ctx == {"k": 2}

    def test_none_changes_nothing(self) -> None:
        st = run(wf.seq(noop("a"), noop("b")), {"k": 1})
        assert st.status is Status.DONE
        assert st.ctx == {"k": 1}

    def test_any_mapping_accepted(self) -> None:
        st = run(wf.task("a", lambda c: types.MappingProxyType({"m": 1})))
        assert st.ctx == {"m": 1}

    def test_engine_adds_no_ctx_keys(self) -> None:
        st = run(
            wf.seq(
                wf.par(noop("a"), noop("b")),
                wf.loop(noop("c"), times=2),
                wf.xor(noop("d")),
                wf.mi(noop("e"), count=2),
                wf.region("r", noop("f")),
            ),
            {"only": 1},
        )
        assert st.status is Status.DONE
        assert st.ctx == {"only": 1}

    @pytest.mark.parametrize("bad", [5, "x", [("x", 1)], ("x",)])
    def test_non_mapping_return_fails_the_case(self, bad: object) -> None:
        st = run(wf.seq(put("a", x=1), wf.task("bad", lambda c: bad), noop("never")))
        assert st.status is Status.FAILED
        assert isinstance(st.error, TaskError)
        assert "task 'bad'" in str(st.error)
        assert "expected a Mapping of ctx updates or None" in str(st.error)
        assert completed(st) == ["a"]
        tail = [k for k in kinds(st) if k != "token_withdrawn"][-2:]
        assert tail == ["task_failed", "case_failed"]
        assert {e.name for e in st.events if e.kind in ("task_failed", "case_failed")} == {"bad"}
        assert st.ctx == {"x": 1}

    def test_raising_task_changes_nothing_and_fails(self) -> None:
        def boom(ctx: Mapping[str, Any]) -> None:
            raise Boom("no")

        st = run(wf.seq(put("a", x=1), wf.task("boom", boom), put("never", y=1)), {"k": 0})
        assert st.status is Status.FAILED
        assert isinstance(st.error, Boom)
        assert st.ctx == {"k": 0, "x": 1}
        failed = [e for e in st.events if e.kind == "task_failed"]
        assert len(failed) == 1
        assert failed[0].name == "boom"
        assert failed[0].data == {"error_type": "Boom", "error": "no"}
        assert kinds(st)[-1] == "case_failed"
        assert not st.tokens
        # a failed case stays failed
        assert st.run() is Status.FAILED
        assert st.feed_signal("s") is False

    def test_ctx_view_is_read_only(self) -> None:
        def mutate(ctx: Any) -> None:
            ctx["x"] = 1

        st = run(wf.task("mutate", mutate), {"k": 0})
        assert st.status is Status.FAILED
        assert isinstance(st.error, TypeError)
        assert st.ctx == {"k": 0}

    def test_failure_in_par_withdraws_siblings(self) -> None:
        def boom(ctx: Mapping[str, Any]) -> None:
            raise ValueError("x")

        st = run(wf.par(effect("e"), wf.task("boom", boom)))
        assert st.status is Status.FAILED
        assert not st.tokens
        assert not st.effects
        (start_,) = outbox_of(st, StartEffect)
        assert CancelEffect(start_.eid) in st.outbox


class TestSeq:
    def test_order(self) -> None:
        st = run(wf.seq(noop("a"), wf.seq(noop("b"), noop("c")), noop("d")))
        assert completed(st) == ["a", "b", "c", "d"]
        assert st.status is Status.DONE
        assert kinds(st)[0] == "case_started"
        assert kinds(st)[-1] == "case_completed"


class TestPar:
    def test_branches_run_in_written_order_then_continuation(self) -> None:
        st = run(
            wf.seq(
                wf.par(wf.seq(put("a1", a=1), noop("a2")), wf.seq(noop("b1"), put("b2", b=2))),
                noop("c"),
            )
        )
        assert completed(st) == ["a1", "a2", "b1", "b2", "c"]
        assert st.ctx == {"a": 1, "b": 2}
        assert kinds(st).count("join_fired") == 1
        assert st.status is Status.DONE

    def test_and_join_waits_for_every_branch(self) -> None:
        st = run(wf.seq(wf.par(noop("a"), wf.seq(wf.wait_signal("go"), noop("b"))), noop("c")))
        assert st.status is Status.BLOCKED
        assert completed(st) == ["a"]
        st.feed_signal("go")
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "b", "c"]

    def test_sync_merge_without_conditions_is_and_join(self) -> None:
        st = run(wf.seq(wf.join("sync_merge", noop("a"), noop("b")), noop("c")))
        assert completed(st) == ["a", "b", "c"]

    def test_nested_pars(self) -> None:
        st = run(wf.seq(wf.par(wf.par(noop("a"), noop("b")), noop("c")), noop("d")))
        assert completed(st) == ["a", "b", "c", "d"]
        assert kinds(st).count("join_fired") == 2


class TestFirst:
    def test_discriminator_fires_once_and_absorbs_late_branches(self) -> None:
        st = run(
            wf.seq(
                wf.join(wf.first(1), noop("a"), wf.seq(noop("b1"), noop("b2")), noop("c")),
                inc("after"),
            )
        )
        assert st.status is Status.DONE
        assert completed(st) == ["a", "after", "b1", "b2", "c"]
        assert st.ctx == {"n": 1}
        assert kinds(st).count("join_fired") == 1
        assert kinds(st).count("join_absorbed") == 2

    def test_case_not_done_until_late_branches_finish(self) -> None:
        st = run(wf.seq(wf.join(wf.first(1), noop("a"), effect("slow", {"s": 1})), inc("after")))
        assert st.status is Status.BLOCKED
        assert completed(st) == ["a", "after"]
        (cmd,) = outbox_of(st, StartEffect)
        st.feed_effect(cmd.eid, {"s": 1})
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "after", "slow"]
        assert st.ctx == {"n": 1, "s": 1}

    def test_continuation_exactly_once_when_late_arrivals_come_later(self) -> None:
        st = run(
            wf.seq(
                wf.join(wf.first(1), wf.wait_signal("x"), wf.wait_signal("y")),
                inc("after"),
            )
        )
        assert st.status is Status.BLOCKED
        st.feed_signal("y")
        assert st.run() is Status.BLOCKED
        st.feed_signal("x")
        assert st.run() is Status.DONE
        assert completed(st) == ["after"]
        assert st.ctx == {"n": 1}

    def test_cancelling_discriminator_withdraws_the_rest(self) -> None:
        term = wf.seq(
            wf.join(
                wf.first(1, cancel_rest=True),
                wf.seq(wf.wait_signal("go"), noop("a")),
                wf.seq(effect("e"), noop("never1")),
                wf.defer(wf.after(5, noop("never2"))),
                wf.seq(wf.wait_signal("z"), noop("never3")),
            ),
            noop("after"),
        )
        st = run(term)
        assert st.status is Status.BLOCKED
        (eff,) = outbox_of(st, StartEffect)
        timers = [c for c in st.take_outbox() if type(c).__name__ == "StartTimer"]
        assert len(timers) == 1
        assert st.blocked_on() == {
            "effects": [eff.eid],
            "signals": ["go", "z"],
            "timers": [timers[0].tid],
        }
        st.feed_signal("go")
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "after"]
        out = st.take_outbox()
        assert CancelEffect(eff.eid) in out
        assert any(type(c).__name__ == "CancelTimer" and c.tid == timers[0].tid for c in out)
        assert not st.effects
        assert not st.timers
        assert not any(st.waiters.values())
        assert "effect_cancelled" in kinds(st)
        # the withdrawn effect's result and the timer are ignored
        assert st.feed_effect(eff.eid, {"late": 1}) is False
        assert st.fire_timer(timers[0].tid) is False
        assert "late" not in st.ctx

    def test_cancel_rest_with_pure_branches(self) -> None:
        st = run(
            wf.seq(
                wf.join(wf.first(1, cancel_rest=True), noop("a"), noop("b"), noop("c")),
                noop("after"),
            )
        )
        assert st.status is Status.DONE
        assert completed(st) == ["a", "after"]

    def test_partial_join(self) -> None:
        st = run(
            wf.seq(
                wf.join(wf.first(2), noop("a"), noop("b"), noop("c")),
                inc("after"),
            )
        )
        assert completed(st) == ["a", "b", "after", "c"]
        assert st.ctx == {"n": 1}
        assert st.status is Status.DONE

    def test_partial_join_waits_for_n(self) -> None:
        st = run(
            wf.seq(
                wf.join(wf.first(2), wf.wait_signal("x"), noop("b"), wf.wait_signal("y")),
                noop("after"),
            )
        )
        assert st.status is Status.BLOCKED
        assert completed(st) == ["b"]
        st.feed_signal("y")
        st.run()
        assert completed(st) == ["b", "after"]
        assert st.status is Status.BLOCKED
        st.feed_signal("x")
        assert st.run() is Status.DONE
        assert completed(st) == ["b", "after"]

    def test_cancelling_partial_join(self) -> None:
        st = run(
            wf.seq(
                wf.join(
                    wf.first(2, cancel_rest=True),
                    wf.wait_signal("x"),
                    noop("b"),
                    wf.seq(wf.wait_signal("y"), noop("never")),
                ),
                noop("after"),
            )
        )
        assert st.status is Status.BLOCKED
        st.feed_signal("x")
        assert st.run() is Status.DONE
        assert completed(st) == ["b", "after"]
        assert st.waiters.get("y", {}) == {}
        # the withdrawn branch consumed nothing: a later y is queued
        assert st.feed_signal("y") is False  # case finished

    def test_first_n_equal_to_branches_is_and_join(self) -> None:
        st = run(wf.seq(wf.join(wf.first(3), noop("a"), noop("b"), noop("c")), noop("d")))
        assert completed(st) == ["a", "b", "c", "d"]


class TestXor:
    def test_first_true_condition_wins(self) -> None:
        st = run(
            wf.seq(
                wf.xor(
                    wf.branch(no, noop("a")),
                    wf.branch(yes, noop("b")),
                    wf.branch(yes, noop("c")),
                    noop("default"),
                ),
                noop("z"),
            )
        )
        assert completed(st) == ["b", "z"]
        (ch,) = [e for e in st.events if e.kind == "choice"]
        assert ch.data == {"by": "condition", "picked": 1}

    def test_conditions_tried_before_a_default_written_first(self) -> None:
        st = run(wf.xor(noop("default"), wf.branch(yes, noop("b"))))
        assert completed(st) == ["b"]

    def test_default_when_no_condition_holds(self) -> None:
        st = run(wf.seq(wf.xor(wf.branch(no, noop("a")), noop("d")), noop("z")))
        assert completed(st) == ["d", "z"]
        (ch,) = [e for e in st.events if e.kind == "choice"]
        assert ch.data == {"by": "default", "picked": 1}

    def test_conditions_see_ctx(self) -> None:
        st = run(
            wf.xor(wf.branch(lambda c: c["v"] > 5, noop("big")), noop("small")),
            {"v": 7},
        )
        assert completed(st) == ["big"]

    def test_several_defaults_are_a_recorded_scheduler_choice(self) -> None:
        st = run(wf.xor(wf.branch(no, noop("x")), noop("a"), noop("b"), noop("c")))
        assert completed(st) == ["a"]  # deterministic: the first default
        sched = [e for e in st.events if e.kind == "choice" and e.data["by"] == "scheduler"]
        assert len(sched) == 1
        assert sched[0].data["n"] == 3
        assert sched[0].data["picked"] == 0

    def test_seeded_picks_differ_across_seeds_and_repeat_per_seed(self) -> None:
        term = wf.xor(noop("a"), noop("b"), noop("c"))
        picks = {seed: completed(run(term, scheduler=Seeded(seed))) for seed in range(30)}
        assert {tuple(p) for p in picks.values()} == {("a",), ("b",), ("c",)}
        assert all(completed(run(term, scheduler=Seeded(s))) == picks[s] for s in range(30))

    def test_no_condition_and_no_default_fails(self) -> None:
        st = run(wf.seq(noop("a"), wf.xor(wf.branch(no, noop("b"))), noop("never")))
        assert st.status is Status.FAILED
        assert isinstance(st.error, TaskError)
        assert "no condition held and there is no default" in str(st.error)
        assert "seq[1].xor" in str(st.error)
        assert completed(st) == ["a"]
        assert kinds(st)[-1] == "case_failed"
        assert "task_failed" not in kinds(st)

    def test_condition_raising_fails(self) -> None:
        def bad(ctx: Mapping[str, Any]) -> bool:
            return ctx["missing"]  # type: ignore[no-any-return]

        st = run(wf.xor(wf.branch(bad, noop("a")), noop("b")))
        assert st.status is Status.FAILED
        assert isinstance(st.error, KeyError)
        assert completed(st) == []
        assert st.events[-1].kind == "case_failed"
        assert st.events[-1].name == "xor"


class TestChoice:
    def test_only_true_branches_start_and_are_synchronised(self) -> None:
        st = run(
            wf.seq(
                wf.choice(
                    wf.branch(yes, noop("a")),
                    wf.branch(no, noop("b")),
                    wf.branch(yes, wf.seq(wf.wait_signal("go"), noop("c"))),
                    noop("always"),
                ),
                noop("z"),
            )
        )
        assert st.status is Status.BLOCKED
        assert completed(st) == ["a", "always"]
        (split,) = [e for e in st.events if e.kind == "split"]
        tokens = split.data["tokens"]  # the branches' tokens, in branch order
        assert {k: v for k, v in split.data.items() if k != "tokens"} == {
            "branches": [0, 2, 3],
            "needed": 3,
        }
        ran = {e.name: e.token for e in st.events if e.kind == "task_completed"}
        assert [ran["a"], ran["always"]] == [tokens[0], tokens[2]]
        st.feed_signal("go")
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "always", "c", "z"]

    def test_none_holds_fails(self) -> None:
        st = run(wf.choice(wf.branch(no, noop("a")), wf.branch(no, noop("b"))))
        assert st.status is Status.FAILED
        assert isinstance(st.error, TaskError)
        assert "no branch condition held" in str(st.error)
        assert completed(st) == []

    def test_condition_raising_fails(self) -> None:
        def bad(ctx: Mapping[str, Any]) -> bool:
            raise RuntimeError("cond")

        st = run(wf.choice(wf.branch(yes, noop("a")), wf.branch(bad, noop("b"))))
        assert st.status is Status.FAILED
        assert isinstance(st.error, RuntimeError)
        assert completed(st) == []


class TestLoop:
    @pytest.mark.parametrize("n", [0, 1, 4])
    def test_times(self, n: int) -> None:
        st = run(wf.seq(wf.loop(inc("body"), times=n), noop("after")))
        assert completed(st) == ["body"] * n + ["after"]
        assert st.ctx.get("n", 0) == n
        assert st.status is Status.DONE

    def test_nested_times(self) -> None:
        st = run(wf.loop(wf.seq(wf.loop(inc("inner"), times=2), inc("outer", "m")), times=3))
        assert st.ctx == {"n": 6, "m": 3}
        assert completed(st) == ["inner", "inner", "outer"] * 3

    def test_times_loop_in_parallel_branches_count_separately(self) -> None:
        st = run(wf.par(wf.loop(inc("a", "a"), times=2), wf.loop(inc("b", "b"), times=3)))
        assert st.ctx == {"a": 2, "b": 3}

    def test_while_can_run_zero_times(self) -> None:
        st = run(wf.seq(wf.loop(inc("body"), while_=no), noop("after")))
        assert completed(st) == ["after"]

    def test_while_tests_before_each_iteration(self) -> None:
        st = run(wf.loop(inc("body"), while_=lambda c: c.get("n", 0) < 3))
        assert completed(st) == ["body"] * 3
        assert st.ctx == {"n": 3}

    def test_until_runs_at_least_once(self) -> None:
        st = run(wf.seq(wf.loop(inc("body"), until=yes), noop("after")))
        assert completed(st) == ["body", "after"]

    def test_until_tests_after_each_iteration(self) -> None:
        st = run(wf.loop(inc("body"), until=lambda c: c["n"] >= 3))
        assert st.ctx == {"n": 3}

    def test_loop_condition_raising_fails(self) -> None:
        st = run(wf.loop(noop("body"), while_=lambda c: c["missing"]))
        assert st.status is Status.FAILED
        assert isinstance(st.error, KeyError)

    def test_loop_with_blocking_body(self) -> None:
        st = run(wf.loop(wf.seq(wf.wait_signal("tick", store_as="t"), inc("body")), times=2))
        assert st.status is Status.BLOCKED
        st.feed_signal("tick", 1)
        assert st.run() is Status.BLOCKED
        st.feed_signal("tick", 2)
        assert st.run() is Status.DONE
        assert st.ctx == {"t": 2, "n": 2}
