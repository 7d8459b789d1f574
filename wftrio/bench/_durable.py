"""Figures 13, 13b, 13c, 13d: durable cases on ``wf.SQLiteStore`` against memory.

13   steps/s: cases of a ``seq`` of pure tasks run to the end on a
     ``SQLiteStore`` against the same cases on a ``MemoryStore`` (same work;
     the store's part is committing every burst's events, and the substrate
     is closed inside the timing, so every commit is counted).
13b  signals/s: one case consuming signals in a loop, each ``sub.signal``
     awaited (on SQLite it returns once the request is committed) against
     the same on memory.
13c  resume: opening a substrate on a file holding n cases that wait on a
     signal, until every one waits again, against starting n such cases on
     a memory substrate.  The file is built (untimed) by storing one case and
     copying its rows n - 1 times under new ids, which stores what n cases
     would.
13d  bytes on disk per case of 13c's file (database, after a checkpoint of
     its write-ahead log), against the JSON the store holds for a case (its
     ctx and event bodies): the store's overhead.

The store commits with ``synchronous=FULL``, so 13 and 13b include one
fsync per transaction: their figures depend on the disk (the temporary
directory's) far more than the others do.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import trio

from wftrio.bench._report import figure
from wftrio.bench._timing import ratio
from wftrio.bench._workloads import FNS, check
from wftrio.registry import Registry
from wftrio.runtime import open_substrate
from wftrio.terms import Term, loop, seq, task, wait_signal

__all__ = [
    "bench_durable_bytes",
    "bench_durable_resume",
    "bench_durable_signals",
    "bench_durable_steps",
]


def _tasks_term(n: int) -> Term:
    return seq(*(task(f"t{i}", FNS[i % len(FNS)]) for i in range(n)))


def _registry(**terms: Term) -> Registry:
    reg = Registry()
    for name, term in terms.items():
        reg.register(name, term)
    return reg


def _ctx() -> dict[str, Any]:
    return {f"k{i}": 0 for i in range(len(FNS))}


async def _run_cases(path: Path | None, reg: Registry, cases: int) -> float:
    t0 = trio.current_time()
    async with open_substrate(path=path, registry=reg) as sub:
        ids = [await sub.new_case("steps", _ctx()) for _ in range(cases)]
        for cid in ids:
            res = await sub.wait(cid)
        check(res.ctx["k0"] > 0, "the steps case did not run its tasks")
    return trio.current_time() - t0


def bench_durable_steps(tasks: int, cases: int, repeat: int) -> dict[str, Any]:
    """Figure 13: pure steps per second on SQLite against memory."""
    reg = _registry(steps=_tasks_term(tasks))
    best = {"sqlite": float("inf"), "memory": float("inf")}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            best["sqlite"] = min(
                best["sqlite"], trio.run(_run_cases, Path(tmp) / "c.db", reg, cases)
            )
        best["memory"] = min(best["memory"], trio.run(_run_cases, None, reg, cases))
    steps = tasks * cases
    return figure(
        f"{cases} cases of a seq of {tasks:,} pure tasks: SQLiteStore vs MemoryStore",
        steps / best["sqlite"],
        steps / best["memory"],
        "steps/s",
        "reported",
        None,
        time_ratio=ratio(best["sqlite"], best["memory"]),
    )


async def _signals(path: Path | None, reg: Registry, n: int) -> float:
    async with open_substrate(path=path, registry=reg) as sub:
        cid = await sub.new_case("signals", _ctx())
        t0 = trio.current_time()
        for i in range(n):
            await sub.signal(cid, "go", i)
        res = await sub.wait(cid)
        dt = trio.current_time() - t0
    check(res.ctx["k0"] == n, "the signals case did not consume every signal")
    return dt


def bench_durable_signals(n: int, repeat: int) -> dict[str, Any]:
    """Figure 13b: signals per second on SQLite against memory."""
    reg = _registry(signals=loop(seq(wait_signal("go"), task("t", FNS[0])), times=n))
    best = {"sqlite": float("inf"), "memory": float("inf")}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            best["sqlite"] = min(best["sqlite"], trio.run(_signals, Path(tmp) / "c.db", reg, n))
        best["memory"] = min(best["memory"], trio.run(_signals, None, reg, n))
    return figure(
        f"{n:,} signals to one case, each awaited: SQLiteStore (committed) vs MemoryStore",
        n / best["sqlite"],
        n / best["memory"],
        "signals/s",
        "reported",
        None,
        time_ratio=ratio(best["sqlite"], best["memory"]),
    )


def _waiting_term() -> Term:
    return seq(task("a", FNS[0]), wait_signal("go", "go"), task("b", FNS[1]))


async def _store_one(path: Path, reg: Registry) -> None:
    async with open_substrate(path=path, registry=reg) as sub:
        await sub.new_case("waiting", _ctx(), case_id="w0")
        await sub.wait_state("w0", "waiting_signal")


def _copy_case(path: Path, n: int) -> int:
    """Copy stored case ``w0`` to ``w1 .. w{n-1}``; return w0's JSON bytes."""
    con = sqlite3.connect(path)
    try:
        with con:
            row = con.execute("SELECT * FROM cases WHERE case_id = 'w0'").fetchone()
            events = con.execute("SELECT seq, body FROM events WHERE case_id = 'w0'").fetchall()
            con.executemany(
                "INSERT INTO cases VALUES (" + ", ".join("?" * len(row)) + ")",
                ((f"w{i}", *row[1:]) for i in range(1, n)),
            )
            for seq_, body in events:
                ev = json.loads(body)
                con.executemany(
                    "INSERT INTO events VALUES (?, ?, ?)",
                    ((f"w{i}", seq_, json.dumps({**ev, "case_id": f"w{i}"})) for i in range(1, n)),
                )
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(row[6]) + sum(len(body) for _, body in events)
    finally:
        con.close()


async def _resume(path: Path, reg: Registry, n: int) -> float:
    t0 = trio.current_time()
    async with open_substrate(path=path, registry=reg) as sub:
        check(not sub.unresumed, f"cases not resumed: {list(sub.unresumed)[:3]}")
        for i in range(n):
            await sub.wait_state(f"w{i}", "waiting_signal")
        dt = trio.current_time() - t0
    return dt


async def _start(reg: Registry, n: int) -> float:
    t0 = trio.current_time()
    async with open_substrate(registry=reg) as sub:
        for i in range(n):
            await sub.new_case("waiting", _ctx(), case_id=f"w{i}")
        for i in range(n):
            await sub.wait_state(f"w{i}", "waiting_signal")
        dt = trio.current_time() - t0
    return dt


def bench_durable_resume(n: int, repeat: int) -> dict[str, Any]:
    """Figure 13c: resuming ``n`` stored waiting cases against starting them on memory."""
    reg = _registry(waiting=_waiting_term())
    best = {"resume": float("inf"), "start": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.db"
        trio.run(_store_one, path, reg)
        _copy_case(path, n)
        for _ in range(repeat):
            best["resume"] = min(best["resume"], trio.run(_resume, path, reg, n))
            best["start"] = min(best["start"], trio.run(_start, reg, n))
    return figure(
        f"open a SQLite file of {n:,} cases waiting on a signal, until all wait again, "
        f"vs starting {n:,} such cases on memory",
        best["resume"],
        best["start"],
        "s",
        "reported",
        None,
        differs="the baseline starts the cases (runs their first task) instead of "
        "reading and replaying them",
        cases=n,
    )


def bench_durable_bytes(n: int) -> dict[str, Any]:
    """Figure 13d: bytes on disk per stored waiting case, against its JSON."""
    reg = _registry(waiting=_waiting_term())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.db"
        trio.run(_store_one, path, reg)
        payload = _copy_case(path, n)
        size = os.path.getsize(path)
    return figure(
        f"bytes on disk per stored waiting case ({n:,} cases), vs the JSON stored for one",
        size / n,
        float(payload),
        "B/case",
        "reported",
        None,
        cases=n,
    )
