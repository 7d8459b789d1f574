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

Run it with ``python examples/discriminator.py``; it runs each on a
substrate and prints its trace, one line per event, and a summary.  The
command line runs the cancelling discriminator with the replies below:
``wftrio run examples/discriminator.py`` (or ``...discriminator.py:PARTIAL
--signal review_ann=\"approve\"@1 ...`` for another one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.console import print_result

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

Script = list[tuple[float, str, Any]]
"""Signals to send: ``(seconds after the start, name, payload)``."""

REPLIES: Script = [(1, "reply_b", 95), (2, "reply_c", 99), (3, "reply_a", 90)]
REVIEWS: Script = [
    (1, "review_bob", "approve"),
    (2, "review_ann", "approve"),
    (3, "review_cy", "reject"),
]
"""The replies and reviews, as they come in."""

SIGNALS = REPLIES
"""What ``wftrio run examples/discriminator.py`` sends to :data:`WORKFLOW`."""

SCENARIOS: dict[str, tuple[wf.Term, Script]] = {
    "blocking discriminator": (BLOCKING, REPLIES),
    "cancelling discriminator": (CANCELLING, REPLIES),
    "partial join, 2 out of 3": (PARTIAL, REVIEWS),
}


async def run_case(workflow: wf.Term, script: Script, case_id: str) -> Any:
    """Start one case, send the scripted signals at their times, return its result."""
    async with wf.open_substrate() as sub:
        case = await sub.new_case(workflow, case_id=case_id)
        start = trio.current_time()
        for at, name, payload in script:
            await trio.sleep_until(start + at)
            if sub.status(case).state.final:
                break  # a cancelling join already finished the case: nobody listens
            await sub.signal(case, name, payload)
        return await sub.wait(case)


def run_scenario(title: str) -> wf.CaseResult:
    """Run one of :data:`SCENARIOS` in virtual time."""
    workflow, script = SCENARIOS[title]
    clock = trio.testing.MockClock(autojump_threshold=0)
    result: wf.CaseResult = trio.run(run_case, workflow, script, title, clock=clock)
    return result


def main() -> None:
    for title in SCENARIOS:
        print_result(run_scenario(title), title=title)


if __name__ == "__main__":
    main()
