"""The pure reducer and the outside world: defer, signals, regions,
cancellation and effects (commands out, inputs in)."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from typing import Any

import pytest
from reducer_helpers import completed, effect, inc, kinds, noop, outbox_of, put, run, start

import wftrio as wf
from wftrio.engine import CancelEffect, CancelTimer, StartEffect, StartTimer, Status
from wftrio.engine.objects import EMPTY
from wftrio.errors import EngineError, TaskError
from wftrio.testing.invariants import check_invariants


def timer_of(st: Any) -> StartTimer:
    (t,) = outbox_of(st, StartTimer)
    return t  # type: ignore[no-any-return]


def effect_of(st: Any) -> StartEffect:
    (e,) = outbox_of(st, StartEffect)
    return e  # type: ignore[no-any-return]


class TestDefer:
    def term(self) -> wf.Term:
        return wf.seq(
            wf.defer(
                wf.on_signal("s", noop("on_s")),
                wf.on_signal("t", noop("on_t")),
                wf.after(5, noop("timeout")),
            ),
            noop("after"),
        )

    def test_blocks_and_starts_timer(self) -> None:
        st = run(self.term())
        assert st.status is Status.BLOCKED
        t = timer_of(st)
        assert t.seconds == 5.0
        assert st.blocked_on() == {"effects": [], "signals": ["s", "t"], "timers": [t.tid]}

    def test_signal_wins_and_losers_are_withdrawn(self) -> None:
        st = run(self.term())
        t = timer_of(st)
        st.take_outbox()
        assert st.feed_signal("t", "payload") is True
        assert st.take_outbox() == [CancelTimer(t.tid)]
        assert st.run() is Status.DONE
        assert completed(st) == ["on_t", "after"]
        assert not any(st.waiters.values())
        assert not st.timers
        assert st.fire_timer(t.tid) is False
        (ch,) = [e for e in st.events if e.kind == "choice"]
        assert ch.data == {"by": "signal", "picked": 1}

    def test_signal_won_defer_leaves_no_stale_waiter(self) -> None:
        # regression: the winning alternative's own waiter registration was
        # kept, so the next signal of that name went to a token that had
        # moved on (AssertionError) instead of being queued
        st = run(wf.par(wf.defer(wf.on_signal("t", noop("a"))), wf.wait_signal("x")))
        st.feed_signal("t", 1)
        assert st.run() is Status.BLOCKED
        assert st.waiters.get("t", {}) == {}
        assert st.feed_signal("t", 2) is True
        assert st.pending_signals() == {"t": 1}
        st.feed_signal("x")
        assert st.run() is Status.DONE
        assert completed(st) == ["a"]

    def test_timer_wins(self) -> None:
        st = run(self.term())
        t = timer_of(st)
        assert st.fire_timer(t.tid) is True
        assert st.run() is Status.DONE
        assert completed(st) == ["timeout", "after"]
        assert not any(st.waiters.values())
        assert st.fire_timer(t.tid) is False
        (ch,) = [e for e in st.events if e.kind == "choice"]
        assert ch.data == {"by": "timer", "picked": 2}
        assert "timer_fired" in kinds(st)

    def test_queued_signal_wins_at_once_without_a_timer(self) -> None:
        st = start(self.term())
        st.feed_signal("t")
        assert st.run() is Status.DONE
        assert completed(st) == ["on_t", "after"]
        assert st.outbox == []
        assert st.pending_signals() == {}

    def test_several_queued_first_alternative_in_order_wins(self) -> None:
        st = start(self.term())
        st.feed_signal("t", 1)
        st.feed_signal("s", 2)
        assert st.run() is Status.DONE
        assert completed(st) == ["on_s", "after"]
        assert st.pending_signals() == {"t": 1}

    def test_withdrawn_alternative_consumes_no_signal(self) -> None:
        st = run(
            wf.seq(
                wf.defer(wf.on_signal("s", noop("on_s")), wf.after(1, noop("timeout"))),
                wf.wait_signal("s", store_as="got"),
            )
        )
        st.fire_timer(timer_of(st).tid)
        assert st.run() is Status.BLOCKED
        assert st.blocked_on()["signals"] == ["s"]
        st.feed_signal("s", "later")
        assert st.run() is Status.DONE
        assert completed(st) == ["timeout"]
        assert st.ctx == {"got": "later"}

    def test_unknown_timer_is_ignored(self) -> None:
        st = run(self.term())
        assert st.fire_timer(12345) is False
        assert st.status is Status.BLOCKED

    def test_defer_in_loop_rearms(self) -> None:
        st = run(
            wf.loop(wf.defer(wf.on_signal("s", inc("s")), wf.after(1, inc("t", "t"))), times=2)
        )
        st.fire_timer(timer_of(st).tid)
        st.take_outbox()
        assert st.run() is Status.BLOCKED
        t2 = timer_of(st)
        st.feed_signal("s")
        assert st.run() is Status.DONE
        assert st.ctx == {"t": 1, "n": 1}
        assert CancelTimer(t2.tid) in st.outbox


class TestWaitSignal:
    def test_signal_after_waiting(self) -> None:
        st = run(wf.seq(noop("a"), wf.wait_signal("go", store_as="v"), noop("b")))
        assert st.status is Status.BLOCKED
        assert completed(st) == ["a"]
        assert st.feed_signal("go", {"x": 1}) is True
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "b"]
        assert st.ctx == {"v": {"x": 1}}

    def test_signal_before_waiting_is_queued(self) -> None:
        st = start(wf.seq(noop("a"), wf.wait_signal("go", store_as="v"), noop("b")))
        assert st.feed_signal("go", 7) is True
        assert st.pending_signals() == {"go": 1}
        assert st.run() is Status.DONE
        assert st.ctx == {"v": 7}
        assert st.pending_signals() == {}

    def test_without_store_as_ctx_unchanged(self) -> None:
        st = start(wf.wait_signal("go"))
        st.feed_signal("go", 7)
        assert st.run() is Status.DONE
        assert st.ctx == {}

    def test_persistent_queue_order(self) -> None:
        rec = wf.task("rec", lambda c: {"seen": [*c.get("seen", []), c["v"]]})
        st = start(wf.loop(wf.seq(wf.wait_signal("s", store_as="v"), rec), times=3))
        for p in (1, 2, 3):
            st.feed_signal("s", p)
        assert st.run() is Status.DONE
        assert st.ctx["seen"] == [1, 2, 3]

    def test_one_signal_per_wait(self) -> None:
        st = start(wf.par(wf.wait_signal("s"), wf.wait_signal("s")))
        st.feed_signal("s")
        assert st.run() is Status.BLOCKED
        st.feed_signal("s")
        assert st.run() is Status.DONE

    def test_oldest_waiter_served_first(self) -> None:
        st = run(
            wf.par(
                wf.seq(wf.wait_signal("s", store_as="a"), noop("first")),
                wf.seq(wf.wait_signal("s", store_as="b"), noop("second")),
            )
        )
        st.feed_signal("s", 1)
        st.run()
        st.feed_signal("s", 2)
        st.run()
        assert st.ctx == {"a": 1, "b": 2}
        assert completed(st) == ["first", "second"]

    def test_waiter_registry_lone_token_then_dict_fifo(self) -> None:
        # a lone waiter is the token itself (alternative read off its wait)
        st = run(wf.wait_signal("s"))
        ((tok, alt),) = st.signal_waiters("s")
        assert st.waiters["s"] is tok
        assert alt == 0
        # a second one makes a dict, in arrival order; the last one leaving
        # (and a defer's other registrations) removes the names
        st = run(
            wf.par(
                wf.seq(wf.wait_signal("s", store_as="a"), noop("plain")),
                wf.defer(wf.on_signal("t", noop("t_won")), wf.on_signal("s", noop("deferred"))),
            )
        )
        check_invariants(st)
        waiting = st.signal_waiters("s")
        assert sorted(alt for _, alt in waiting) == [0, 1]
        assert isinstance(st.waiters["s"], dict)
        (oldest, _), (newest, newest_alt) = waiting
        st.feed_signal("s", 1)
        st.run()
        check_invariants(st)
        assert st.signal_waiters("s") == [(newest, newest_alt)]
        assert not oldest.alive or oldest.wait is None
        st.feed_signal("s", 2)
        assert st.run() is Status.DONE
        check_invariants(st)
        assert st.waiters == {}
        assert sorted(completed(st)) == ["deferred", "plain"]

    def test_transient_without_waiter_is_dropped(self) -> None:
        st = start(wf.seq(noop("a"), wf.wait_signal("s", store_as="v")))
        assert st.feed_signal("s", 1, transient=True) is False
        assert st.pending_signals() == {}
        assert "signal_dropped" in kinds(st)
        assert st.run() is Status.BLOCKED
        assert st.feed_signal("s", 2, transient=True) is True
        assert st.run() is Status.DONE
        assert st.ctx == {"v": 2}

    def test_signal_events_record_step(self) -> None:
        st = run(wf.seq(noop("a"), wf.wait_signal("s")))
        steps = st.steps
        st.feed_signal("s", "p")
        (ev,) = [e for e in st.events if e.kind == "signal_received"]
        assert ev.name == "s"
        assert ev.data["payload"] == "p"
        assert ev.data["at_step"] == steps


class TestRegionCancel:
    def test_withdraws_tokens_and_continues_after(self) -> None:
        st = run(
            wf.seq(
                wf.region("r", wf.par(wf.wait_signal("x"), wf.seq(wf.wait_signal("y"), noop("n")))),
                noop("after"),
            )
        )
        assert st.status is Status.BLOCKED
        assert st.live_regions() == ["r"]
        assert st.cancel_region("r") == 1
        assert not any(st.waiters.values())
        assert st.run() is Status.DONE
        assert completed(st) == ["after"]
        assert st.live_regions() == []
        assert not st.tokens
        (ev,) = [e for e in st.events if e.kind == "region_cancelled"]
        assert ev.name == "r"
        assert ev.data["n"] == 1
        # the withdrawn waits consumed nothing
        assert st.feed_signal("x") is False

    def test_compensate_runs_then_control_continues(self) -> None:
        st = run(
            wf.seq(
                noop("a"),
                wf.region("r", wf.seq(wf.wait_signal("x"), noop("never")), compensate=noop("comp")),
                noop("after"),
            )
        )
        assert st.cancel_region("r") == 1
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "comp", "after"]

    def test_completed_region_skips_compensation(self) -> None:
        st = run(wf.seq(wf.region("r", noop("a"), compensate=noop("comp")), noop("after")))
        assert completed(st) == ["a", "after"]

    def test_nested_regions_withdrawn_only_outer_compensates(self) -> None:
        term = wf.seq(
            wf.region(
                "outer",
                wf.par(
                    wf.region("inner", wf.wait_signal("x"), compensate=noop("inner_comp")),
                    wf.wait_signal("y"),
                ),
                compensate=noop("outer_comp"),
            ),
            noop("after"),
        )
        st = run(term)
        assert st.live_regions() == ["inner", "outer"]
        assert st.cancel_region("outer") == 1
        assert st.live_regions() == []
        assert st.run() is Status.DONE
        assert completed(st) == ["outer_comp", "after"]
        assert st.cancel_region("inner") == 0

    def test_inner_region_cancel_leaves_outer(self) -> None:
        term = wf.region(
            "outer",
            wf.par(
                wf.seq(wf.region("inner", wf.wait_signal("x"), compensate=noop("ic")), noop("i2")),
                wf.seq(wf.wait_signal("y"), noop("y2")),
            ),
        )
        st = run(term)
        assert st.cancel_region("inner") == 1
        assert st.run() is Status.BLOCKED
        assert completed(st) == ["ic", "i2"]
        assert st.live_regions() == ["outer"]
        assert st.blocked_on()["signals"] == ["y"]
        st.feed_signal("y")
        assert st.run() is Status.DONE

    def test_pending_effects_and_timers_cancelled(self) -> None:
        st = run(
            wf.seq(
                wf.region("r", wf.par(effect("e"), wf.defer(wf.after(3, noop("never"))))),
                noop("after"),
            )
        )
        eff, tim = effect_of(st), timer_of(st)
        st.take_outbox()
        assert st.cancel_region("r") == 1
        out = st.take_outbox()
        assert CancelEffect(eff.eid) in out
        assert CancelTimer(tim.tid) in out
        assert "effect_cancelled" in kinds(st)
        assert st.feed_effect(eff.eid, {"late": 1}) is False
        assert st.fire_timer(tim.tid) is False
        assert st.run() is Status.DONE
        assert completed(st) == ["after"]
        assert "late" not in st.ctx

    def test_enclosing_par_counts_cancelled_region_as_arrived(self) -> None:
        st = run(
            wf.seq(
                wf.par(wf.region("r", wf.wait_signal("x")), noop("b")),
                inc("after"),
            )
        )
        assert st.status is Status.BLOCKED
        st.cancel_region("r")
        assert st.run() is Status.DONE
        assert completed(st) == ["b", "after"]
        assert st.ctx == {"n": 1}

    def test_cancel_finished_or_unknown_region_is_ignored(self) -> None:
        st = run(wf.seq(wf.region("r", noop("a")), wf.wait_signal("s")))
        assert st.cancel_region("r") == 0
        assert st.cancel_region("nope") == 0
        ignored = [e for e in st.events if e.kind == "region_cancel_ignored"]
        assert [e.name for e in ignored] == ["r", "nope"]
        assert st.status is Status.BLOCKED
        assert completed(st) == ["a"]

    def test_cancel_region_of_finished_case(self) -> None:
        st = run(wf.region("r", noop("a")))
        n = len(st.events)
        assert st.cancel_region("r") == 0
        assert len(st.events) == n

    def test_every_live_activation_cancelled(self) -> None:
        st = run(wf.seq(wf.mi(wf.region("r", wf.wait_signal("x")), count=3), noop("after")))
        assert st.cancel_region("r") == 3
        assert st.run() is Status.DONE
        assert completed(st) == ["after"]

    def test_tokens_outside_the_region_untouched(self) -> None:
        st = run(
            wf.par(
                wf.region("r", wf.wait_signal("x")),
                wf.seq(wf.wait_signal("y", store_as="y"), noop("outside")),
            )
        )
        outside = {t.id for t in st.tokens.values() if t.region is None}
        st.cancel_region("r")
        assert outside <= set(st.tokens)
        assert st.run() is Status.BLOCKED
        st.feed_signal("y", 1)
        assert st.run() is Status.DONE
        assert completed(st) == ["outside"]

    def test_exited_region_with_late_branch(self) -> None:
        # control left the region through a discriminator; the late branch
        # still runs inside it and is withdrawn without compensation
        st = run(
            wf.seq(
                wf.region(
                    "r",
                    wf.join(wf.first(1), noop("a"), wf.seq(wf.wait_signal("s"), noop("late"))),
                    compensate=noop("comp"),
                ),
                noop("after"),
            )
        )
        assert st.status is Status.BLOCKED
        assert completed(st) == ["a", "after"]
        assert st.cancel_region("r") == 1
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "after"]

    def test_region_closes_after_late_branch_finishes(self) -> None:
        st = run(
            wf.seq(
                wf.region("r", wf.join(wf.first(1), noop("a"), wf.wait_signal("s"))),
                wf.wait_signal("t"),
            )
        )
        assert st.live_regions() == ["r"]
        st.feed_signal("s")
        st.run()
        assert st.live_regions() == []
        assert st.cancel_region("r") == 0

    def test_effect_regions_path(self) -> None:
        st = run(wf.par(effect("top"), wf.region("a", wf.region("b", effect("deep")))))
        cmds = {c.name: c for c in outbox_of(st, StartEffect)}
        assert cmds["top"].regions == ()
        assert len(cmds["deep"].regions) == 2
        assert len(set(cmds["deep"].regions)) == 2


class TestCaseCancel:
    def test_cancel(self) -> None:
        st = run(wf.par(effect("e"), wf.defer(wf.after(1, noop("t"))), wf.wait_signal("s")))
        eff, tim = effect_of(st), timer_of(st)
        st.take_outbox()
        assert st.cancel() is True
        assert st.status is Status.CANCELLED
        out = st.take_outbox()
        assert CancelEffect(eff.eid) in out
        assert CancelTimer(tim.tid) in out
        assert not st.tokens
        assert kinds(st)[-1] == "case_cancelled"
        assert st.run() is Status.CANCELLED
        assert st.cancel() is False
        assert st.feed_signal("s") is False
        assert st.feed_effect(eff.eid, {}) is False
        assert st.fire_timer(tim.tid) is False
        assert st.cancel_region("x") == 0

    def test_cancel_before_running(self) -> None:
        st = start(noop("a"))
        assert st.cancel() is True
        assert st.run() is Status.CANCELLED
        assert completed(st) == []

    def test_cancel_done_case(self) -> None:
        st = run(noop("a"))
        assert st.cancel() is False
        assert st.status is Status.DONE


async def fetch(ctx: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"fetched": ctx["url"]}


class TestEffects:
    def test_start_effect_fields(self) -> None:
        st = run(wf.seq(put("a", url="u"), wf.task("fetch", fetch), noop("after")), {"k": 1})
        assert st.status is Status.BLOCKED
        cmd = effect_of(st)
        assert cmd.name == "fetch"
        assert cmd.fn is fetch
        assert dict(cmd.ctx) == {"k": 1, "url": "u"}
        assert cmd.regions == ()
        assert cmd.token in st.tokens
        assert st.effects == {cmd.eid: st.tokens[cmd.token]}
        assert st.blocked_on() == {"effects": [cmd.eid], "signals": [], "timers": []}
        with pytest.raises(TypeError):
            cmd.ctx["x"] = 1  # type: ignore[index]
        assert completed(st) == ["a"]

    def test_effect_ctx_is_a_snapshot(self) -> None:
        st = run(
            wf.par(wf.task("fetch", fetch), wf.seq(wf.wait_signal("s", store_as="z"))), {"url": 1}
        )
        cmd = effect_of(st)
        st.feed_signal("s", "later")
        st.run()
        assert "z" not in cmd.ctx
        assert st.ctx["z"] == "later"

    def test_result_merged_and_case_continues(self) -> None:
        st = run(wf.seq(wf.task("fetch", fetch), noop("after")), {"url": "u"})
        cmd = effect_of(st)
        assert st.feed_effect(cmd.eid, {"fetched": "u"}) is True
        assert st.run() is Status.DONE
        assert st.ctx == {"url": "u", "fetched": "u"}
        assert completed(st) == ["fetch", "after"]
        ks = kinds(st)
        assert ks.index("effect_requested") < ks.index("effect_completed")
        (done,) = [e for e in st.events if e.kind == "effect_completed"]
        assert done.data["eid"] == cmd.eid
        assert done.data["result"] == {"fetched": "u"}

    def test_none_result(self) -> None:
        st = run(wf.seq(effect("e"), noop("after")), {"k": 1})
        st.feed_effect(effect_of(st).eid, None)
        assert st.run() is Status.DONE
        assert st.ctx == {"k": 1}

    def test_non_mapping_result_fails(self) -> None:
        st = run(wf.seq(effect("e"), noop("after")), {"k": 1})
        st.feed_effect(effect_of(st).eid, 5)  # type: ignore[arg-type]
        assert st.status is Status.FAILED
        assert isinstance(st.error, TaskError)
        assert st.ctx == {"k": 1}

    def test_error_fails_the_case(self) -> None:
        st = run(wf.par(wf.seq(effect("e"), noop("never")), wf.wait_signal("s")))
        err = ConnectionError("down")
        assert st.feed_effect(effect_of(st).eid, error=err) is True
        assert st.status is Status.FAILED
        assert st.error is err
        ks = [k for k in kinds(st) if k != "token_withdrawn"]
        assert ks[-4:] == ["effect_failed", "receipt", "task_failed", "case_failed"]
        assert not st.tokens
        assert completed(st) == []

    def test_feed_to_withdrawn_effect_ignored(self) -> None:
        st = run(wf.seq(wf.region("r", effect("e")), wf.wait_signal("s")))
        eid = effect_of(st).eid
        st.cancel_region("r")
        st.run()
        n = len(st.events)
        assert st.feed_effect(eid, {"x": 1}) is False
        assert len(st.events) == n
        assert st.ctx == {}

    def test_feed_twice_second_ignored(self) -> None:
        st = run(wf.seq(effect("e"), wf.wait_signal("s")))
        eid = effect_of(st).eid
        assert st.feed_effect(eid, {"x": 1}) is True
        assert st.feed_effect(eid, {"x": 2}) is False
        st.run()
        assert st.ctx == {"x": 1}

    def test_feed_unknown_raises(self) -> None:
        st = run(effect("e"))
        with pytest.raises(EngineError, match="no such effect"):
            st.feed_effect(10_000, {})

    def test_several_effects_complete_in_any_order(self) -> None:
        st = run(wf.seq(wf.par(effect("a"), effect("b")), noop("after")))
        a, b = outbox_of(st, StartEffect)
        st.feed_effect(b.eid, {"b": 1})
        assert st.run() is Status.BLOCKED
        st.feed_effect(a.eid, {"a": 1})
        assert st.run() is Status.DONE
        assert completed(st) == ["b", "a", "after"]
        assert st.ctx == {"a": 1, "b": 1}

    def test_effect_inside_region_reports_region_path(self) -> None:
        st = run(wf.region("r", effect("e")))
        cmd = effect_of(st)
        assert len(cmd.regions) == 1
        (ev,) = [e for e in st.events if e.kind == "effect_requested"]
        assert ev.scope == "r"


def test_rarely_used_tables_start_as_shared_read_only_empty() -> None:
    st = run(wf.wait_signal("s"))
    for table in (st.signals, st.effects, st.timers, st.regions):
        assert table is EMPTY
    assert EMPTY == {}
    assert EMPTY.pop("x", 3) == 3
    with pytest.raises(KeyError):
        EMPTY.pop("x")
    for write in (
        lambda: EMPTY.__setitem__("x", 1),
        lambda: EMPTY.setdefault("x", 1),
        lambda: EMPTY.update(x=1),
        lambda: EMPTY.clear(),
        lambda: EMPTY.popitem(),
    ):
        with pytest.raises(TypeError):
            write()
    assert copy.copy(EMPTY) is EMPTY
    assert copy.deepcopy(EMPTY) is EMPTY
    assert pickle.loads(pickle.dumps(EMPTY)) is EMPTY
    assert st.cancel() is True  # withdrawing everything leaves EMPTY alone
    assert st.regions is EMPTY
    # the first insertion into each swaps in a real dict
    st = start(
        wf.par(
            wf.region("r", effect("e")),
            wf.defer(wf.after(1.0, noop("late")), wf.on_signal("go", noop("go"))),
            wf.seq(noop("a"), wf.wait_signal("q")),
        )
    )
    assert st.feed_signal("other", 1) is True
    assert st.run() is Status.BLOCKED
    assert len(st.effects) == 1
    assert len(st.timers) == 1
    assert st.live_regions() == ["r"]
    assert st.pending_signals() == {"other": 1}
    for table in (st.signals, st.effects, st.timers, st.regions):
        assert table is not EMPTY
    check_invariants(st)
    assert st.cancel() is True
    assert st.regions == {}
