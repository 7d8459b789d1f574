"""Multiple instances: items-driven, a fixed count, and without synchronisation.

An order is shipped in one case:

1. every order line is priced by its own instance of a two-task body
   (WCP-14, instances known at run time from ``ctx["lines"]``); each
   instance sees its line under ``ctx["line"]`` and keeps its own updates,
   which are collected into ``ctx["priced"]`` in line order;
2. two copies of the invoice are printed (WCP-13, a count known at design
   time);
3. every contact is notified and asked to confirm (WCP-12, no
   synchronisation): the order ships at once, while the confirmations
   trickle in; the case ends when the last one has arrived.

Run it with ``python examples/multiple_instances.py`` (or ``wftrio run
examples/multiple_instances.py``, which uses :data:`CTX` and
:data:`SIGNALS`); it prints the trace, one line per event, and a summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.console import print_result


def order_lines(ctx: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(ctx["lines"])


def price_line(ctx: Mapping[str, Any]) -> dict[str, Any]:
    line = ctx["line"]
    return {"sku": line["sku"], "net": line["qty"] * line["unit"]}


def add_tax(ctx: Mapping[str, Any]) -> dict[str, Any]:
    # ``net`` is this instance's own update: instances do not see each other's
    return {"gross": round(ctx["net"] * 1.2)}


def total(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"total": sum(p["gross"] for p in ctx["priced"])}


def print_invoice(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"copy": f"invoice copy {ctx['index'] + 1}, total {ctx['total']}"}


def notify(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"notified": ctx["contact"]}


def ship(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"shipped": True}


PRICE_LINES = wf.mi(
    wf.seq(wf.task("price_line", price_line), wf.task("add_tax", add_tax)),
    items=order_lines,
    item_key="line",
    collect="priced",
)
"""One instance per order line (items-driven), results collected in line order."""

PRINT_INVOICES = wf.mi(wf.task("print_invoice", print_invoice), count=2, collect="copies")
"""A fixed number of instances; each knows its ``index``."""

NOTIFY_CONTACTS = wf.mi(
    wf.seq(
        wf.task("notify", notify),
        wf.wait_signal("confirmed", store_as="confirmation"),
    ),
    items=("buyer", "accounts"),
    item_key="contact",
    join="none",
    collect="confirmations",
)
"""No synchronisation: the case continues at once; instances finish later."""

WORKFLOW = wf.seq(
    PRICE_LINES,
    wf.task("total", total),
    PRINT_INVOICES,
    NOTIFY_CONTACTS,
    wf.task("ship", ship),
)
"""Ship an order; run a case with ``{"lines": [{"sku": ..., "qty": ..., "unit": ...}]}``."""

CTX: dict[str, Any] = {
    "lines": [
        {"sku": "kettle", "qty": 1, "unit": 40},
        {"sku": "mug", "qty": 4, "unit": 5},
    ]
}
SIGNALS: list[tuple[float, str, Any]] = [
    (1, "confirmed", "buyer ok"),
    (2, "confirmed", "accounts ok"),
]
"""Confirmations ``(seconds after the start, name, payload)``; the oldest waiter gets each."""


async def run_case(ctx: dict[str, Any], case_id: str) -> Any:
    """Start the case, send the confirmations at their times, return its result."""
    async with wf.open_substrate() as sub:
        case = await sub.new_case(WORKFLOW, ctx, case_id=case_id)
        start = trio.current_time()
        for at, name, payload in SIGNALS:
            await trio.sleep_until(start + at)
            await sub.signal(case, name, payload)
        return await sub.wait(case)


def run_scenario() -> wf.CaseResult:
    """Ship the order of :data:`CTX` in virtual time."""
    clock = trio.testing.MockClock(autojump_threshold=0)
    result: wf.CaseResult = trio.run(run_case, CTX, "order-1", clock=clock)
    return result


def main() -> None:
    print_result(run_scenario(), title="ship an order")


if __name__ == "__main__":
    main()
