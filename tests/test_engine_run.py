"""The pure reducer: multiple instances, terminate, step budgets, trace levels
and implicit termination.

Every test runs the real compiler and a real ExecState (no runtime) and
checks the order of task completions, the final ctx and the end status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from reducer_helpers import completed, effect, inc, kinds, noop, outbox_of, put, run, start

import wftrio as wf
from wftrio.engine import CancelEffect, StartEffect, Status
from wftrio.errors import TaskError
from wftrio.scheduling import Seeded
from wftrio.trace import MIN_KINDS


def record(name: str) -> wf.Term:
    """A task whose update is its view of item and index (instance-local)."""
    return wf.task(name, lambda c: {"seen": (c["index"], c.get("item")), "base": c.get("base")})


class TestMI:
    def test_count_collect_in_item_order_and_local_updates(self) -> None:
        st = run(
            wf.seq(wf.mi(record("body"), count=3, collect="out"), noop("after")), {"base": "b"}
        )
        assert st.status is Status.DONE
        assert completed(st) == ["body", "body", "body", "after"]
        assert st.ctx == {
            "base": "b",
            "out": [
                {"seen": (0, 0), "base": "b"},
                {"seen": (1, 1), "base": "b"},
                {"seen": (2, 2), "base": "b"},
            ],
        }

    def test_instance_updates_not_merged_without_collect(self) -> None:
        st = run(wf.mi(put("body", leak=1), count=2), {"k": 0})
        assert st.ctx == {"k": 0}

    def test_instance_updates_shadow_case_ctx_locally(self) -> None:
        st = run(
            wf.mi(
                wf.seq(put("w", k="mine"), wf.task("r", lambda c: {"saw": c["k"]})),
                count=1,
                collect="out",
            ),
            {"k": "case"},
        )
        assert st.ctx == {"k": "case", "out": [{"k": "mine", "saw": "mine"}]}

    def test_items(self) -> None:
        st = run(wf.mi(record("body"), items=["x", "y"], collect="out"))
        assert [r["seen"] for r in st.ctx["out"]] == [(0, "x"), (1, "y")]

    def test_callable_items_and_count(self) -> None:
        st = run(wf.mi(record("body"), items=lambda c: c["xs"], collect="out"), {"xs": "ab"})
        assert [r["seen"] for r in st.ctx["out"]] == [(0, "a"), (1, "b")]
        st = run(wf.mi(record("body"), count=lambda c: c["n"], collect="out"), {"n": 2})
        assert [r["seen"] for r in st.ctx["out"]] == [(0, 0), (1, 1)]

    @pytest.mark.parametrize("bad", [-1, "2", True, None])
    def test_callable_count_bad_value_fails(self, bad: object) -> None:
        st = run(wf.mi(noop("body"), count=lambda c: bad))  # type: ignore[arg-type,return-value]
        assert st.status is Status.FAILED
        assert isinstance(st.error, TaskError)
        assert "count returned" in str(st.error)

    def test_callable_items_raising_fails(self) -> None:
        st = run(wf.mi(noop("body"), items=lambda c: c["missing"]))
        assert st.status is Status.FAILED
        assert isinstance(st.error, KeyError)

    def test_runtime_join_above_instances_fails(self) -> None:
        st = run(wf.mi(noop("body"), count=lambda c: 1, join=2))
        assert st.status is Status.FAILED
        assert "join=2 but only 1 instances" in str(st.error)

    def test_item_key(self) -> None:
        st = run(
            wf.mi(
                wf.task("b", lambda c: {"o": c["order"]}), items=[7], item_key="order", collect="r"
            )
        )
        assert st.ctx == {"r": [{"o": 7}]}

    def test_join_all_waits_for_every_instance(self) -> None:
        body = wf.seq(wf.wait_signal("go", store_as="g"), record("body"))
        st = run(wf.seq(wf.mi(body, count=2, collect="out"), noop("after")))
        assert st.status is Status.BLOCKED
        st.feed_signal("go", "first")
        st.run()
        assert completed(st) == ["body"]
        st.feed_signal("go", "second")
        assert st.run() is Status.DONE
        assert completed(st) == ["body", "body", "after"]
        assert [r["g"] for r in st.ctx["out"]] == ["first", "second"]

    def test_join_n_fires_once_with_completed_in_item_order(self) -> None:
        st = run(
            wf.seq(
                wf.mi(effect("work"), items=["a", "b", "c"], join=2, collect="out"),
                inc("after"),
            )
        )
        assert st.status is Status.BLOCKED
        cmds = outbox_of(st, StartEffect)
        assert [c.ctx["item"] for c in cmds] == ["a", "b", "c"]
        assert [c.ctx["index"] for c in cmds] == [0, 1, 2]
        st.feed_effect(cmds[2].eid, {"r": "c"})
        st.run()
        assert "after" not in completed(st)
        st.feed_effect(cmds[0].eid, {"r": "a"})
        assert st.run() is Status.BLOCKED
        assert completed(st) == ["work", "work", "after"]
        assert st.ctx["out"] == [{"r": "a"}, {"r": "c"}]
        st.feed_effect(cmds[1].eid, {"r": "b"})
        assert st.run() is Status.DONE
        assert st.ctx["n"] == 1
        assert st.ctx["out"] == [{"r": "a"}, {"r": "c"}]

    def test_join_none_continues_at_once_case_ends_after_instances(self) -> None:
        body = wf.seq(wf.wait_signal("go"), record("body"))
        st = run(wf.seq(wf.mi(body, count=2, join="none", collect="out"), noop("after")))
        assert st.status is Status.BLOCKED
        assert completed(st) == ["after"]
        assert "out" not in st.ctx
        st.feed_signal("go")
        st.feed_signal("go")
        assert st.run() is Status.DONE
        assert completed(st) == ["after", "body", "body"]
        assert [r["seen"] for r in st.ctx["out"]] == [(0, 0), (1, 1)]

    @pytest.mark.parametrize("join", ["all", "none"])
    def test_zero_instances(self, join: Any) -> None:
        st = run(wf.seq(wf.mi(noop("body"), count=0, join=join, collect="out"), noop("after")))
        assert st.status is Status.DONE
        assert completed(st) == ["after"]
        assert st.ctx == {"out": []}

    def test_zero_items_callable(self) -> None:
        st = run(wf.seq(wf.mi(noop("body"), items=lambda c: [], collect="out"), noop("after")))
        assert completed(st) == ["after"]
        assert st.ctx == {"out": []}

    def test_effect_result_is_instance_local(self) -> None:
        st = run(wf.mi(effect("e"), count=2, collect="out"))
        for i, cmd in enumerate(outbox_of(st, StartEffect)):
            st.feed_effect(cmd.eid, {"r": i})
        assert st.run() is Status.DONE
        assert st.ctx == {"out": [{"r": 0}, {"r": 1}]}

    def test_nested_mi_sees_outer_item(self) -> None:
        inner = wf.mi(
            wf.task("b", lambda c: {"pair": (c["outer"], c["item"])}), items=["x"], collect="in"
        )
        st = run(wf.mi(inner, items=[1, 2], item_key="outer", collect="out"))
        assert st.ctx == {"out": [{"in": [{"pair": (1, "x")}]}, {"in": [{"pair": (2, "x")}]}]}


class TestTerminate:
    def test_withdraws_everything_and_ends_done(self) -> None:
        term = wf.seq(
            wf.par(
                wf.seq(wf.wait_signal("s"), noop("never1")),
                effect("e"),
                wf.defer(wf.after(3, noop("never2"))),
                wf.seq(noop("a"), wf.terminate(), noop("never3")),
            ),
            noop("never4"),
        )
        st = run(term)
        assert st.status is Status.DONE
        assert completed(st) == ["a"]
        assert not st.tokens
        assert not st.effects
        assert not st.timers
        assert not any(st.waiters.values())
        (eff,) = outbox_of(st, StartEffect)
        assert CancelEffect(eff.eid) in st.outbox
        assert any(type(c).__name__ == "CancelTimer" for c in st.outbox)
        (term_ev,) = [e for e in st.events if e.kind == "terminated"]
        assert term_ev.data == {"withdrawn": 3}
        assert kinds(st)[-1] == "case_completed"
        assert kinds(st).count("case_completed") == 1
        assert st.feed_effect(eff.eid, {"x": 1}) is False
        assert st.feed_signal("s") is False

    def test_terminate_in_loop(self) -> None:
        st = run(wf.loop(wf.seq(inc("body"), wf.terminate()), times=5))
        assert st.ctx == {"n": 1}
        assert st.status is Status.DONE


class TestBudget:
    def term(self) -> wf.Term:
        return wf.seq(
            *(noop(f"t{i}") for i in range(6)),
            wf.par(noop("p"), wf.seq(noop("q1"), noop("q2"))),
            wf.xor(noop("x")),
            wf.loop(noop("l"), times=2),
            wf.mi(noop("m"), count=2),
            noop("z"),
        )

    def test_budget_respected_exactly_and_running_returned(self) -> None:
        st = start(wf.seq(*(noop(f"t{i}") for i in range(10))))
        assert st.run(3) is Status.RUNNING
        assert st.steps == 3
        assert completed(st) == ["t0", "t1", "t2"]
        assert st.run(4) is Status.RUNNING
        assert st.steps == 7
        assert st.run() is Status.DONE
        # one step per pure task of the fused run, plus the end of the token
        assert st.steps == 11

    def test_fused_run_counts_one_step_per_task(self) -> None:
        st = run(wf.seq(noop("a"), noop("b"), noop("c")))
        assert st.steps == 4

    @pytest.mark.parametrize("seeded", [False, True])
    def test_single_steps_equal_one_run(self, seeded: bool) -> None:
        def make() -> Any:
            return start(self.term(), scheduler=Seeded(3) if seeded else None)

        whole = make()
        assert whole.run() is Status.DONE
        stepped = make()
        while True:
            before = stepped.steps
            status = stepped.run(1)
            if status is not Status.RUNNING:
                break
            assert stepped.steps == before + 1
        assert status is Status.DONE
        assert stepped.steps == whole.steps
        assert stepped.events == whole.events

    @pytest.mark.parametrize("budget", [1, 2, 3, 5, 8])
    def test_any_budget_gives_the_same_trace(self, budget: int) -> None:
        whole = run(self.term())
        st = start(self.term())
        while st.run(budget) is Status.RUNNING:
            assert st.steps % budget == 0
        assert st.events == whole.events
        assert st.ctx == whole.ctx

    def test_zero_budget_does_nothing(self) -> None:
        st = start(noop("a"))
        assert st.run(0) is Status.RUNNING
        assert st.steps == 0
        assert completed(st) == []

    def test_budget_stops_inside_a_failing_run(self) -> None:
        def boom(ctx: Mapping[str, Any]) -> None:
            raise ValueError

        st = start(wf.seq(noop("a"), noop("b"), wf.task("c", boom)))
        assert st.run(2) is Status.RUNNING
        assert st.run(5) is Status.FAILED


class TestTraceLevels:
    def term(self) -> wf.Term:
        return wf.seq(
            noop("a"),
            wf.par(noop("b"), wf.wait_signal("s")),
            wf.xor(noop("x"), noop("y")),
            effect("e"),
            wf.region("r", wf.defer(wf.after(1, noop("t")))),
        )

    def drive(self, level: str) -> Any:
        st = start(self.term(), trace_level=level)
        st.run()
        st.feed_signal("s", 1)
        st.run()
        (eff,) = outbox_of(st, StartEffect)
        st.feed_effect(eff.eid, {"r": 1})
        st.run()
        st.cancel_region("r")
        assert st.run() is Status.DONE
        return st

    def test_none_records_nothing(self) -> None:
        seen: list[Any] = []
        st = start(self.term(), trace_level="none", on_event=seen.append)
        st.run()
        assert st.events == []
        assert seen == []
        st = self.drive("none")
        assert st.events == []
        assert st.ctx == self.drive("full").ctx

    def test_min_keeps_only_min_kinds(self) -> None:
        st = self.drive("min")
        ks = kinds(st)
        assert set(ks) <= MIN_KINDS
        for k in (
            "case_started",
            "case_completed",
            "signal_received",
            "effect_requested",
            "effect_completed",
            "region_cancelled",
            "choice",
        ):
            assert k in ks
        # the same events as a full trace filtered to MIN_KINDS (only seq differs)
        full = self.drive("full")
        assert [(e.kind, e.name, e.token, e.data) for e in st.events] == [
            (e.kind, e.name, e.token, e.data) for e in full.events if e.kind in MIN_KINDS
        ]
        assert [e.seq for e in st.events] == list(range(len(st.events)))

    def test_full_records_everything(self) -> None:
        ks = set(kinds(self.drive("full")))
        assert {
            "case_started",
            "task_completed",
            "split",
            "join_arrived",
            "join_fired",
            "choice",
            "signal_received",
            "signal_consumed",
            "effect_requested",
            "effect_completed",
            "region_entered",
            "timer_started",
            "region_cancelled",
            "case_completed",
        } <= ks
        assert not ks - {str(k) for k in wf.EventKind}

    def test_seq_numbers_dense_and_case_id(self) -> None:
        st = start(self.term(), case_id="c-1")
        st.run()
        assert [e.seq for e in st.events] == list(range(len(st.events)))
        assert {e.case_id for e in st.events} == {"c-1"}

    def test_set_level_midway(self) -> None:
        st = start(wf.seq(noop("a"), wf.wait_signal("s"), noop("b")))
        st.run()
        st.set_level("none")
        st.feed_signal("s")
        st.run()
        assert completed(st) == ["a"]
        assert "signal_received" not in kinds(st)

    def test_bad_level(self) -> None:
        with pytest.raises(wf.EngineError, match="trace level 'loud'"):
            start(noop("a"), trace_level="loud")
        st = start(noop("a"))
        with pytest.raises(wf.EngineError):
            st.set_level("verbose")

    def test_on_event_without_keeping(self) -> None:
        seen: list[Any] = []
        st = start(wf.seq(noop("a"), noop("b")), on_event=seen.append, keep_events=False)
        st.run()
        assert st.events == []
        assert [e.name for e in seen if e.kind == "task_completed"] == ["a", "b"]
        assert seen[-1].kind == "case_completed"

    def test_take_events(self) -> None:
        st = start(wf.seq(noop("a"), wf.wait_signal("s"), noop("b")))
        st.run()
        first = st.take_events()
        assert [e.name for e in first if e.kind == "task_completed"] == ["a"]
        st.feed_signal("s")
        st.run()
        assert [e.name for e in st.events if e.kind == "task_completed"] == ["b"]
        assert st.events[0].seq == len(first)


class TestImplicitTermination:
    def test_done_when_no_token_left(self) -> None:
        st = run(wf.par(noop("a"), wf.seq(noop("b"), noop("c"))))
        assert st.status is Status.DONE
        assert not st.tokens
        assert not st.ready
        assert kinds(st).count("case_completed") == 1
        assert kinds(st)[-1] == "case_completed"

    def test_blocked_is_not_done(self) -> None:
        st = run(wf.par(noop("a"), wf.wait_signal("never")))
        assert st.status is Status.BLOCKED
        assert "case_completed" not in kinds(st)
        assert st.blocked_on() == {"effects": [], "signals": ["never"], "timers": []}
        assert len(st.tokens) == 1

    def test_leftover_queued_signals_do_not_keep_the_case_alive(self) -> None:
        st = start(noop("a"))
        st.feed_signal("unused", 1)
        assert st.run() is Status.DONE
        assert st.pending_signals() == {"unused": 1}

    def test_run_after_done_is_idempotent(self) -> None:
        st = run(noop("a"))
        n = len(st.events)
        assert st.run() is Status.DONE
        assert len(st.events) == n
