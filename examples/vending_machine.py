"""A vending machine: sequence, deferred choice, loop and exclusive choice.

The customer picks a product; the machine then waits for coins.  Each round
of the loop is a *deferred choice* (WCP-16): whichever happens first wins --
a 50 coin, a 100 coin, the cancel button, or 60 seconds without anything --
and the other alternatives are withdrawn.  The loop ends once the credit
covers the price or the purchase was called off; an *exclusive choice*
(WCP-4) then dispenses and gives change, or refunds.

Run it with ``python examples/vending_machine.py``: it runs four customers
on a substrate (the trio runtime) and prints each case's trace, one line per
event, and a summary.  The clock is trio's ``MockClock``, so the customer who
walks away times out after 60 virtual seconds, at once.  Or run one case
with the command line: ``wftrio run examples/vending_machine.py`` (a tea,
paid with a 50 and a 100 coin) or, for instance,
``wftrio run examples/vending_machine.py --ctx '{"product": "coffee"}'
--signal coin_100@1 --signal cancel@2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.console import print_result

PRICES = {"coffee": 150, "tea": 100}


def select(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"price": PRICES[ctx["product"]], "credit": 0, "cancelled": False}


def credit_50(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"credit": ctx["credit"] + 50}


def credit_100(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"credit": ctx["credit"] + 100}


def call_off(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"cancelled": True}


def paid_or_called_off(ctx: Mapping[str, Any]) -> bool:
    return bool(ctx["cancelled"] or ctx["credit"] >= ctx["price"])


def called_off(ctx: Mapping[str, Any]) -> bool:
    return bool(ctx["cancelled"])


def refund(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"refunded": ctx["credit"], "credit": 0}


def dispense(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"dispensed": ctx["product"]}


def give_change(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"change": ctx["credit"] - ctx["price"], "credit": 0}


INSERT_COINS = wf.loop(
    wf.defer(
        wf.on_signal("coin_50", wf.task("credit_50", credit_50)),
        wf.on_signal("coin_100", wf.task("credit_100", credit_100)),
        wf.on_signal("cancel", wf.task("cancel", call_off)),
        wf.after(60.0, wf.task("timeout", call_off)),
    ),
    until=paid_or_called_off,
)

WORKFLOW = wf.seq(
    wf.task("select", select),
    INSERT_COINS,
    wf.xor(
        wf.branch(called_off, wf.task("refund", refund)),
        wf.seq(wf.task("dispense", dispense), wf.task("give_change", give_change)),
    ),
)
"""The vending machine; run a case with ``{"product": "coffee"}`` or ``"tea"``."""

Script = list[tuple[float, str, Any]]
"""Signals to send: ``(seconds after the start, name, payload)``."""

SCENARIOS: dict[str, tuple[dict[str, Any], Script]] = {
    "coffee, exact money": ({"product": "coffee"}, [(1, "coin_100", None), (2, "coin_50", None)]),
    "tea, change due": ({"product": "tea"}, [(1, "coin_50", None), (2, "coin_100", None)]),
    "coffee, cancelled": ({"product": "coffee"}, [(1, "coin_50", None), (3, "cancel", None)]),
    "coffee, customer walks away": ({"product": "coffee"}, [(5, "coin_100", None)]),
}
"""Customers: the initial ctx and the signals they send."""

CTX, SIGNALS = SCENARIOS["tea, change due"]
"""What ``wftrio run examples/vending_machine.py`` runs by default."""


async def run_case(workflow: wf.Term, ctx: dict[str, Any], script: Script, case_id: str) -> Any:
    """Start one case, send the scripted signals at their times, return its result."""
    async with wf.open_substrate() as sub:
        case = await sub.new_case(workflow, ctx, case_id=case_id)
        start = trio.current_time()
        for at, name, payload in script:
            await trio.sleep_until(start + at)
            await sub.signal(case, name, payload)
        return await sub.wait(case)


def run_scenario(title: str) -> wf.CaseResult:
    """Run one customer of :data:`SCENARIOS` in virtual time."""
    ctx, script = SCENARIOS[title]
    clock = trio.testing.MockClock(autojump_threshold=0)  # timers fire without waiting
    result: wf.CaseResult = trio.run(run_case, WORKFLOW, ctx, script, title, clock=clock)
    return result


def main() -> None:
    for title in SCENARIOS:
        print_result(run_scenario(title), title=title)


if __name__ == "__main__":
    main()
