"""Order fulfilment: an approval point, effects with retries and timeouts, a
partial join of shipping quotes, and a region cancelled by the customer.

An order comes in and is priced.  Orders above 500 wait at an *approval
point* for a manager's decision (the signal ``approval``; a decision by
someone who is not an approver counts as a rejection); a rejection
notifies the customer and ends the case (``terminate``).  Then two things race (a
*cancelling discriminator*, ``first(1, cancel_rest=True)``):

* the region ``"fulfilment"``: reserve the stock, ask three carriers for a
  quote and go on with the first two that answer (a *cancelling partial
  join*, ``first(2, cancel_rest=True)``: the slow carrier's request is
  cancelled), choose the cheaper, charge the card (``timeout=5`` per
  attempt, ``retry=wf.Retry(3, ...)``: the gateway hangs once, fails once,
  then succeeds), book the shipment, confirm;
* the customer's cancellation: ``wait_signal("customer_cancel")``.  If it
  comes first, the whole fulfilment region is withdrawn at once: its
  effects in flight are cancelled (their cleanup runs at the suppliers);
  then ``refund_and_release`` refunds what was charged and releases the
  stock.  Otherwise the wait is withdrawn and the order is closed.

If an operator cancels the region instead (``sub.cancel_region(case,
"fulfilment")``, or ``--cancel-region fulfilment@SECONDS`` on the command
line), its ``compensate`` runs the same refund and the order is closed.

Every effect is an ``async def`` method of :class:`Shop`, the outside
world; its log shows what the suppliers saw.  Run it with ``python
examples/order_fulfilment.py`` (four orders, in virtual time), or one case
with ``wftrio run examples/order_fulfilment.py`` (the first order, approved
at 1 s).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.console import print_result

APPROVAL_LIMIT = 500
APPROVERS = ("maria", "li")
CARRIERS = {"dhl": (2.0, 12.5), "ups": (3.0, 9.9), "fedex": (60.0, 8.0)}
"""Carrier -> (seconds its quote service takes, the price it quotes)."""


class GatewayError(Exception):
    """The payment gateway answered with an error (retried)."""


class Shop:
    """The outside world: warehouse, carriers and payment gateway.

    Args:
        gateway: what the payment gateway does on each charge attempt, in
            order: ``"hang"`` (never answers: the task's timeout cuts it),
            ``"fail"`` (answers 503) or ``"ok"``.
    """

    def __init__(self, gateway: Sequence[str] = ("ok",)) -> None:
        self.gateway = list(gateway)
        self.log: list[tuple[float, str]] = []
        self.reserved: dict[str, int] = {}
        self.charged: dict[str, float] = {}
        self.bookings: list[str] = []

    def _note(self, what: str) -> None:
        self.log.append((trio.current_time(), what))

    async def reserve_stock(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        await trio.sleep(0.5)
        for line in ctx["lines"]:
            self.reserved[line["sku"]] = self.reserved.get(line["sku"], 0) + line["qty"]
        self._note(f"stock reserved for {ctx['order']}")
        return {"reserved": True}

    def quote(self, carrier: str) -> Callable[[Mapping[str, Any]], Any]:
        """The effect asking ``carrier`` for a quote."""
        seconds, price = CARRIERS[carrier]

        async def ask(ctx: Mapping[str, Any]) -> dict[str, Any]:
            try:
                await trio.sleep(seconds)
            except trio.Cancelled:
                self._note(f"quote request to {carrier} withdrawn")
                raise
            self._note(f"{carrier} quoted {price}")
            return {f"quote_{carrier}": price}

        ask.__qualname__ = f"Shop.quote_{carrier}"
        return ask

    async def charge_card(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        behaviour = self.gateway.pop(0) if self.gateway else "ok"
        self._note(f"charge attempt for {ctx['order']}: gateway will {behaviour}")
        if behaviour == "hang":
            await trio.sleep_forever()
        if behaviour == "fail":
            raise GatewayError("503 service unavailable")
        await trio.sleep(1)
        self.charged[ctx["order"]] = ctx["total"]
        self._note(f"charged {ctx['total']} for {ctx['order']}")
        return {"charged": ctx["total"]}

    async def book_shipment(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        carrier = ctx["carrier"]
        try:
            await trio.sleep(2)
        except trio.Cancelled:
            self._note(f"booking with {carrier} withdrawn (cleanup)")
            raise
        tracking = f"{carrier.upper()}-{ctx['order']}"
        self.bookings.append(tracking)
        self._note(f"shipment booked: {tracking}")
        return {"tracking": tracking}

    async def refund_and_release(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        await trio.sleep(0.5)
        refunded = self.charged.pop(ctx["order"], 0)
        if refunded:
            self._note(f"refunded {refunded} for {ctx['order']}")
        if ctx.get("reserved"):
            for line in ctx["lines"]:
                self.reserved[line["sku"]] -= line["qty"]
            self._note(f"stock released for {ctx['order']}")
        return {"status": "cancelled", "refunded": refunded}


def receive_order(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"total": sum(line["qty"] * line["unit"] for line in ctx["lines"])}


def needs_approval(ctx: Mapping[str, Any]) -> bool:
    return bool(ctx["total"] > APPROVAL_LIMIT)


def choose_carrier(ctx: Mapping[str, Any]) -> dict[str, Any]:
    quotes = {c: ctx[f"quote_{c}"] for c in CARRIERS if f"quote_{c}" in ctx}
    carrier = min(quotes, key=quotes.__getitem__)
    return {"carrier": carrier, "shipping": quotes[carrier]}


def confirm(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": "shipped"}


def cancelled_by_customer(ctx: Mapping[str, Any]) -> bool:
    return "cancel_reason" in ctx


def close_order(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"closed": True}


def approved(ctx: Mapping[str, Any]) -> bool:
    answer = ctx["approval"]
    return bool(answer["approved"] and answer["by"] in APPROVERS)


def record_approval(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"approved_by": ctx["approval"]["by"]}


def notify_rejection(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": "rejected"}


def build(shop: Shop) -> wf.Term:
    """The order workflow, its effects talking to ``shop``."""
    refund = wf.task("refund_and_release", shop.refund_and_release, timeout=10)
    quotes = wf.join(
        wf.first(2, cancel_rest=True),
        *(wf.task(f"quote_{c}", shop.quote(c), timeout=90) for c in CARRIERS),
    )
    fulfilment = wf.region(
        "fulfilment",
        wf.seq(
            wf.task("reserve_stock", shop.reserve_stock),
            quotes,
            wf.task("choose_carrier", choose_carrier),
            wf.task(
                "charge_card",
                shop.charge_card,
                timeout=5,
                retry=wf.Retry(3, backoff=1.0, on=(wf.EffectTimeout, GatewayError)),
            ),
            wf.task("book_shipment", shop.book_shipment, timeout=30),
            wf.task("confirm", confirm),
        ),
        compensate=refund,
    )
    return wf.seq(
        wf.task("receive_order", receive_order),
        wf.xor(
            wf.branch(
                needs_approval,
                wf.seq(
                    wf.wait_signal("approval", store_as="approval"),
                    wf.xor(
                        wf.branch(approved, wf.task("record_approval", record_approval)),
                        wf.seq(wf.task("notify_rejection", notify_rejection), wf.terminate()),
                    ),
                ),
            ),
            wf.task("auto_approve", lambda ctx: None),
        ),
        wf.join(
            wf.first(1, cancel_rest=True),
            fulfilment,
            wf.wait_signal("customer_cancel", store_as="cancel_reason"),
        ),
        wf.xor(wf.branch(cancelled_by_customer, refund), wf.task("close_order", close_order)),
    )


SHOP = Shop(gateway=("hang", "fail", "ok"))
WORKFLOW = build(SHOP)
"""What ``wftrio run examples/order_fulfilment.py`` runs (with CTX and SIGNALS)."""

ORDER: dict[str, Any] = {
    "order": "A-17",
    "lines": [{"sku": "kettle", "qty": 2, "unit": 120}, {"sku": "espresso", "qty": 1, "unit": 400}],
}
SMALL_ORDER: dict[str, Any] = {"order": "B-3", "lines": [{"sku": "mug", "qty": 4, "unit": 20}]}


def decision(by: str, approved: bool, note: str | None = None) -> dict[str, Any]:
    """The payload of a manager's ``approval`` signal."""
    return {"by": by, "approved": approved, "note": note}


Script = list[tuple[float, str, Any]]
"""Signals to send: ``(seconds after the start, name, payload)``."""

SCENARIOS: dict[str, tuple[dict[str, Any], Script, tuple[str, ...]]] = {
    "approved and shipped": (
        ORDER,
        [(1, "approval", decision("maria", True))],
        ("hang", "fail", "ok"),
    ),
    "customer cancels while the parcel is booked": (
        ORDER,
        [(1, "approval", decision("li", True)), (14, "customer_cancel", "found it cheaper")],
        ("hang", "fail", "ok"),
    ),
    "rejected by the manager": (
        ORDER,
        [(1, "approval", decision("maria", False, "customer over credit limit"))],
        (),
    ),
    "small order, no approval needed": (SMALL_ORDER, [], ("ok",)),
}
"""Orders: the initial ctx, the signals sent, and how the payment gateway behaves."""

CTX, SIGNALS, _ = SCENARIOS["approved and shipped"]


async def run_case(workflow: wf.Term, ctx: dict[str, Any], script: Script, case_id: str) -> Any:
    """Start one case, send the scripted signals at their times, return its result."""
    async with wf.open_substrate() as sub:
        case = await sub.new_case(workflow, ctx, case_id=case_id)
        start = trio.current_time()
        for at, name, payload in script:
            await trio.sleep_until(start + at)
            if sub.status(case).state.final:
                break
            await sub.signal(case, name, payload)
        return await sub.wait(case)


def run_scenario(title: str) -> tuple[wf.CaseResult, Shop]:
    """Run one order of :data:`SCENARIOS` in virtual time, with a fresh shop."""
    ctx, script, gateway = SCENARIOS[title]
    shop = Shop(gateway)
    clock = trio.testing.MockClock(autojump_threshold=0)
    result: wf.CaseResult = trio.run(run_case, build(shop), ctx, script, title, clock=clock)
    return result, shop


def main() -> None:
    for title in SCENARIOS:
        result, shop = run_scenario(title)
        print_result(result, title=title)
        print("what the suppliers saw:")
        for at, what in shop.log:
            print(f"  {at:6.1f}s  {what}")
        print()


if __name__ == "__main__":
    main()
