"""A durable order: stop it with Ctrl-C, start it again, and it goes on.

    python examples/durable_order.py            # starts order-1, waits for its payment
    ^C                                          # stops; the case stays in cases.db
    python examples/durable_order.py --pay 30   # resumes order-1 and pays it

The order reserves its item, then waits for two things at once: the
payment signal ``paid`` and a packing timer (``PACKING`` seconds); then it
ships.  Its cases live in a SQLite file (``cases.db`` by default,
``--db PATH`` to choose): a run prints the cases it resumed from the file,
starts ``order-1`` if there is no file yet, sends the payment if given
``--pay``, and waits for its cases to finish.  Stopped by Ctrl-C, it writes
nothing more; the next run resumes every unfinished case.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

import trio

import wftrio as wf

PACKING = 1.0  # seconds of packing, counted while a process runs the case


def reserve(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"reserved": ctx["item"]}


def packed(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"packed": True}


def ship(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"shipped": f"{ctx['reserved']} for {ctx['payment']}"}


def order() -> wf.Term:
    return wf.seq(
        wf.task("reserve", reserve),
        wf.par(
            wf.wait_signal("paid", "payment"),
            wf.defer(wf.after(PACKING, wf.task("packed", packed))),
        ),
        wf.task("ship", ship),
    )


REGISTRY = wf.Registry()
REGISTRY.register("order", order(), version=1)

# for `wftrio run examples/durable_order.py` (one case, in memory)
WORKFLOW = order()
CTX = {"item": "book"}
SIGNALS = [(0.5, "paid", 30)]


def waits(sub: wf.Substrate, cid: str) -> str:
    info = sub.status(cid)
    what = sorted(info.waiting_signals) + (["a timer"] * info.timers)
    return ", ".join(what) or info.state.value


async def main(db: str, pay: Any, fresh: bool) -> None:
    async with wf.open_substrate(path=db, registry=REGISTRY) as sub:
        for cid in sub.case_ids():
            await sub.wait_state(cid, "waiting_signal")  # replayed up to where it stopped
            print(f"resumed {cid}: waits for {waits(sub, cid)}", flush=True)
        for cid, err in sub.unresumed.items():
            print(f"could not resume {cid}: {err}", flush=True)
        if not fresh and not sub.case_ids():
            print(f"no unfinished order in {db}", flush=True)
        if fresh:
            await sub.new_case("order", {"item": "book"}, case_id="order-1")
            await sub.wait_state("order-1", "waiting_signal")
            print(f"started order-1: waits for {waits(sub, 'order-1')}", flush=True)
        if pay is not None:
            for cid in sub.case_ids():
                await sub.signal(cid, "paid", pay)
                print(f"paid {cid}: {pay}", flush=True)
        for cid in sub.case_ids():
            result = await sub.wait(cid)
            print(f"{cid} {result.state.value}: {result.ctx}", flush=True)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="cases.db", help="the store file (default cases.db)")
    parser.add_argument("--pay", type=int, help="send this payment to the waiting orders")
    args = parser.parse_args(argv)
    try:
        trio.run(main, args.db, args.pay, not os.path.exists(args.db))
    except KeyboardInterrupt:
        print("stopped: run again to resume", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
