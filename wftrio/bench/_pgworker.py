"""A bench worker process: ``python -m wftrio.bench._pgworker DSN LEASE``.

Opens a substrate on ``wf.PostgresStore(DSN)`` with the bench's workflow
registered, prints ``ready`` and runs the cases it claims until killed.
"""

from __future__ import annotations

import sys

import trio

from wftrio.registry import Registry
from wftrio.runtime import open_substrate
from wftrio.stores import PostgresStore
from wftrio.terms import seq, task, wait_signal

__all__ = ["registry"]


def _inc(ctx: object) -> dict[str, int]:
    return {"n": 1}


def _got(ctx: object) -> dict[str, bool]:
    return {"done": True}


def registry() -> Registry:
    """The bench's workflow: a task, a signal, a task."""
    reg = Registry()
    reg.register("bench", seq(task("a", _inc), wait_signal("go", "go"), task("b", _got)))
    return reg


async def _main(dsn: str, lease: float) -> None:
    store = PostgresStore(dsn, lease=lease, heartbeat=lease / 4, poll=0.05, claim_batch=200)
    async with open_substrate(store=store, registry=registry(), retain_finished=100):
        print("ready", flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(_main, sys.argv[1], float(sys.argv[2]))
