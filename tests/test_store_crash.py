"""Durable cases survive SIGKILL: 200 cases on a SQLite file, the process
running them killed at 20 random moments, each time resumed by a new one.

The worker (``tests/crash_worker.py``) runs the order workflow: an effect,
a signal, a short timer, a cancellation region (cancelled for odd cases,
left by a signal for even ones) whose compensation is an effect, an ``mi``,
a deadline beaten by a signal, another effect, and a last signal ``close``.
The test plays the outside world: it sends each process a random batch of
the requests not yet committed, and kills it (seeded RNG) after a random
number of acknowledgements, or before it is even ready.  After each kill
it reads the store file: every acknowledged request must be there, and the
effects' receipts committed so far are noted.  The last process gets the
rest and the ``close`` signals, and every case must end exactly as in an
uninterrupted run on a ``MemoryStore`` in this process.

No assertion is timed: the kill moments only decide where the crashes fall;
the timeouts are fail-safes against a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.abc
import trio.lowlevel
import trio.testing

import wftrio as wf
from tests import crash_worker as cw

N_CASES = 200
KILLS = 20
SEED = 13
FAILSAFE = 60.0  # seconds: a hung worker fails the test instead of stalling it
ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(cw.__file__).resolve()


def all_requests() -> list[dict[str, Any]]:
    out = [req for i in range(N_CASES) for req in cw.requests(i)]
    for n, req in enumerate(out):
        req["id"] = n
    return out


def ident(req: dict[str, Any]) -> tuple[str, str, str]:
    return (req["case"], req["kind"], req["name"])


async def reference_run() -> dict[str, dict[str, Any]]:
    """The same cases and requests, uninterrupted, on a MemoryStore."""
    out: dict[str, dict[str, Any]] = {}
    async with wf.open_substrate(registry=cw.registry()) as sub:
        for i in range(N_CASES):
            await sub.new_case("order", {"i": i}, case_id=f"c{i}")
        async with trio.open_nursery() as nursery:
            for i in range(N_CASES):
                for req in [*cw.requests(i), cw.close(i)]:
                    nursery.start_soon(cw.send, sub, req)
        for i in range(N_CASES):
            out[f"c{i}"] = cw.result_of(f"c{i}", await sub.wait(f"c{i}"))
    return out


class Worker:
    """One worker process, its stdout read by a thread into a queue."""

    def __init__(self, db: Path, keys: Path, phase: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        args = [sys.executable, str(WORKER), str(db), str(keys), phase, str(N_CASES)]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for ln in self.proc.stdout:
            self.lines.put(ln.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str:
        try:
            ln = self.lines.get(timeout=FAILSAFE)
        except queue.Empty:
            self.proc.kill()
            assert self.proc.stderr is not None
            raise AssertionError(f"the worker hung:\n{self.proc.stderr.read()}") from None
        if ln is None:
            assert self.proc.stderr is not None
            raise AssertionError(f"the worker ended early:\n{self.proc.stderr.read()}")
        return ln

    def until(self, prefix: str) -> Iterator[str]:
        while True:
            ln = self.next_line()
            if ln.startswith(prefix):
                yield ln[len(prefix) :]

    def send(self, reqs: list[dict[str, Any]]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(json.dumps(r) + "\n" for r in reqs))
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.close(-signal.SIGKILL)

    def close(self, returncode: int) -> None:
        """Wait for the process to end with ``returncode``; close its pipes."""
        self.proc.wait(timeout=FAILSAFE)
        self.reader.join(timeout=FAILSAFE)
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(BrokenPipeError):  # stdin, with requests unread
                f.close()
        assert self.proc.returncode == returncode, (self.proc.returncode, err)
        assert "Traceback" not in err, err


def stored(db: Path) -> tuple[set[tuple[str, str, str]], set[str]]:
    """Requests committed (case, kind, name), and idempotency keys of committed receipts."""
    con = sqlite3.connect(db)
    try:
        reqs = {(c, k, n) for c, k, n in con.execute("SELECT case_id, kind, name FROM requests")}
        keys = {
            json.loads(b)["data"]["key"]
            for (b,) in con.execute("SELECT body FROM events")
            if json.loads(b)["kind"] == "receipt"
        }
    finally:
        con.close()
    return reqs, keys


@pytest.fixture
def db_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory for the store file, on tmpfs where there is one.

    A process killed by SIGKILL loses nothing the kernel already has (only
    a power cut would lose what was not fsynced), so tmpfs tests the same
    thing while sparing every commit its fsync: the test runs in half the time.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    d = Path(tempfile.mkdtemp(dir=shm, prefix="wftrio-crash-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_200_cases_killed_20_times_end_as_if_never_interrupted(
    tmp_path: Path, db_dir: Path
) -> None:
    rng = random.Random(SEED)
    db, keys = db_dir / "cases.db", tmp_path / "keys.jsonl"
    todo = all_requests()
    rng.shuffle(todo)
    committed_before: dict[str, set[str]] = {}  # phase -> receipt keys committed before it
    receipts: set[str] = set()
    committed: set[tuple[str, str, str]] = set()
    kills_before_ready = 0
    for phase in range(KILLS):
        committed_before[str(phase)] = set(receipts)
        w = Worker(db, keys, str(phase))
        acked: list[dict[str, Any]] = []
        try:
            if phase > 0 and rng.random() < 0.2:
                # a kill while the process resumes (or just after)
                time.sleep(rng.uniform(0.0, 0.3))
                kills_before_ready += 1
            else:
                next(w.until("ready"))
                batch = todo[: rng.randint(10, 60)]
                w.send(batch)
                # a cancel_region is acknowledged once its region is live, which
                # takes the case's pay signal: count only what can be acknowledged
                paid = committed | {ident(r) for r in batch}
                ackable = [
                    r
                    for r in batch
                    if r["kind"] == "signal" or (r["case"], "signal", "pay") in paid
                ]
                want = rng.randint(0, len(ackable))
                acks = w.until("ack ")
                by_id = {r["id"]: r for r in batch}
                for _ in range(want):
                    acked.append(by_id[int(next(acks))])
                time.sleep(rng.uniform(0.0, 0.02))
        finally:
            w.kill()
        reqs, receipts = stored(db)
        assert reqs >= committed  # committed requests are never lost
        committed = reqs
        lost = [r for r in acked if ident(r) not in reqs]
        assert lost == [], f"phase {phase}: acknowledged, not committed: {lost}"
        todo = [r for r in todo if ident(r) not in reqs]
        assert receipts >= committed_before[str(phase)]  # receipts are never lost either
    assert 0 < kills_before_ready < KILLS

    # the last process: the requests left, then close every case
    committed_before["final"] = set(receipts)
    w = Worker(db, keys, "final")
    try:
        next(w.until("ready"))
        w.send(todo + [{**cw.close(i), "id": -1 - i} for i in range(N_CASES)])
        results = {}
        lines = w.until("result ")
        for _ in range(N_CASES):
            r = json.loads(next(lines))
            results[r["case"]] = r
    except BaseException:
        w.kill()
        raise
    w.close(0)

    ref = trio.run(reference_run, clock=trio.testing.MockClock(autojump_threshold=0))
    assert len(ref) == N_CASES
    for cid, want in ref.items():
        assert want["state"] == "done", want
        assert results[cid] == want, cid
    check_store(db, ref)
    check_effects(keys, db, committed_before)


def check_store(db: Path, ref: dict[str, dict[str, Any]]) -> None:
    """The store says the same: every case done, every request consumed exactly once."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT DISTINCT state FROM cases").fetchall() == [("done",)]
        assert con.execute("SELECT count(*) FROM cases").fetchone() == (N_CASES,)
        assert con.execute("SELECT DISTINCT consumed FROM requests").fetchall() == [(1,)]
        for i in range(N_CASES):
            cid = f"c{i}"
            events = [
                json.loads(b)
                for (b,) in con.execute(
                    "SELECT body FROM events WHERE case_id = ? ORDER BY seq", (cid,)
                )
            ]
            done = [e["name"] for e in events if e["kind"] == "task_completed"]
            assert done == ref[cid]["completions"], cid
            consumed = sorted(e["name"] for e in events if e["kind"] == "signal_consumed")
            want = ["close", "confirm", "pay"] + ([] if i % 2 else ["unhold"])
            assert sorted(set(consumed)) == sorted(want), (cid, consumed)
            assert len(consumed) == len(set(consumed)), (cid, consumed)
            cancelled = [e["name"] for e in events if e["kind"] == "region_cancelled"]
            assert cancelled == (["hold"] if i % 2 else []), cid
            reqs = con.execute(
                "SELECT kind, name FROM requests WHERE case_id = ? ORDER BY req", (cid,)
            ).fetchall()
            assert sorted(reqs) == sorted(
                (r["kind"], r["name"]) for r in [*cw.requests(i), cw.close(i)]
            ), cid
    finally:
        con.close()


def check_effects(keys: Path, db: Path, committed_before: dict[str, set[str]]) -> None:
    """An effect runs again only if its receipt was not committed when its process started."""
    _, receipts = stored(db)
    runs = [json.loads(ln) for ln in keys.read_text().splitlines()]
    ran: dict[str, list[str]] = {}
    for phase, _cid, _task, key in runs:
        assert key not in committed_before[phase], (
            f"effect {key} ran in process {phase} after its receipt was committed"
        )
        ran.setdefault(key, []).append(phase)
    # 200 charges and ships, a refund per odd case: each with one key, run at least once
    assert len(ran) == 2 * N_CASES + N_CASES // 2
    assert set(ran) == receipts


def bump(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


async def waits_for(sub: wf.Substrate, cid: str, name: str, poll: float = 0.01) -> None:
    """Return once case ``cid`` waits for signal ``name``, or has finished
    (polled: a wait could return at once while it is between two others)."""
    while True:
        info = sub.status(cid)
        if name in info.waiting_signals or info.finished_at is not None:
            return
        await trio.sleep(poll)


async def test_signal_sent_while_a_resumed_case_replays_is_stored_where_it_is_fed(
    db_dir: Path,
) -> None:
    """Regression (found by the test above): a signal sent while a resumed case
    was still replaying its stored events was fed at once when the replay's
    inputs ran out, at a ``seq`` the store already held, so its
    ``signal_received`` was never stored although its request was marked
    consumed; a later resume then waited for it forever.  It is now held
    until the case has re-emitted every stored event."""
    reg = wf.Registry()
    reg.register(
        "ticks",
        wf.seq(
            wf.loop(wf.seq(wf.wait_signal("tick"), wf.task("t", bump)), times=200),
            wf.task("x", bump),
            wf.wait_signal("go", "go"),
            wf.task("end", bump),
        ),
    )
    db = db_dir / "cases.db"
    cases = ["k0", "k1", "k2"]
    async with wf.open_substrate(path=db, registry=reg) as sub:
        for cid in cases:
            await sub.new_case("ticks", {}, case_id=cid)
            for _ in range(200):
                await sub.signal(cid, "tick")
        for cid in cases:
            await waits_for(sub, cid, "go")
    results = {}
    async with wf.open_substrate(path=db, registry=reg, keep_events=None) as sub:
        # sent at once: the cases are still replaying 200 recorded signals each
        async with trio.open_nursery() as nursery:
            for i, cid in enumerate(cases):
                nursery.start_soon(sub.signal, cid, "go", i)
        for cid in cases:
            results[cid] = await sub.wait(cid)
    con = sqlite3.connect(db)
    try:
        for i, cid in enumerate(cases):
            assert results[cid].ctx == {"n": 202, "go": i}
            events = [
                json.loads(b)
                for (b,) in con.execute(
                    "SELECT body FROM events WHERE case_id = ? ORDER BY seq", (cid,)
                )
            ]
            got = [e["data"]["payload"] for e in events if e["kind"] == "signal_received"]
            assert got[-1] == i, cid  # the go signal is stored, once
            assert len(got) == 201, cid
            # the resumed case's own trace starts at its latest snapshot
            trace = [e.kind for e in results[cid].trace]
            assert [e["kind"] for e in events][-len(trace) :] == trace
    finally:
        con.close()


class TickingClock(trio.abc.Clock):
    """Virtual time that advances 1 ms each time it is read (so that time
    passes between any two reads, even within synchronous code)."""

    def __init__(self) -> None:
        self.t = 0.0

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        self.t += 0.001
        return self.t

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return 0.0 if deadline <= self.t else min(deadline - self.t, 0.001)


@pytest.fixture
def ticking_clock() -> TickingClock:
    return TickingClock()


async def pay(ctx: Any) -> dict[str, Any]:
    await trio.lowlevel.checkpoint()
    return {"paid": 1}


def pay_then_go() -> wf.Registry:
    reg = wf.Registry()
    reg.register("w", wf.seq(wf.task("pay", pay), wf.wait_signal("go", "go"), wf.task("end", bump)))
    return reg


async def test_a_resumed_case_clock_goes_on_from_its_stored_times(
    tmp_path: Path, ticking_clock: TickingClock
) -> None:
    """Regression (found by the crash test): a replayed case's clock started
    at the moment its state was built rather than at the replay's zero, so
    events after a replayed input were stamped up to that gap earlier than
    the input (even at negative times); the next resume then refused the
    stored log and took the whole process down."""
    reg = pay_then_go()
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("w", {}, case_id="c")
        await sub.wait_state("c", "waiting_signal")
    con = sqlite3.connect(db)
    try:
        # the inputs (events carrying ``at_step``) and their recorded times
        stored = {
            ev["seq"]: ev["time"]
            for ev in (json.loads(b) for (b,) in con.execute("SELECT body FROM events"))
            if "at_step" in ev["data"]
        }
        async with wf.open_substrate(path=db, registry=reg) as sub:
            await sub.wait_state("c", "waiting_signal")
            replayed = {ev.seq: ev.time for ev in sub.events("c")}
            # each input is fed at (not before) its recorded case time
            assert all(replayed[seq] >= t for seq, t in stored.items()), (stored, replayed)
            times = list(replayed.values())
            assert times == sorted(times)
            await sub.signal("c", "go", 1)
            await sub.wait("c")
        times = [
            json.loads(b)["time"] for (b,) in con.execute("SELECT body FROM events ORDER BY seq")
        ]
        assert times == sorted(times)
        assert times[0] >= 0
    finally:
        con.close()


async def test_a_stored_log_that_does_not_replay_fails_only_its_case(tmp_path: Path) -> None:
    """Regression: ``ReplayDivergence`` from a stored log escaped resume,
    failed the open, and every case resumed before it was stored cancelled."""
    reg = pay_then_go()
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        for cid in ("a", "b", "c"):
            await sub.new_case("w", {}, case_id=cid)
            await sub.wait_state(cid, "waiting_signal")
    con = sqlite3.connect(db)
    try:
        with con:
            (body,) = con.execute(
                "SELECT body FROM events WHERE case_id = 'b' AND body LIKE '%effect_completed%'"
            ).fetchone()
            ev = json.loads(body)
            bad = json.dumps({**ev, "time": -1.0})
            con.execute("UPDATE events SET body = ? WHERE body = ?", (bad, body))
        async with wf.open_substrate(path=db, registry=reg) as sub:
            assert list(sub.unresumed) == ["b"]
            assert isinstance(sub.unresumed["b"], wf.StoreCorrupt)
            assert sub.case_ids() == ["a", "c"]
            for cid in ("a", "c"):
                await sub.signal(cid, "go", cid)
                assert (await sub.wait(cid)).ctx == {"paid": 1, "go": cid, "n": 1}
        states = dict(con.execute("SELECT case_id, state FROM cases").fetchall())
        assert states == {"a": "done", "b": None, "c": "done"}
    finally:
        con.close()


class BreaksOnSecondCase(wf.Registry):
    """A registry whose ``check`` raises for the second stored case it is asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def check(self, name: str, version: int, fingerprint: str) -> Any:
        self.asked += 1
        if self.asked == 2:
            raise RuntimeError("registry broke")
        return super().check(name, version, fingerprint)


async def test_a_failed_open_leaves_the_cases_it_resumed_unfinished(tmp_path: Path) -> None:
    """Regression: an error while resuming (here: the registry breaks on the
    second case) cancelled the cases already resumed as if from outside
    (``aborted``) and stored them CANCELLED for good."""
    reg = pay_then_go()
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        for cid in ("a", "b"):
            await sub.new_case("w", {}, case_id=cid)
            await sub.wait_state(cid, "waiting_signal")
    broken = BreaksOnSecondCase()
    broken.register("w", reg.get("w").term)
    with pytest.raises(BaseExceptionGroup) as info:
        async with wf.open_substrate(path=db, registry=broken):
            pass  # pragma: no cover
    assert info.group_contains(RuntimeError, match="registry broke")
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT DISTINCT state FROM cases").fetchall() == [(None,)]
        kinds = [json.loads(b)["kind"] for (b,) in con.execute("SELECT body FROM events")]
        assert "case_cancelled" not in kinds
    finally:
        con.close()
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert sub.case_ids() == ["a", "b"]
        for cid in ("a", "b"):
            await sub.signal(cid, "go", cid)
            assert (await sub.wait(cid)).state is wf.CaseState.DONE


async def test_resume_does_not_wait_out_the_gaps_between_stored_inputs(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Regression: resume replayed stored inputs paced at their recorded case
    times, so a case whose payment came three days after it started took
    three days to resume.  (Virtual time: the autojump clock shows the wait.)"""
    reg = wf.Registry()
    reg.register(
        "w", wf.seq(wf.wait_signal("a", "a"), wf.wait_signal("b", "b"), wf.task("t", bump))
    )
    db = tmp_path / "cases.db"
    three_days = 3 * 24 * 3600.0
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("w", {}, case_id="c")
        await trio.sleep(three_days)
        await sub.signal("c", "a", 1)
        await waits_for(sub, "c", "b")
    t0 = trio.current_time()
    async with wf.open_substrate(path=db, registry=reg) as sub:
        with trio.fail_after(3600):  # virtual seconds: a paced replay would need three days
            await waits_for(sub, "c", "b", poll=1.0)
        assert trio.current_time() - t0 < 60.0
        await sub.signal("c", "b", 2)
        result = await sub.wait("c")
    assert result.ctx == {"a": 1, "b": 2, "n": 1}
    received = [e for e in result.trace if e.kind == "signal_received"]
    assert received[0].time >= three_days  # the case clock still reads the recorded time


async def test_a_resumed_case_makes_the_choices_its_stored_log_does_not_hold(
    tmp_path: Path,
) -> None:
    """Regression (found by the resume property): a resumed case on the
    deterministic scheduler failed with ``ReplayDivergence`` at its first
    scheduler choice past the stored log; it now goes on choosing with the
    case's own scheduler."""

    gate = trio.Event()

    async def effect(ctx: Any) -> dict[str, Any]:
        await gate.wait()
        return {"e": ctx.get("e", 0) + 1}

    reg = wf.Registry()
    body = wf.xor(wf.task("fx", effect), wf.task("pure", bump))  # a scheduler choice
    reg.register("w", wf.seq(wf.loop(body, times=2), wf.wait_signal("go", "go")))
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("w", {}, case_id="c")
        await sub.wait_state("c", "waiting_effect")  # one choice stored, the next to come
    gate.set()
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await waits_for(sub, "c", "go")
        assert sub.status("c").error is None, sub.status("c").error
        await sub.signal("c", "go", 1)
        resumed = await sub.wait("c")
    async with wf.open_substrate(registry=reg) as sub:
        await sub.new_case("w", {}, case_id="ref")
        await waits_for(sub, "ref", "go")
        await sub.signal("ref", "go", 1)
        ref = await sub.wait("ref")
    assert resumed.state is wf.CaseState.DONE
    assert resumed.ctx == ref.ctx == {"e": 2, "go": 1}
