"""Which allowlist governs a compensation (issue 10 item 9; docs/EFFECTS.md).

A region's ``compensate=`` term runs after the region was cancelled, outside
it: the enclosing region's ``allow=`` (or the case's) governs its effects,
not the cancelled region's own.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.runtime import open_substrate


async def _ship(effect: Any, ectx: Any) -> dict[str, bool]:
    return {"shipped": True}


async def _refund(effect: Any, ectx: Any) -> dict[str, bool]:
    return {"refunded": True}


HANDLER = {"ship": _ship, "refund": _refund}


def _shipping(allow: set[str]) -> wf.Term:
    return wf.region(
        "r",
        wf.seq(wf.task("w", lambda c: wf.Effect("ship", None)), wf.wait_signal("never")),
        compensate=wf.task("undo", lambda c: wf.Effect("refund", None)),
        allow=allow,
    )


async def _cancelled(term: wf.Term) -> tuple[dict[str, Any], dict[str, str]]:
    async with open_substrate(effect_handler=HANDLER) as sub:
        cid = await sub.new_case(wf.seq(term, wf.task("end", lambda c: None)))
        await sub.wait_state(cid, wf.CaseState.WAITING_SIGNAL)
        await sub.cancel_region(cid, "r")
        try:
            ctx = dict((await sub.wait(cid)).ctx)
        except wf.CaseFailed as exc:
            ctx = {"failed": type(exc.cause).__name__}
        return ctx, {r.task: r.outcome for r in sub.receipts(cid) if r.source == "effect"}


async def test_a_compensation_is_not_governed_by_its_own_regions_allowlist(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ctx, outcomes = await _cancelled(_shipping({"ship"}))
    assert outcomes == {"w": "ok", "undo": "ok"}
    assert ctx == {"shipped": True, "refunded": True}


async def test_the_enclosing_regions_allowlist_governs_a_compensation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    outer = wf.region("outer", _shipping({"ship"}), allow={"ship"})
    ctx, outcomes = await _cancelled(outer)
    assert outcomes == {"w": "ok", "undo": "disallowed"}
    assert ctx == {"failed": "GuardViolation"}
