"""Cancelled effects and the budget (issue 10 item 8).

* The time from a cancelled effect's request to its withdrawal counts
  against ``max_time``, like a finished effect's.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.runtime import open_substrate


async def _slow(ctx: Any) -> dict[str, int]:
    await trio.sleep(100)
    return {"slow": 1}


async def test_a_cancelled_effects_time_is_charged_to_max_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    term = wf.seq(
        wf.region("r", wf.task("slow", _slow)),
        wf.task("after", lambda ctx: {"after": 1}),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term, budget=wf.Budget(max_time=1000))
        await trio.sleep(7)
        await sub.cancel_region(cid, "r")
        result = await sub.wait(cid)
        assert result.ctx == {"after": 1}
        [r] = [r for r in sub.receipts(cid) if r.task == "slow"]
        assert r.outcome == "cancelled"
        assert r.attempts == 1  # its function was running
        assert sub.status(cid).budget.time == 7.0
