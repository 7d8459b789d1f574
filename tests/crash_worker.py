"""The order workflow of ``tests/test_store_crash.py``, and the process it runs in.

Run as a script (``python crash_worker.py DB KEYS PHASE N``), it opens a
substrate on the SQLite file ``DB``, creates whichever of the cases
``c0 .. c{N-1}`` the store does not hold yet, prints ``ready``, then reads
requests from stdin, one JSON object a line::

    {"id": 7, "case": "c3", "kind": "signal", "name": "pay", "payload": 21}
    {"id": 8, "case": "c3", "kind": "cancel_region", "name": "hold"}

and prints ``ack ID`` once ``sub.signal`` / ``sub.cancel_region`` has
returned (the request is committed).  A ``cancel_region`` is sent only once
the region has a live activation (the workflow has nothing else live then,
so the moment cannot change the outcome).  Every case that finishes is
printed as ``result {json}``; the process exits once all have.  Every
effect appends ``[phase, case, task, idempotency key]`` to ``KEYS`` before
it does its work.

Imported, it gives the test the same registry for its uninterrupted
reference run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import trio

import wftrio as wf

TICK = 0.02  # the short timer every case waits for (seconds of trio time)
DEADLINE = 3600.0  # a deadline the confirm signal always beats

_keys_path: str | None = None
_phase = "ref"


def _log(task: str) -> None:
    if _keys_path is None:
        return
    eff = wf.current_effect()
    with open(_keys_path, "a") as f:  # one write() per line: a kill cannot tear it
        f.write(json.dumps([_phase, eff.case_id, task, eff.key]) + "\n")


async def charge(ctx: Mapping[str, Any]) -> dict[str, Any]:
    _log("charge")
    await trio.sleep(0.001)
    return {"charged": ctx["i"] * 10}


async def refund(ctx: Mapping[str, Any]) -> dict[str, Any]:
    _log("refund")
    await trio.sleep(0.001)
    return {"refunded": ctx["charged"]}


async def ship(ctx: Mapping[str, Any]) -> dict[str, Any]:
    _log("ship")
    await trio.sleep(0.001)
    return {"shipped": ctx["booked"]}


def book(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"booked": ctx["charged"] + ctx["payment"]}


def timed(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"timed": True}


def skipped(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"timed": False}


def held(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"held": True}


def lines_of(ctx: Mapping[str, Any]) -> list[int]:
    return list(range(ctx["i"] % 4 + 1))


def line(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"line": ctx["item"] * ctx["i"]}


def confirmed(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"confirmed": True}


def expired(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"confirmed": False}


def archive(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"archived": ctx["closed"]}


def order() -> wf.Term:
    """Effects, signals, a timer, a deadline, a cancellation region and an mi."""
    return wf.seq(
        wf.task("charge", charge),
        wf.wait_signal("pay", "payment"),
        wf.task("book", book),
        wf.defer(
            wf.on_signal("skip", wf.task("skipped", skipped)),
            wf.after(TICK, wf.task("timed", timed)),
        ),
        wf.region(
            "hold",
            wf.seq(wf.wait_signal("unhold"), wf.task("held", held)),
            compensate=wf.task("refund", refund),
        ),
        wf.mi(wf.task("line", line), items=lines_of, collect="lines"),
        wf.defer(
            wf.on_signal("confirm", wf.task("confirmed", confirmed)),
            wf.after(DEADLINE, wf.task("expired", expired)),
        ),
        wf.task("ship", ship),
        wf.wait_signal("close", "closed"),
        wf.task("archive", archive),
    )


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("order", order(), version=1)
    return reg


def requests(i: int) -> list[dict[str, Any]]:
    """What the outside world sends case ``c{i}`` (``close`` last, in the final process)."""
    cid = f"c{i}"
    out: list[dict[str, Any]] = [{"case": cid, "kind": "signal", "name": "pay", "payload": i * 7}]
    if i % 2:
        out.append({"case": cid, "kind": "cancel_region", "name": "hold"})
    else:
        out.append({"case": cid, "kind": "signal", "name": "unhold", "payload": None})
    out.append({"case": cid, "kind": "signal", "name": "confirm", "payload": {"by": i}})
    return out


def close(i: int) -> dict[str, Any]:
    return {"case": f"c{i}", "kind": "signal", "name": "close", "payload": f"closed-{i}"}


async def send(sub: wf.Substrate, req: Mapping[str, Any]) -> None:
    """Send one request, a ``cancel_region`` only once its region is live."""
    cid = req["case"]
    if req["kind"] == "signal":
        await sub.signal(cid, req["name"], req["payload"])
        return
    while req["name"] not in sub.status(cid).live_regions:
        if sub.status(cid).state in (wf.CaseState.DONE, wf.CaseState.FAILED):
            raise AssertionError(f"{cid} finished before its region was cancelled")
        await trio.sleep(0.005)
    await sub.cancel_region(cid, req["name"])


def result_of(cid: str, r: wf.CaseResult) -> dict[str, Any]:
    return {
        "case": cid,
        "state": str(r.state.value),
        "ctx": r.ctx,
        "completions": [e.name for e in r.trace if e.kind == "task_completed"],
    }


def _out(line_: str) -> None:
    sys.stdout.write(line_ + "\n")
    sys.stdout.flush()


async def _report(sub: wf.Substrate, cid: str, left: list[int], all_done: trio.Event) -> None:
    r = await sub.wait(cid)
    _out("result " + json.dumps(result_of(cid, r)))
    left[0] -= 1
    if left[0] == 0:
        all_done.set()


async def _serve(sub: wf.Substrate, nursery: trio.Nursery) -> None:
    stdin = trio.lowlevel.FdStream(os.dup(0))
    buf = b""
    while chunk := await stdin.receive_some():
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            req = json.loads(raw)

            async def one(req: dict[str, Any] = req) -> None:
                await send(sub, req)
                _out(f"ack {req['id']}")

            nursery.start_soon(one)


async def main(db: str, n: int) -> None:
    cases = [f"c{i}" for i in range(n)]
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        if sub.unresumed:
            raise AssertionError(f"cases not resumed: {sub.unresumed}")
        resumed = set(sub.case_ids())
        _out("resumed " + json.dumps(sorted(resumed)))
        for i, cid in enumerate(cases):
            if cid not in resumed:
                await sub.new_case("order", {"i": i}, case_id=cid)
        _out("ready")
        left = [len(cases)]
        all_done = trio.Event()
        async with trio.open_nursery() as nursery:
            for cid in cases:
                nursery.start_soon(_report, sub, cid, left, all_done)
            nursery.start_soon(_serve, sub, nursery)
            await all_done.wait()
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    _db, _keys_path, _phase, _n = sys.argv[1:5]
    trio.run(main, _db, int(_n))
