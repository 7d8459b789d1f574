"""Replay on the runtime: a recorded case's trace is reproduced exactly (times
included, under MockClock) without calling its effects or sending signals."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.runtime import CaseState, open_substrate


def key(trace: list[wf.TraceEvent]) -> list[tuple[Any, ...]]:
    """Everything but the case id (the replay runs under another id)."""
    return [(e.seq, e.kind, e.name, e.token, e.scope, e.time, e.data) for e in trace]


class Calls:
    def __init__(self) -> None:
        self.n = 0

    def effect(self, name: str, seconds: float, fail: bool = False) -> wf.Term:
        async def fn(ctx: Any) -> dict[str, Any]:
            self.n += 1
            await trio.sleep(seconds)
            if fail:
                raise RuntimeError(f"{name} failed")
            return {name: ctx.get("x", 0) + seconds}

        return wf.task(name, fn)


def rich_term(calls: Calls) -> wf.Term:
    return wf.seq(
        wf.task("init", lambda ctx: {"x": 1}),
        wf.par(
            calls.effect("fetch", 1.5),
            wf.seq(wf.wait_signal("go", store_as="go"), calls.effect("ship", 0.1)),
            wf.region("r", wf.seq(calls.effect("slow", 50), wf.task("never", lambda c: {"n": 1}))),
        ),
        wf.defer(
            wf.on_signal("hurry", wf.task("hurried", lambda ctx: {"by": "signal"})),
            wf.after(2.5, wf.task("waited", lambda ctx: {"by": "timer"})),
        ),
        wf.wait_signal("end", store_as="end"),
    )


async def drive_rich(sub: Any, cid: str) -> None:
    await trio.sleep(0.25)
    await sub.signal(cid, "end", "queued-early")  # persistent: consumed at the end
    await sub.signal(cid, "nobody", 1, transient=True)  # dropped
    await trio.sleep(1)
    await sub.signal(cid, "go", {"k": [1, 2]})
    await trio.sleep(0.5)
    await sub.cancel_region(cid, "r")


async def test_replay_with_effects_signals_timers_and_region_cancel(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = Calls()
    term = rich_term(calls)
    async with open_substrate() as sub:
        await trio.sleep(0.3)  # the recorded case does not start at time 0
        cid = await sub.new_case(term)
        await drive_rich(sub, cid)
        original = await sub.wait(cid)
        assert original.ctx["by"] == "timer"
        assert original.ctx["end"] == "queued-early"
        assert "n" not in original.ctx
        kinds = {ev.kind for ev in original.trace}
        assert {"effect_completed", "signal_dropped", "timer_fired", "region_cancelled"} <= kinds
        called = calls.n
        await trio.sleep(7.7)
        log = wf.replay_log(original.trace)
        sub.forget(cid)  # a replay continues the recorded case, under its id
        rid = await sub.new_case(term, scheduler=wf.Replay(log))
        assert rid == cid
        replayed = await sub.wait(rid)
    assert calls.n == called  # no effect function ran again
    assert replayed.ctx == original.ctx
    assert key(replayed.trace) == key(original.trace)


async def test_replay_of_a_seeded_case(autojump_clock: trio.testing.MockClock) -> None:
    calls = Calls()
    term = wf.par(
        *[
            wf.seq(calls.effect(f"e{i}", 0.5 * i), wf.task(f"t{i}", lambda c: None))
            for i in range(4)
        ],
        wf.xor(wf.task("a", lambda c: {"pick": "a"}), wf.task("b", lambda c: {"pick": "b"})),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term, scheduler=wf.Seeded(7))
        original = await sub.wait(cid)
        assert any(ev.kind == "choice" for ev in original.trace)
        called = calls.n
        sub.forget(cid)
        rid = await sub.new_case(term, scheduler=wf.Replay(wf.replay_log(original.trace)))
        replayed = await sub.wait(rid)
    assert calls.n == called
    assert key(replayed.trace) == key(original.trace)


async def test_replay_of_failed_and_cancelled_cases(autojump_clock: trio.testing.MockClock) -> None:
    calls = Calls()
    failing = wf.seq(calls.effect("ok", 1), calls.effect("bad", 1, fail=True))
    waiting = wf.seq(calls.effect("ok", 1), wf.wait_signal("never"))
    async with open_substrate() as sub:
        fid = await sub.new_case(failing)
        with pytest.raises(wf.CaseFailed) as failed:
            await sub.wait(fid)
        cid = await sub.new_case(waiting)
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        await trio.sleep(3)
        await sub.cancel(cid)
        with pytest.raises(wf.CaseCancelled) as cancelled:
            await sub.wait(cid)
        called = calls.n
        sub.forget(fid)
        sub.forget(cid)

        rf = await sub.new_case(
            failing, scheduler=wf.Replay(wf.replay_log(failed.value.result.trace))
        )
        with pytest.raises(wf.CaseFailed) as refailed:
            await sub.wait(rf)
        assert isinstance(refailed.value.cause, wf.WftrioError)  # a RecordedError
        assert "bad failed" in str(refailed.value.cause)
        assert key(refailed.value.result.trace) == key(failed.value.result.trace)

        rc = await sub.new_case(
            waiting, scheduler=wf.Replay(wf.replay_log(cancelled.value.result.trace))
        )
        with pytest.raises(wf.CaseCancelled) as recancelled:
            await sub.wait(rc)
        assert key(recancelled.value.result.trace) == key(cancelled.value.result.trace)
    assert calls.n == called


async def test_replay_of_a_live_case_goes_on_live(autojump_clock: trio.testing.MockClock) -> None:
    calls = Calls()
    term = wf.seq(calls.effect("a", 1), wf.wait_signal("go", store_as="go"), calls.effect("b", 1))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        partial = sub.events(cid)
        await sub.cancel(cid)
        await sub.wait_state(cid, CaseState.CANCELLED)
        sub.forget(cid)
        assert calls.n == 1
        # resume from the partial trace: "a" is not run again, then the case goes on live
        rid = await sub.new_case(term, scheduler=wf.Replay(wf.replay_log(partial)))
        await sub.signal(rid, "go", 5)  # held until the recorded inputs are fed
        res = await sub.wait(rid)
    assert res.ctx == {"a": 1, "go": 5, "b": 1}
    assert calls.n == 2  # only "b" ran
    # identical up to the last recorded input; live from there (the held
    # signal is taken as soon as the log is exhausted)
    last = max(i for i, ev in enumerate(partial) if ev.kind == "effect_completed")
    assert key(res.trace[: last + 1]) == key(partial[: last + 1])


async def test_divergent_replay_fails_the_case_only() -> None:
    recorded_term = wf.seq(wf.task("a", lambda c: None), wf.task("b", lambda c: None))
    recorded_term = wf.seq(recorded_term, wf.wait_signal("go"))
    async with open_substrate() as sub:
        rec = await sub.new_case(recorded_term)
        await sub.signal(rec, "go")
        log = wf.replay_log((await sub.wait(rec)).trace)
        sub.forget(rec)
        other = await sub.new_case(wf.wait_signal("go"))
        # the reducer asks for a choice the log lacks: it fails the case itself
        choosy = wf.xor(wf.task("a", lambda c: {"a": 1}), wf.task("b", lambda c: {"b": 1}))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(await sub.new_case(choosy, scheduler=wf.Replay(log)))
        assert isinstance(info.value.cause, wf.ReplayDivergence)
        # the case blocks before the step its next input was recorded at: the
        # runner detects it and fails the case (nothing escapes the runner)
        early = wf.seq(wf.wait_signal("go"), wf.task("z", lambda c: None))
        sub.forget(rec)  # the failed replay above ran as the recorded case
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(await sub.new_case(early, scheduler=wf.Replay(log)))
        assert isinstance(info.value.cause, wf.ReplayDivergence)
        failed = [ev for ev in info.value.result.trace if ev.kind == "case_failed"]
        assert failed[0].name == "runtime"
        await sub.signal(other, "go")
        assert (await sub.wait(other)).state is CaseState.DONE


def test_sync_run_replays() -> None:
    calls = Calls()
    term = wf.seq(calls.effect("a", 2), wf.wait_signal("go", store_as="go"))
    clock = trio.testing.MockClock(autojump_threshold=0)
    original = wf.run(term, signals=[("go", 1)], clock=clock)
    replayed = wf.run(
        term,
        scheduler=wf.Replay(wf.replay_log(original.trace)),
        clock=trio.testing.MockClock(autojump_threshold=0),
    )
    assert calls.n == 1
    assert key(replayed.trace) == key(original.trace)


# -- a log no case could have recorded fails at once (issue 10 item 1) --------


def _log(at_step: int, time: float, *earlier: tuple[int, float]) -> Any:
    from wftrio.trace import InputEvent, ReplayLog

    inputs = [InputEvent("signal_received", s, "other", t, {"payload": 0}) for s, t in earlier]
    inputs.append(InputEvent("signal_received", at_step, "go", time, {"payload": 1}))
    return ReplayLog(preemptive=False, choices=(), inputs=tuple(inputs))


def _long_then_wait() -> wf.Term:
    # five pure steps before the case blocks on "go"
    steps = [wf.task(f"t{i}", lambda ctx: None) for i in range(5)]
    return wf.seq(*steps, wf.wait_signal("go"), wf.task("after", lambda ctx: {"done": True}))


@pytest.mark.parametrize(
    ("at_step", "time", "earlier"),
    [
        pytest.param(2, 0.0, ((-1, 0.0),), id="negative-step"),
        pytest.param(2, 0.0, ((5, 0.0),), id="step-out-of-order"),
        pytest.param(5, 1e300, (), id="time-1e300"),
        pytest.param(5, float("inf"), (), id="time-inf"),
        pytest.param(5, float("nan"), (), id="time-nan"),
        pytest.param(5, 1.0, ((1, 2.0),), id="time-out-of-order"),
    ],
)
async def test_replay_of_a_log_no_case_could_record_fails_at_once(
    at_step: int, time: float, earlier: tuple[tuple[int, float], ...]
) -> None:
    # no autojump clock: spinning on a step behind the case, or waiting for a
    # time that never comes, would hang here (both did before)
    async with open_substrate() as sub:
        neighbour = await sub.new_case(_long_then_wait())
        with trio.fail_after(5), pytest.raises(wf.ReplayDivergence, match="inputs"):
            await sub.new_case(
                _long_then_wait(), scheduler=wf.Replay(_log(at_step, time, *earlier))
            )
        await sub.signal(neighbour, "go")
        assert (await sub.wait(neighbour)).ctx == {"done": True}


async def test_replay_input_at_its_step_and_time_is_fed(autojump_clock: Any) -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(_long_then_wait(), scheduler=wf.Replay(_log(5, 3.0)))
        result = await sub.wait(cid)
        assert result.ctx == {"done": True}
