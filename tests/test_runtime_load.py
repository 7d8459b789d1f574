"""Load: 10,000 concurrent cases each waiting on a signal, then completing."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from wftrio.bench import measure_waiting_cases, waiting_case_term
from wftrio.runtime import CaseState, open_substrate


async def test_ten_thousand_waiting_cases_complete() -> None:
    n = 10_000
    term = waiting_case_term()
    async with open_substrate(trace_level="none", retain_finished=None) as sub:
        ids = [await sub.new_case(term, case_id=f"c{i}") for i in range(n)]
        await trio.testing.wait_all_tasks_blocked()
        assert all(sub.status(c).state is CaseState.WAITING_SIGNAL for c in ids[:: n // 100])
        assert sub.stats().live_cases == n
        for i, cid in enumerate(ids):
            await sub.signal(cid, "go", i)
        for i, cid in enumerate(ids):
            res = await sub.wait(cid)
            assert res.ctx == {"payload": i, "done": True}
        stats = sub.stats()
        assert stats.live_cases == 0
        assert stats.cases_done == n
        assert stats.signals == n


def test_measure_waiting_cases_reports_the_numbers() -> None:
    out = measure_waiting_cases(300)
    assert out["cases"] == 300
    assert out["bytes_per_case"] > 0
    assert out["bytes_per_bare_task"] > 0
    ratio = out["bytes_per_case"] / out["bytes_per_bare_task"]
    assert out["memory_ratio"] == pytest.approx(ratio, rel=1e-2)
    assert out["signals_per_sec"] > 0
    assert out["cases_started_per_sec"] > 0
