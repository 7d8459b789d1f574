"""The worker process of ``tests/test_pg_chaos.py``: ``python pg_worker.py DSN EFFECTS``.

It opens a substrate on ``wf.PostgresStore(DSN)`` (a short lease), prints
``ready`` and runs whatever cases it claims until it is killed.  Every
effect appends ``[worker, case, effect, key, epoch]`` (the epoch at which
this worker owns the case) to the file ``EFFECTS`` before it does its
work (one ``write`` per line: a kill cannot tear it).  Imported, it gives
the test the workflow's registry.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import trio

import wftrio as wf

TICK = 0.05  # the timer every case waits for (seconds)
LEASE = 0.6

_effects: str | None = None
_store: wf.PostgresStore | None = None


def _log(name: str) -> None:
    if _effects is None or _store is None:
        return
    eff = wf.current_effect()
    epoch = _store.epoch_of(eff.case_id)
    line = json.dumps([_store.worker_id, eff.case_id, name, eff.key, epoch]) + "\n"
    fd = os.open(_effects, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


async def charge(ctx: Mapping[str, Any]) -> dict[str, Any]:
    _log("charge")
    await trio.sleep(0.001)
    return {"charged": ctx["i"] * 10}


async def ship(ctx: Mapping[str, Any]) -> dict[str, Any]:
    _log("ship")
    await trio.sleep(0.001)
    return {"shipped": ctx["charged"] + ctx["payment"]}


def timed(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"timed": True}


def book(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"booked": ctx["shipped"] + 1}


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register(
        "chaos",
        wf.seq(
            wf.task("charge", charge),
            wf.wait_signal("pay", "payment"),
            wf.defer(wf.after(TICK, wf.task("timed", timed))),
            wf.task("ship", ship),
            wf.task("book", book),
        ),
        version=1,
    )
    return reg


async def main(dsn: str) -> None:
    global _store
    _store = wf.PostgresStore(dsn, lease=LEASE, heartbeat=LEASE / 4, poll=0.1, claim_batch=100)
    async with wf.open_substrate(store=_store, registry=registry(), retain_finished=100):
        print("ready", flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    _effects = sys.argv[2]
    trio.run(main, sys.argv[1])
