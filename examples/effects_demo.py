"""Effects, receipts and governance: an order that charges, ships and asks for approval.

The workflow touches the world only through effects, and every effect
leaves a receipt:

* ``reserve`` is an async task function (it talks to the warehouse itself);
* ``charge`` returns a ``wf.Effect("payment", ...)`` spec that the case's
  effect handler carries out; the payment service is flaky, so the task
  retries with exponential backoff (in trio time);
* ``notify`` asks for an ``"email"`` effect inside a region that only
  allows ``"payment"`` and ``"shipping"``: the allowlist refuses it, and
  its ``on_error`` term records that instead of failing the case;
* a refund above the threshold needs an approval: the case waits for a
  decision signal, ignores one from someone who is not an approver, and
  goes on once an approver decides;
* ``ship`` runs under a budget and a timeout.

Then the case is replayed from its trace: no handler is called again and
the receipts come out byte for byte the same.

Run it with ``python examples/effects_demo.py``: it prints the trace, one
line per event, then the receipts.  Or watch one case with the command line,
``wftrio run examples/effects_demo.py``: it takes the module's ``HANDLER``,
``CTX``, ``SIGNALS`` and ``OPTIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
import trio.testing

import wftrio as wf


class Services:
    """The effect handler: the outside world, faked (a flaky payment service)."""

    def __init__(self, payment_failures: int = 2) -> None:
        self.payment_failures = payment_failures
        self.calls: list[tuple[str, str, int]] = []  # (kind, idempotency key, attempt)
        self.done: dict[str, Mapping[str, Any]] = {}  # key -> result (at-most-once)

    async def handle(self, effect: wf.Effect, ctx: wf.EffectContext) -> Mapping[str, Any]:
        self.calls.append((effect.kind, ctx.key, ctx.attempt))
        if ctx.key in self.done:  # the same effect again: answer, do not redo
            return self.done[ctx.key]
        await trio.sleep(0.2)
        if effect.kind == "payment" and self.payment_failures:
            self.payment_failures -= 1
            raise ConnectionError("payment service unavailable")
        result = {f"{effect.kind}_ref": f"{effect.kind}-{ctx.key[:8]}"}
        self.done[ctx.key] = result
        return result


async def reserve(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """An async task function: an effect in its own right (kind = its name)."""
    await trio.sleep(0.5)
    return {"reserved": ctx["qty"]}


def charge(ctx: Mapping[str, Any]) -> wf.Effect:
    return wf.Effect("payment", {"order": ctx["order"], "amount": ctx["total"]}, cost=1)


def ship(ctx: Mapping[str, Any]) -> wf.Effect:
    return wf.Effect("shipping", {"order": ctx["order"]}, cost=1)


def notify(ctx: Mapping[str, Any]) -> wf.Effect:
    return wf.Effect("email", {"to": ctx["customer"], "text": "shipped"})


WORKFLOW = wf.seq(
    wf.task("price", lambda ctx: {"total": 12 * ctx["qty"]}),
    wf.task("reserve", reserve, timeout=5),
    wf.region(
        "fulfilment",
        wf.seq(
            wf.task("charge", charge, retry=wf.Retry(4, backoff=0.5), timeout=3),
            wf.task("ship", ship, timeout=3),
            wf.task(
                "notify",
                notify,
                on_error=wf.task("no_email", lambda ctx: {"notified": False}),
            ),
        ),
        allow={"payment", "shipping"},
    ),
    wf.approval(
        "refund",
        approver={"ann", "bob"},
        then=wf.task("refund", lambda ctx: {"refunded": ctx["total"] // 4}),
    ),
)
"""The order workflow."""

OPTIONS: dict[str, Any] = {"budget": wf.Budget(max_effects=5, max_cost=3)}
"""Case options: at most 5 effects, 3 units of cost."""

CTX: dict[str, Any] = {"order": "A-17", "qty": 2, "customer": "c@example.com"}
"""The order (what ``wftrio run`` starts the case with)."""

HANDLER = Services()
"""The effect handler ``wftrio run`` gives the case (``main`` makes its own)."""

SIGNALS = [
    (0, wf.approval_signal("refund"), wf.approve("mallory", "sure")),  # not an approver
    (0, wf.approval_signal("refund"), wf.approve("ann", "damaged box")),
]
"""The decisions ``wftrio run`` sends: queued until the approval waits for them."""


def format_event(ev: wf.TraceEvent) -> str:
    data = ", ".join(f"{k}={v!r}" for k, v in ev.data.items() if k != "at_step")
    return f"{ev.time:7.2f}  {ev.kind:<16} {ev.name or '':<22} {data}"[:160]


def format_receipt(r: wf.Receipt) -> str:
    return (
        f"{r.causal_id:<22} {r.kind:<9} {r.task:<15} {r.outcome:<11} attempts={r.attempts} "
        f"{r.started:.2f}->{r.ended:.2f}s result={(r.result or '-')[:15]}"
    )


async def main() -> tuple[wf.CaseResult, list[wf.Receipt], wf.BudgetUsage, Services]:
    """Run the order, then replay it; return its result, receipts, budget use, services."""
    services = Services()
    async with wf.open_substrate(effect_handler=services) as sub:
        ctx = dict(CTX)
        case = await sub.new_case(WORKFLOW, ctx, case_id="order-A-17", **OPTIONS)
        await sub.wait_state(case, wf.CaseState.WAITING_SIGNAL)
        signal = wf.approval_signal("refund")
        await sub.signal(case, signal, wf.approve("mallory", "sure"))  # not an approver
        await sub.signal(case, signal, wf.approve("ann", "damaged box"))
        result = await sub.wait(case)
        receipts = sub.receipts(case)
        usage = sub.status(case).budget

        # replay the recorded trace: no effect runs again, the receipts are the same
        calls = len(services.calls)
        sub.forget(case)  # a replay continues the recorded case, under its id
        again = await sub.new_case(
            WORKFLOW, ctx, scheduler=wf.Replay(wf.replay_log(result.trace)), **OPTIONS
        )
        await sub.wait(again)
        if [r.to_json() for r in sub.receipts(again)] != [r.to_json() for r in receipts]:
            raise AssertionError("the replay's receipts differ")  # pragma: no cover
        if len(services.calls) != calls:
            raise AssertionError("the replay called the handler")  # pragma: no cover
    return result, receipts, usage, services


if __name__ == "__main__":
    res, receipts, usage, services = trio.run(
        main, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    for ev in res.trace:
        print(format_event(ev))
    print(f"-> {res.state.value}: {res.ctx}")
    print("receipts:")
    for r in receipts:
        print("  " + format_receipt(r))
    print(f"budget used: {usage.effects} effects, cost {usage.cost:g}, {usage.time:.2f}s")
    print(f"replayed: identical receipts, no effect ran again ({len(services.calls)} calls)")
