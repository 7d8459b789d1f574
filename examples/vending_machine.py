"""A vending machine: sequence, deferred choice, loop and exclusive choice.

The customer picks a product; the machine then waits for coins.  Each round
of the loop is a *deferred choice* (WCP-16): whichever happens first wins --
a 50 coin, a 100 coin, the cancel button, or 60 seconds without anything --
and the other alternatives are withdrawn.  The loop ends once the credit
covers the price or the purchase was called off; an *exclusive choice*
(WCP-4) then dispenses and gives change, or refunds.

Run it with ``python examples/vending_machine.py``; it runs four customers
and prints each case's trace, one line per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from _driver import Signal, print_trace, run_case

import wftrio as wf

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

SCENARIOS: dict[str, tuple[dict[str, Any], list[Signal]]] = {
    "coffee, exact money": (
        {"product": "coffee"},
        [("coin_100", None), ("coin_50", None)],
    ),
    "tea, change due": ({"product": "tea"}, [("coin_50", None), ("coin_100", None)]),
    "coffee, cancelled": ({"product": "coffee"}, [("coin_50", None), ("cancel", None)]),
    "coffee, customer walks away": ({"product": "coffee"}, [("coin_100", None)]),
}
"""Customers: initial ctx and the signals they send, one each time the machine waits."""


def main() -> None:
    for title, (ctx, signals) in SCENARIOS.items():
        print_trace(title, run_case(WORKFLOW, ctx, signals, case_id=title))


if __name__ == "__main__":
    main()
