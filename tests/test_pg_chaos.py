"""Chaos over PostgreSQL: three worker processes (``tests/pg_worker.py``) run
2,000 cases with signals and timers while one of them is SIGKILLed every
~1.5 s and restarted.  From the store's history: every case completes
exactly once with the right ctx, no acknowledged signal is lost or taken
twice, no effect whose receipt was committed runs again, and no case is
run by two workers at once (its events' epochs never go back)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

import wftrio as wf

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

N_CASES = 2000
N_WORKERS = 3
KILL_EVERY = 1.5
WORKER = str(Path(__file__).with_name("pg_worker.py"))
ROOT = str(Path(__file__).parent.parent)


def spawn(dsn: str, effects: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": ROOT}
    err = effects.with_name(f"worker-{time.monotonic_ns()}.err")
    with err.open("w") as errors:
        p = subprocess.Popen(
            [sys.executable, WORKER, dsn, str(effects)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )
    assert p.stdout is not None
    line = p.stdout.readline().strip()
    assert line == "ready", f"a worker did not start: {err.read_text()[-3000:]}"
    return p


def stop(p: subprocess.Popen[str]) -> None:
    p.kill()  # SIGKILL: no cleanup, its lease just expires
    p.wait()
    assert p.stdout is not None
    p.stdout.close()


def feed(dsn: str, acked: dict[str, int], errors: list[BaseException]) -> None:
    """Start every case, then pay each (acknowledged once ``signal`` returned)."""
    try:
        with wf.Client(dsn) as client:
            for i in range(N_CASES):
                client.start("chaos", {"i": i}, case_id=f"c{i}")
            for i in range(N_CASES):
                acked[f"c{i}"] = client.signal(f"c{i}", "pay", i % 7)
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def test_2000_cases_over_three_workers_one_killed_every_1_5s(pg_dsn: str, tmp_path: Path) -> None:
    effects = tmp_path / "effects.jsonl"
    workers = [spawn(pg_dsn, effects) for _ in range(N_WORKERS)]
    acked: dict[str, int] = {}
    errors: list[BaseException] = []
    feeder = threading.Thread(target=feed, args=(pg_dsn, acked, errors))
    rng = random.Random(15)
    kills = 0
    t0 = time.monotonic()
    try:
        feeder.start()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            next_kill = time.monotonic() + KILL_EVERY
            while True:
                (done,) = conn.execute("SELECT count(*) FROM cases WHERE state = 'done'").fetchone()
                if done == N_CASES and not feeder.is_alive():
                    break
                assert time.monotonic() - t0 < 120, f"only {done} cases done"
                if time.monotonic() >= next_kill:
                    k = rng.randrange(N_WORKERS)
                    stop(workers[k])
                    workers[k] = spawn(pg_dsn, effects)
                    kills += 1
                    next_kill = time.monotonic() + KILL_EVERY
                time.sleep(0.05)
        feeder.join()
    finally:
        for w in workers:
            stop(w)
    assert errors == []
    assert kills >= 2
    check_store(pg_dsn, acked)
    check_effects(pg_dsn, effects)


def check_store(dsn: str, acked: dict[str, int]) -> None:
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT DISTINCT state FROM cases").fetchall() == [("done",)]
        assert conn.execute("SELECT count(*) FROM cases").fetchone() == (N_CASES,)
        reqs = {
            c: (q, consumed)
            for c, q, consumed in conn.execute("SELECT case_id, req, consumed FROM requests")
        }
        assert reqs == {c: (q, True) for c, q in acked.items()}
        by_case: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for cid, _seq, body, epoch in conn.execute(
            "SELECT case_id, seq, body, epoch FROM events ORDER BY case_id, seq"
        ):
            by_case.setdefault(cid, []).append((epoch, json.loads(body)))
        owners = {
            (c, e): o for c, e, o in conn.execute("SELECT case_id, epoch, owner FROM ownership")
        }
    assert len(by_case) == N_CASES
    resumed = {c for c, e in owners if e > 1}
    assert len(resumed) > 10, "the kills should have moved cases between workers"
    for i in range(N_CASES):
        cid = f"c{i}"
        evs = by_case[cid]
        epochs = [e for e, _ in evs]
        assert epochs == sorted(epochs), f"{cid}: two owners interleaved: {epochs}"
        assert all((cid, e) in owners for e in set(epochs))
        done = [(ev["name"], ev["data"]) for _, ev in evs if ev["kind"] == "task_completed"]
        pay = i % 7
        assert done == [
            ("charge", {"charged": i * 10}),
            ("timed", {"timed": True}),
            ("ship", {"shipped": i * 10 + pay}),
            ("book", {"booked": i * 10 + pay + 1}),
        ], cid
        consumed = [ev["data"]["payload"] for _, ev in evs if ev["kind"] == "signal_consumed"]
        assert consumed == [pay], cid
        assert [ev["kind"] for _, ev in evs].count("case_completed") == 1, cid


def check_effects(dsn: str, effects: Path) -> None:
    """An effect runs again only in a later epoch than every run before, and never
    once its receipt was committed (by an earlier epoch)."""
    receipts: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        for body, epoch in conn.execute("SELECT body, epoch FROM events"):
            ev = json.loads(body)
            if ev["kind"] == "receipt":
                key = ev["data"]["key"]
                assert key not in receipts, f"receipt {key} stored twice"
                receipts[key] = epoch
    runs: dict[str, list[int]] = {}
    for ln in effects.read_text().splitlines():
        _worker, _cid, _name, key, epoch = json.loads(ln)
        # None: the worker had dropped the case already (its commits were refused)
        runs.setdefault(key, [])
        if epoch is not None:
            runs[key].append(epoch)
    assert set(runs) == set(receipts)
    assert len(receipts) == 2 * N_CASES
    for key, epochs in runs.items():
        assert epochs, f"effect {key} never ran for an owner"
        assert len(epochs) == len(set(epochs)), f"effect {key} ran twice in one epoch"
        assert all(e <= receipts[key] for e in epochs), (
            f"effect {key} ran at epochs {epochs} after its receipt was committed "
            f"at epoch {receipts[key]}"
        )
