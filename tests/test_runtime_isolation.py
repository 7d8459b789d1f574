"""Crash containment and fairness: failing cases never disturb the others,
a long case does not starve a short one."""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.runtime import CaseState, open_substrate


class Boom(Exception):
    pass


def step(i: int) -> Any:
    return lambda ctx: {"steps": [*ctx.get("steps", []), i]}


def fail_at(i: int) -> Any:
    def fn(ctx: Any) -> None:
        raise Boom(f"failed at {i}")

    return fn


async def eff_ok(ctx: Any) -> dict[str, Any]:
    await trio.sleep(0.5)
    return {"effects": ctx.get("effects", 0) + 1}


async def eff_fail(ctx: Any) -> None:
    await trio.sleep(0.5)
    raise Boom("effect failed")


def case_term(n: int, fail: int | None, how: str) -> wf.Term:
    """n stages (pure task, effect, signal wait); stage ``fail`` fails ``how``."""
    parts: list[wf.Term] = []
    for i in range(n):
        if i == fail:
            parts.append(wf.task(f"bad{i}", fail_at(i) if how == "task" else eff_fail))
        parts.append(wf.task(f"s{i}", step(i)))
        parts.append(wf.task(f"e{i}", eff_ok))
        if i % 2:
            parts.append(wf.wait_signal("tick"))
    return wf.seq(*parts)


async def test_fifty_cases_ten_fail_at_random_points(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rng = random.Random(1234)
    n = 6
    failing = set(rng.sample(range(50), 10))
    plans = {
        f"c{k}": (rng.randrange(n) if k in failing else None, rng.choice(["task", "effect"]))
        for k in range(50)
    }
    async with open_substrate() as sub:
        for cid, (fail, how) in plans.items():
            await sub.new_case(case_term(n, fail, how), case_id=cid)

        async def ticker(cid: str) -> None:
            for _ in range(n // 2):
                try:
                    await sub.signal(cid, "tick")
                except wf.CaseClosed:
                    return
                await trio.sleep(rng.random())

        async with trio.open_nursery() as nursery:
            for cid in plans:
                nursery.start_soon(ticker, cid)
        await sub.drain()
        for cid, (fail, _how) in plans.items():
            info = sub.status(cid)
            if fail is None:
                res = await sub.wait(cid)
                assert res.ctx == {"steps": list(range(n)), "effects": n}, cid
                continue
            assert info.state is CaseState.FAILED, cid
            assert isinstance(info.error, Boom)
            with pytest.raises(wf.CaseFailed) as failed:
                await sub.wait(cid)
            assert isinstance(failed.value.cause, Boom)
            assert failed.value.result.ctx.get("steps", []) == list(range(fail))
        stats = sub.stats()
        assert (stats.cases_done, stats.cases_failed) == (40, 10)


async def test_failures_of_every_kind_stay_in_their_case() -> None:
    async def not_a_mapping(ctx: Any) -> Any:
        return [1, 2]

    def bad_cond(ctx: Any) -> bool:
        raise Boom("condition")

    bad_terms = {
        "task": wf.task("t", fail_at(0)),
        "effect": wf.task("e", eff_fail),
        "effect-result": wf.task("e", not_a_mapping),
        "condition": wf.xor(wf.branch(bad_cond, wf.task("x", step(0)))),
        "no-branch": wf.xor(wf.branch(lambda c: False, wf.task("x", step(0)))),
        "loop": wf.loop(wf.task("x", step(0)), while_=bad_cond),
    }
    async with open_substrate() as sub:
        good = await sub.new_case(wf.seq(wf.wait_signal("go"), wf.task("ok", step(1))))
        for name, term in bad_terms.items():
            await sub.new_case(term, case_id=name)
        for name in bad_terms:
            with pytest.raises(wf.CaseFailed) as failed:
                await sub.wait(name)
            assert failed.value.case_id == name
            assert failed.value.cause is not None
        await sub.signal(good, "go")
        assert (await sub.wait(good)).ctx == {"steps": [1]}


async def test_long_case_does_not_starve_a_short_one() -> None:
    order: list[str] = []
    long_term = wf.seq(
        wf.loop(wf.task("inc", lambda ctx: {"n": ctx["n"] + 1}), times=100_000),
        wf.task("end", lambda ctx: order.append("long")),
    )
    short_term = wf.seq(*[wf.task(f"s{i}", step(i)) for i in range(10)])
    async with open_substrate(trace_level="none", step_quanta=1000) as sub:
        long_id = await sub.new_case(long_term, {"n": 0})
        short_id = await sub.new_case(short_term)
        await sub.wait(short_id)
        order.append("short")
        res = await sub.wait(long_id)
        assert res.ctx["n"] == 100_000
        assert res.steps >= 100_000
    assert order == ["short", "long"]
