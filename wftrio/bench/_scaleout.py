"""Figures 14, 14b, 14c: many worker processes over one PostgreSQL database.

A throwaway server (:class:`wftrio.stores._pgserver.PgServer`, ``fsync``
off: the figures measure wftrio's protocol, not the disk) is started for
the figures.  Worker processes (:mod:`wftrio.bench._pgworker`) run a
``task, wait_signal, task`` workflow; a ``wf.Client`` stores n cases,
then commits one signal per case.

14   cases/s: n cases started by the client and run to the end by 3
     workers, against 1 worker (the per-workers figures list 1, 2, 3).
14b  signals/s: from the first signal committed until every case has
     consumed its signal and finished, 3 workers against 1.
14c  claim latency: a worker holding a waiting case is SIGKILLed; the time
     until another worker has claimed the case (its epoch bumped), against
     the lease (what the latency is bounded by, plus one poll).
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from wftrio.bench._report import figure
from wftrio.bench._workloads import check
from wftrio.runtime import Client
from wftrio.stores._pgserver import PgServer

__all__ = ["bench_scaleout", "scaleout_figure"]

_LEASE = 1.0
_done: dict[tuple[int, int], dict[str, dict[str, Any]]] = {}


def _spawn(dsn: str) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [sys.executable, "-m", "wftrio.bench._pgworker", dsn, str(_LEASE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert p.stdout is not None
    line = p.stdout.readline().strip()
    check(line == "ready", f"a bench worker did not start ({line!r})")
    return p


def _stop(p: subprocess.Popen[str]) -> None:
    p.kill()
    p.wait()
    if p.stdout is not None:
        p.stdout.close()


def _one(client: Client, q: str, *args: Any) -> int:
    row = client._conn.execute(q, args).fetchone()  # noqa: SLF001
    assert row is not None
    return int(row[0])


def _count_done(client: Client) -> int:
    return _one(client, "SELECT count(*) FROM cases WHERE state = 'done'")


def _throughput(srv: PgServer, workers: int, n: int) -> tuple[float, float]:
    """(cases/s, signals/s) of n cases on ``workers`` worker processes."""
    dsn = srv.create_database()
    procs = [_spawn(dsn) for _ in range(workers)]
    try:
        with Client(dsn) as client:
            t0 = time.perf_counter()
            ids = [client.start("bench", {}) for _ in range(n)]
            t1 = time.perf_counter()
            for cid in ids:
                client.signal(cid, "go", 1)
            deadline = time.monotonic() + 600
            while _count_done(client) < n:
                check(time.monotonic() < deadline, "the scale-out cases did not finish")
                time.sleep(0.005)
            t2 = time.perf_counter()
    finally:
        for p in procs:
            _stop(p)
    return n / (t2 - t0), n / (t2 - t1)


def _claim_latency(srv: PgServer) -> float:
    dsn = srv.create_database()
    a = _spawn(dsn)
    b: subprocess.Popen[str] | None = None
    try:
        with Client(dsn) as client:
            cid = client.start("bench", {})
            while client.state(cid)[1] is None:
                time.sleep(0.005)
            b = _spawn(dsn)
            _stop(a)
            t0 = time.perf_counter()
            while True:
                if _one(client, "SELECT epoch FROM cases WHERE case_id = %s", cid) >= 2:
                    break
                check(time.perf_counter() - t0 < 30, "no worker claimed the dead worker's case")
                time.sleep(0.002)
            return time.perf_counter() - t0
    finally:
        _stop(a)
        if b is not None:
            _stop(b)


def scaleout_figure(name: str, n: int, repeat: int) -> dict[str, Any]:
    """One of figures 14, 14b, 14c (the three are measured together, once per size)."""
    key = (n, repeat)
    if key not in _done:
        _done.clear()
        _done[key] = bench_scaleout(n, repeat)
    return _done[key][name]


def bench_scaleout(n: int, repeat: int) -> dict[str, dict[str, Any]]:
    """Figures 14, 14b, 14c (one server for the three)."""
    cases: dict[int, float] = {}
    signals: dict[int, float] = {}
    with PgServer() as srv:
        for w in (1, 2, 3):
            for _ in range(min(repeat, 2)):
                c, s = _throughput(srv, w, n)
                cases[w] = max(cases.get(w, 0.0), c)
                signals[w] = max(signals.get(w, 0.0), s)
        latency = min(_claim_latency(srv) for _ in range(max(1, min(repeat, 2))))
    return {
        "scaleout_cases": figure(
            f"{n:,} cases (task, signal, task) started by a wf.Client: 3 workers vs 1",
            cases[3],
            cases[1],
            "cases/s",
            "reported",
            None,
            per_workers={str(k): v for k, v in cases.items()},
        ),
        "scaleout_signals": figure(
            f"{n:,} signals committed by a wf.Client, each taken by its owner: 3 workers vs 1",
            signals[3],
            signals[1],
            "signals/s",
            "reported",
            None,
            per_workers={str(k): v for k, v in signals.items()},
        ),
        "scaleout_claim": figure(
            f"a worker SIGKILLed: seconds until another claims its case (lease {_LEASE:g} s)",
            latency,
            _LEASE,
            "s",
            "reported",
            None,
            differs="the baseline is the lease, not a measurement",
        ),
    }
