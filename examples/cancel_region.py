"""A cancellation region with effects in flight, while a sibling branch completes.

A travel agency plans a trip.  Two things happen in parallel:

* in the region ``"search"``, two *effects* (``async def`` tasks, run by the
  runtime as trio tasks in the region's cancel scope) put a hold on a
  flight seat and on a hotel room with outside suppliers, which take 5 and
  8 seconds to confirm;
* a sibling branch checks the traveller's visa (an effect of 2 seconds),
  then records the result.

At 3 seconds the traveller changes their mind about the search, and the
application calls ``sub.cancel_region(case, "search")`` (WCP-25, cancel
region).  Both holds are still in flight: each effect receives
``trio.Cancelled`` and its cleanup gives the hold back to the supplier (the
hotel's release even awaits, shielded, and the runtime waits for it).  Their
results are never applied.  The region's ``compensate`` term runs, then
control continues after the region as if it had completed: the ``par``
counts it as arrived, the visa branch has finished, and ``summarise`` runs.
The case ends DONE.

Run it with ``python examples/cancel_region.py``: it runs the trip twice,
once with the search cancelled at 3 s and once left alone, and prints each
trace, the summary, and the agency's log of what happened at the suppliers.
On the command line: ``wftrio run examples/cancel_region.py
--cancel-region search@3``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.console import print_result


class TravelAgency:
    """The outside world the effects talk to: suppliers holding seats and rooms.

    ``log`` records what happened, in trio time; ``holds`` is what is held
    right now (a cancelled search must leave nothing held).
    """

    def __init__(self) -> None:
        self.log: list[tuple[float, str]] = []
        self.holds: set[str] = set()
        self.confirmed: set[str] = set()

    def _note(self, what: str) -> None:
        self.log.append((trio.current_time(), what))

    async def _hold(self, kind: str, ctx: Mapping[str, Any], seconds: float) -> dict[str, Any]:
        hold = f"{kind} in {ctx['destination']}"
        self.holds.add(hold)
        self._note(f"hold {hold}")
        try:
            await trio.sleep(seconds)  # the supplier takes its time to confirm
        except trio.Cancelled:
            # cleanup: the region was cancelled while we waited; give the hold back.
            # Awaiting here needs a shield (we are cancelled); the runtime waits for it.
            with trio.CancelScope(shield=True):
                await trio.sleep(0.5 if kind == "hotel room" else 0)
                self.holds.discard(hold)
                self._note(f"released {hold} (cleanup after cancellation)")
            raise
        self.holds.discard(hold)
        self.confirmed.add(hold)
        self._note(f"confirmed {hold}")
        return {kind.split()[0]: hold}

    async def hold_flight(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Effect: hold a seat on a flight (5 s to confirm)."""
        return await self._hold("flight seat", ctx, 5)

    async def hold_hotel(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Effect: hold a hotel room (8 s to confirm)."""
        return await self._hold("hotel room", ctx, 8)

    async def check_visa(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Effect: ask the embassy's service (2 s)."""
        await trio.sleep(2)
        self._note(f"visa checked for {ctx['traveller']}")
        return {"visa": "not required"}


def plan(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"plan": f"{ctx['traveller']} to {ctx['destination']}"}


def search_cancelled(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"search": "cancelled"}


def record_visa(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"documents": "ready" if ctx["visa"] == "not required" else "apply"}


def summarise(ctx: Mapping[str, Any]) -> dict[str, Any]:
    booked = [k for k in ("flight", "hotel") if k in ctx]
    return {"summary": f"{ctx['plan']}: booked {', '.join(booked) or 'nothing'}"}


def build(agency: TravelAgency) -> wf.Term:
    """The trip workflow, its effects talking to ``agency``."""
    return wf.seq(
        wf.task("plan", plan),
        wf.par(
            wf.region(
                "search",
                wf.par(
                    wf.task("hold_flight", agency.hold_flight),
                    wf.task("hold_hotel", agency.hold_hotel),
                ),
                compensate=wf.task("search_cancelled", search_cancelled),
            ),
            wf.seq(
                wf.task("check_visa", agency.check_visa),
                wf.task("record_visa", record_visa),
            ),
        ),
        wf.task("summarise", summarise),
    )


AGENCY = TravelAgency()
WORKFLOW = build(AGENCY)
"""The workflow ``wftrio run examples/cancel_region.py`` runs."""

CTX: dict[str, Any] = {"traveller": "Ada", "destination": "Lisbon"}


async def run_case(
    workflow: wf.Term, cancel_at: float | None, case_id: str
) -> tuple[wf.CaseResult, wf.SubstrateStats]:
    """Run the trip; cancel the search region ``cancel_at`` seconds in (if given)."""
    async with wf.open_substrate() as sub:
        case = await sub.new_case(workflow, CTX, case_id=case_id)
        if cancel_at is not None:
            await trio.sleep(cancel_at)
            await sub.cancel_region(case, "search")
        result = await sub.wait(case)
        return result, sub.stats()


def run_scenario(
    cancel_at: float | None, agency: TravelAgency | None = None
) -> tuple[wf.CaseResult, wf.SubstrateStats, TravelAgency]:
    """Run the trip in virtual time with a fresh agency; return result, stats, agency."""
    agency = agency if agency is not None else TravelAgency()
    clock = trio.testing.MockClock(autojump_threshold=0)
    title = "search cancelled" if cancel_at is not None else "search completes"
    result, stats = trio.run(run_case, build(agency), cancel_at, title, clock=clock)
    return result, stats, agency


def main() -> None:
    for cancel_at in (3.0, None):
        result, stats, agency = run_scenario(cancel_at)
        print_result(result, title=result.case_id)
        print("what happened at the suppliers:")
        for at, what in agency.log:
            print(f"  {at:6.1f}s  {what}")
        print(f"  effects cancelled: {stats.effects_cancelled}; still held: {len(agency.holds)}")
        print()


if __name__ == "__main__":
    main()
