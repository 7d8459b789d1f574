"""Discriminators and the partial join: continuing before every branch is done.

* The *blocking discriminator* (WCP-9, ``wf.first(1)``): three replicas are
  asked for a price; the first reply lets the case continue at once, the
  later replies still arrive and are absorbed by the join (the case is not
  finished until they have).
* The *cancelling discriminator* (WCP-29, ``wf.first(1, cancel_rest=True)``):
  the same, but the first reply withdraws the branches still waiting, so the
  case finishes without them.
* The *partial join* (WCP-30, N-out-of-M, ``wf.first(2)``): three reviewers
  are asked; the decision is taken as soon as two reviews are in.

Run it with ``python examples/discriminator.py``; it prints each case's trace,
one line per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from _driver import Signal, print_trace, run_case

import wftrio as wf

REPLICAS = ("a", "b", "c")


def ask(replica: str) -> wf.Term:
    """One branch: send the request, then wait for that replica's reply."""
    return wf.seq(
        wf.task(f"ask_{replica}", lambda ctx: None),
        wf.wait_signal(f"reply_{replica}", store_as=f"reply_{replica}"),
    )


def use_first_reply(ctx: Mapping[str, Any]) -> dict[str, Any]:
    replies = {r: ctx[f"reply_{r}"] for r in REPLICAS if f"reply_{r}" in ctx}
    (winner, price), *_ = replies.items()
    return {"winner": winner, "price": price}


def review(reviewer: str) -> wf.Term:
    return wf.seq(
        wf.task(f"request_review_{reviewer}", lambda ctx: None),
        wf.wait_signal(f"review_{reviewer}", store_as=f"review_{reviewer}"),
    )


def decide(ctx: Mapping[str, Any]) -> dict[str, Any]:
    reviews = [ctx[k] for k in sorted(ctx) if k.startswith("review_")]
    return {"decision": "accept" if reviews.count("approve") >= 2 else "revise"}


BLOCKING = wf.seq(
    wf.join(wf.first(1), *(ask(r) for r in REPLICAS)),
    wf.task("use_first_reply", use_first_reply),
)
"""Blocking discriminator: continue on the first reply, absorb the others."""

CANCELLING = wf.seq(
    wf.join(wf.first(1, cancel_rest=True), *(ask(r) for r in REPLICAS)),
    wf.task("use_first_reply", use_first_reply),
)
"""Cancelling discriminator: continue on the first reply, withdraw the others."""

PARTIAL = wf.seq(
    wf.join(wf.first(2), *(review(r) for r in ("ann", "bob", "cy"))),
    wf.task("decide", decide),
)
"""Partial join: decide once two of the three reviews are in."""

WORKFLOW = CANCELLING
"""The workflow ``wftrio run examples/discriminator.py`` runs."""

REPLIES: list[Signal] = [("reply_b", 95), ("reply_c", 99), ("reply_a", 90)]
REVIEWS: list[Signal] = [
    ("review_bob", "approve"),
    ("review_ann", "approve"),
    ("review_cy", "reject"),
]
"""The signals sent, one each time the case waits, in this order."""

CASES: dict[str, tuple[wf.Term, list[Signal]]] = {
    "blocking discriminator": (BLOCKING, REPLIES),
    "cancelling discriminator": (CANCELLING, REPLIES),
    "partial join, 2 out of 3": (PARTIAL, REVIEWS),
}


def main() -> None:
    for title, (workflow, signals) in CASES.items():
        print_trace(title, run_case(workflow, {}, signals, case_id=title))


if __name__ == "__main__":
    main()
