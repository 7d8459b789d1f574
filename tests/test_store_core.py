"""The durable core of ``wf.SQLiteStore`` (issue 13): a resumed case gets
back the options it was started with, its timers keep their wall-clock
deadlines across a stop, and it resumes from its latest snapshot.

Real loop, real reducer, a real SQLite file under ``tmp_path``; trio time
is a ``MockClock`` and the store's wall clock an injected one, so nothing
sleeps.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.errors import OptionError, ProgramMismatch, SerializationError


class WallClock:
    """The store's wall clock, moved by hand (seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def bump(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def completions(trace: list[wf.TraceEvent]) -> list[str | None]:
    return [e.name for e in trace if e.kind == "task_completed"]


# -- 1. stored case options ----------------------------------------------------


async def test_budget_is_still_enforced_after_resume(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    ran: list[str] = []

    async def pay(ctx: Any) -> dict[str, Any]:
        ran.append("pay")
        return {"paid": True}

    async def ship(ctx: Any) -> dict[str, Any]:
        ran.append("ship")
        return {"shipped": True}

    reg = wf.Registry()
    reg.register("order", wf.seq(wf.task("pay", pay), wf.wait_signal("go"), wf.task("ship", ship)))
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("order", {}, case_id="o1", budget=wf.Budget(max_effects=1))
        await sub.wait_state("o1", "waiting_signal")
    # the resuming substrate has no budget: the case's own one must come back
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert sub.status("o1").budget.budget == wf.Budget(max_effects=1)
        await sub.signal("o1", "go")
        with pytest.raises(wf.CaseFailed) as failed:
            await sub.wait("o1")
    assert isinstance(failed.value.result.error, wf.BudgetExceeded)
    assert ran == ["pay"]  # ship refused, as in an uninterrupted run


async def test_disallowed_effect_is_still_refused_after_resume(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    ran: list[str] = []

    async def ship(ctx: Any) -> dict[str, Any]:
        ran.append("ship")
        return {"shipped": True}

    reg = wf.Registry()
    reg.register("order", wf.seq(wf.wait_signal("go"), wf.task("ship", ship)))
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("order", {}, case_id="o1", allow={"pay"})
        await sub.wait_state("o1", "waiting_signal")
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.signal("o1", "go")
        with pytest.raises(wf.CaseFailed):
            await sub.wait("o1")
        outcomes = [r.outcome for r in sub.receipts("o1", steps=False)]
    assert outcomes == ["disallowed"]
    assert ran == []


async def test_data_options_come_back_and_the_handler_is_the_substrates(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    calls: list[str] = []

    async def first_handler(effect: Any, ctx: Any) -> Any:
        calls.append("first")
        return {"by": "first"}

    async def second_handler(effect: Any, ctx: Any) -> Any:
        calls.append("second")
        return {"by": "second"}

    reg = wf.Registry()
    reg.register(
        "job",
        wf.seq(
            wf.task("a", bump),
            wf.wait_signal("go"),
            wf.task("send", lambda ctx: wf.Effect("mail")),
            wf.task("b", bump),
        ),
    )
    db = tmp_path / "cases.db"
    async with wf.open_substrate(
        path=db, registry=reg, effect_handler={"mail": first_handler}
    ) as sub:
        await sub.new_case(
            "job", {}, case_id="j1", keep_events=3, step_quanta=7, max_pending_signals=5
        )
        await sub.wait_state("j1", "waiting_signal")
    async with wf.open_substrate(
        path=db, registry=reg, effect_handler={"mail": second_handler}, keep_events=None
    ) as sub:
        case = sub._cases["j1"]
        assert (case.opts.keep_events, case.opts.step_quanta) == (3, 7)
        assert case.opts.max_pending_signals == 5
        await sub.signal("j1", "go")
        result = await sub.wait("j1")
        assert len(sub.events("j1")) == 3  # its keep_events=3, not the substrate's None
    assert result.ctx == {"n": 2, "by": "second"}
    assert calls == ["second"]  # a function is not stored: the resuming substrate's


async def test_seeded_case_resumes_with_its_seed_and_makes_the_same_choices(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    def pick(i: int) -> wf.Term:
        return wf.xor(*(wf.task(f"p{i}{k}", lambda ctx, k=k: {f"c{i}": k}) for k in range(4)))

    term = wf.seq(pick(0), wf.wait_signal("go"), pick(1), pick(2), pick(3))
    reg = wf.Registry()
    reg.register("dice", term)
    db = tmp_path / "cases.db"
    async with wf.open_substrate(registry=reg) as sub:
        await sub.new_case("dice", {}, case_id="ref", scheduler=wf.Seeded(7))
        await sub.signal("ref", "go")
        ref = await sub.wait("ref")
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("dice", {}, case_id="d1", scheduler=wf.Seeded(7))
        await sub.wait_state("d1", "waiting_signal")
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.signal("d1", "go")
        result = await sub.wait("d1")
    assert result.ctx == ref.ctx
    assert completions(result.trace) == completions(ref.trace)
    assert len(set(ref.ctx.values())) > 1  # the seed, not the default, picked


async def test_replay_scheduler_is_refused_on_a_durable_store(tmp_path: Path) -> None:
    reg = wf.Registry()
    reg.register("one", wf.seq(wf.task("a", bump)))
    async with wf.open_substrate(registry=reg) as sub:
        log = (await sub.wait(await sub.new_case("one", {}, case_id="r"))).trace
    async with wf.open_substrate(path=tmp_path / "cases.db", registry=reg) as sub:
        with pytest.raises(OptionError, match="durable store"):
            await sub.new_case("one", {}, scheduler=wf.Replay(wf.replay_log(log)))
        assert sub.case_ids() == []


OLD_SCHEMA = """
CREATE TABLE cases (
    case_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, root TEXT NOT NULL, trace_level TEXT NOT NULL,
    ctx TEXT NOT NULL, state TEXT
);
INSERT INTO cases VALUES ('old', 'order', 1, 'f', 'r', 'full', '{}', NULL);
"""


async def test_a_file_from_before_stored_options_is_refused_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript(OLD_SCHEMA)
    con.close()
    with pytest.raises(wf.StoreError, match="earlier wftrio.*options, created"):
        async with wf.open_substrate(path=db, registry=wf.Registry()):
            pass  # pragma: no cover
    con = sqlite3.connect(db)
    tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"cases"}  # nothing created, nothing migrated
    with pytest.raises(wf.StoreError, match="earlier wftrio"):  # its lock was released
        async with wf.open_substrate(path=db, registry=wf.Registry()):
            pass  # pragma: no cover


async def test_corrupt_options_fail_only_that_case(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    reg = wf.Registry()
    reg.register("w", wf.seq(wf.wait_signal("go"), wf.task("a", bump)))
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        for cid in ("c1", "c2", "c3"):
            await sub.new_case("w", {}, case_id=cid)
            await sub.wait_state(cid, "waiting_signal")
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE cases SET options = '{\"step_quanta\": \"x\"}' WHERE case_id = 'c1'")
        con.execute("UPDATE cases SET options = '{\"step_quanta\": 0}' WHERE case_id = 'c2'")
    con.close()
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert set(sub.unresumed) == {"c1", "c2"}
        assert all(isinstance(e, wf.StoreCorrupt) for e in sub.unresumed.values())
        assert "options" in str(sub.unresumed["c1"])
        await sub.signal("c3", "go")
        assert (await sub.wait("c3")).ctx == {"n": 1}


def test_store_option_errors_name_the_argument(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="clock="):
        wf.SQLiteStore(tmp_path / "x.db", clock=3.0)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="snapshot_every="):
        wf.SQLiteStore(tmp_path / "x.db", snapshot_every=0)
    with pytest.raises(OptionError, match="snapshot_every="):
        wf.SQLiteStore(tmp_path / "x.db", snapshot_every=True)
    with pytest.raises(OptionError, match="clock="):
        wf.MemoryStore(clock="now")  # type: ignore[arg-type]
    assert not (tmp_path / "x.db").exists()


def timeout_registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("slow", wf.seq(wf.task("a", bump), wf.wait_signal("go"), wf.task("b", bump)))
    return reg


@pytest.mark.parametrize("down", [40.0, 150.0])
async def test_timeout_counts_from_creation_on_the_store_clock(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, down: float
) -> None:
    reg = timeout_registry()
    db = tmp_path / "cases.db"
    wall = WallClock()
    async with wf.open_substrate(store=wf.SQLiteStore(db, clock=wall), registry=reg) as sub:
        await sub.new_case("slow", {}, case_id="s1", timeout=100)
        await sub.wait_state("s1", "waiting_signal")
    wall.now += down  # the process was down this long
    async with wf.open_substrate(store=wf.SQLiteStore(db, clock=wall), registry=reg) as sub:
        with pytest.raises(wf.CaseCancelled) as cancelled:
            await sub.wait("s1")
        info = sub.status("s1")
    assert cancelled.value.result.reason == "timeout"
    assert cancelled.value.result.ctx == {"n": 1}
    assert info.finished_at is not None
    assert info.started_at is not None
    # 60 s were left of its 100 s; none when it was down 150 s
    assert info.finished_at - info.started_at == pytest.approx(max(0.0, 100.0 - down))
    con = sqlite3.connect(db)
    assert con.execute("SELECT state FROM cases").fetchall() == [("cancelled",)]


async def test_resume_feeds_committed_inputs_at_once_with_their_recorded_times(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    reg = wf.Registry()
    reg.register("slow", wf.seq(wf.wait_signal("go"), wf.task("a", bump), wf.wait_signal("end")))
    db = tmp_path / "cases.db"
    days = 3 * 24 * 3600.0
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("slow", {}, case_id="s1")
        await trio.sleep(days)  # the signal came three days later
        await sub.signal("s1", "go")
        await sub.wait_state("s1", "waiting_signal")
        consumed = trio.current_time()
        await trio.testing.wait_all_tasks_blocked()
        recorded = sub.events("s1")
    async with wf.open_substrate(path=db, registry=reg) as sub:
        t0 = trio.current_time()
        await trio.testing.wait_all_tasks_blocked()  # the replay is over
        assert sub.status("s1").state is wf.CaseState.WAITING_SIGNAL
        assert trio.current_time() == t0  # not three days later
        assert sub.events("s1") == recorded  # the same events, at their recorded times
        # recorded when it came: after the call, before the case went on (the
        # autojump clock may move on while the writer thread commits the
        # request, by as much as the machine is loaded, so no fixed margin)
        (came,) = [e.time for e in recorded if e.kind == "signal_received"]
        assert days <= came <= consumed


# -- 2. wall-clock timers --------------------------------------------------------


def at(key: str) -> Any:
    return wf.task(key, lambda ctx: {key: trio.current_time()})


def two_timers() -> wf.Registry:
    reg = wf.Registry()
    reg.register(
        "timers",
        wf.seq(
            wf.task("start", bump),
            # the later deadline is armed first (a lower timer id)
            wf.par(wf.defer(wf.after(120, at("b"))), wf.defer(wf.after(60, at("a")))),
        ),
    )
    return reg


@pytest.mark.parametrize("every", [None, 1])
@pytest.mark.parametrize(("down", "a_in", "b_in"), [(200.0, 0.0, 0.0), (100.0, 0.0, 20.0)])
async def test_timers_keep_wall_clock_deadlines_across_a_stop(
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
    down: float,
    a_in: float,
    b_in: float,
    every: int | None,
) -> None:
    reg = two_timers()
    db = tmp_path / "cases.db"
    wall = WallClock()
    store = wf.SQLiteStore(db, clock=wall, snapshot_every=every)
    async with wf.open_substrate(store=store, registry=reg) as sub:
        await sub.new_case("timers", {}, case_id="t1")
        await sub.wait_state("t1", "waiting_signal")
    con = sqlite3.connect(db)
    deadlines = sorted(d for (d,) in con.execute("SELECT deadline FROM timers"))
    assert deadlines == [wall.now + 60, wall.now + 120]
    # with every=1 the case resumes from a snapshot holding both timers
    assert con.execute("SELECT count(*) FROM snapshots").fetchall() == [(int(every == 1),)]
    wall.now += down  # the process was down this long
    store = wf.SQLiteStore(db, clock=wall, snapshot_every=every)
    async with wf.open_substrate(store=store, registry=reg) as sub:
        result = await sub.wait("t1")
        resumed_at = sub.status("t1").started_at
    assert resumed_at is not None
    # an expired timer fires at once, the other after what is left of it
    assert result.ctx["a"] - resumed_at == pytest.approx(a_in)
    assert result.ctx["b"] - resumed_at == pytest.approx(b_in)
    # in the order of their deadlines, as in an uninterrupted run
    assert completions(result.trace)[-2:] == ["a", "b"]
    assert con.execute("SELECT count(*) FROM timers").fetchall() == [(0,)]  # case done


async def test_a_timer_armed_again_after_a_replayed_input_keeps_its_deadline(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    reg = wf.Registry()
    reg.register(
        "remind",
        wf.seq(
            wf.wait_signal("go"),
            wf.defer(wf.after(60, at("fired")), wf.on_signal("no", wf.task("no", bump))),
        ),
    )
    db = tmp_path / "cases.db"
    wall = WallClock()
    async with wf.open_substrate(store=wf.SQLiteStore(db, clock=wall), registry=reg) as sub:
        await sub.new_case("remind", {}, case_id="r1")
        await sub.wait_state("r1", "waiting_signal")
        await sub.signal("r1", "go")  # the timer is armed now, at wall time W
        await sub.wait_state("r1", "waiting_signal")
        assert sub.status("r1").timers == 1
    wall.now += 45
    async with wf.open_substrate(store=wf.SQLiteStore(db, clock=wall), registry=reg) as sub:
        result = await sub.wait("r1")
        resumed_at = sub.status("r1").started_at
    assert resumed_at is not None
    # the replay arms it again after the signal: 15 s were left, not 60
    assert result.ctx["fired"] - resumed_at == pytest.approx(15.0)


# -- 3. snapshots ------------------------------------------------------------------


def add(ctx: Any) -> dict[str, Any]:
    return {"total": ctx.get("total", 0) + ctx["v"], "seen": [*ctx.get("seen", []), ctx["v"]]}


def ticks() -> wf.Registry:
    reg = wf.Registry()
    reg.register(
        "ticks",
        wf.seq(
            wf.loop(wf.seq(wf.wait_signal("tick", "v"), wf.task("add", add)), times=30),
            wf.xor(wf.task("x", bump), wf.task("y", bump)),
        ),
    )
    return reg


def shape(trace: list[wf.TraceEvent]) -> list[tuple[Any, ...]]:
    """A trace without its times (a resumed case's clock does not count the stop),
    nor the random causal root in ``case_started``."""
    return [
        (e.seq, e.kind, e.name, e.token, e.scope, None if e.kind == "case_started" else e.data)
        for e in trace
    ]


async def uninterrupted_ticks(reg: wf.Registry) -> wf.CaseResult:
    async with wf.open_substrate(registry=reg) as sub:
        await sub.new_case("ticks", {}, case_id="k1")
        for v in range(30):
            await sub.signal("k1", "tick", v)
        return await sub.wait("k1")


async def run_ticks_until(db: Path, reg: wf.Registry, n: int, every: int | None) -> None:
    async with wf.open_substrate(
        store=wf.SQLiteStore(db, snapshot_every=every), registry=reg
    ) as sub:
        await sub.new_case("ticks", {}, case_id="k1")
        for v in range(n):
            await sub.signal("k1", "tick", v)
            await sub.wait_state("k1", "waiting_signal")
            await trio.testing.wait_all_tasks_blocked()  # one burst per signal


@pytest.mark.parametrize("drop_before", [False, True])
async def test_resume_restores_the_latest_snapshot_and_replays_only_what_came_after(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, drop_before: bool
) -> None:
    reg = ticks()
    db = tmp_path / "cases.db"
    await run_ticks_until(db, reg, 23, every=5)
    con = sqlite3.connect(db)
    [(snap_seq,)] = con.execute("SELECT seq FROM snapshots WHERE case_id = 'k1'").fetchall()
    [(last,)] = con.execute("SELECT max(seq) FROM events").fetchall()
    assert 0 < snap_seq <= last
    if drop_before:
        # proof that resume does not read them: the events before the snapshot are gone
        with con:
            con.execute("DELETE FROM events WHERE seq < ?", (snap_seq,))
    async with wf.open_substrate(store=wf.SQLiteStore(db, snapshot_every=5), registry=reg) as sub:
        assert sub.unresumed == {}
        await sub.wait_state("k1", "waiting_signal")
        for v in range(23, 30):
            await sub.signal("k1", "tick", v)
        result = await sub.wait("k1")
    ref = await uninterrupted_ticks(reg)
    assert result.ctx == ref.ctx
    assert result.ctx["seen"] == list(range(30))
    # the resumed case's trace starts at its snapshot, and continues exactly as the reference
    assert result.trace[0].seq == snap_seq
    assert shape(result.trace) == shape(ref.trace)[snap_seq:]
    stored = [
        wf.TraceEvent(**json.loads(b))
        for (b,) in con.execute("SELECT body FROM events WHERE case_id = 'k1' ORDER BY seq")
    ]
    assert shape(stored) == shape(ref.trace)[snap_seq if drop_before else 0 :]
    assert con.execute("SELECT count(*) FROM snapshots").fetchall() == [(0,)]  # case done


async def test_snapshots_are_taken_every_n_bursts_in_the_bursts_transaction(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    reg = ticks()
    seqs: list[int] = []
    db = tmp_path / "cases.db"
    store = wf.SQLiteStore(db, snapshot_every=4)
    async with wf.open_substrate(store=store, registry=reg) as sub:
        await sub.new_case("ticks", {}, case_id="k1")
        for v in range(13):
            await sub.signal("k1", "tick", v)
            await sub.wait_state("k1", "waiting_signal")
            await trio.testing.wait_all_tasks_blocked()
            await store.request("k1", "signal", "probe", None, True)  # waits for the writer
            con = sqlite3.connect(db)
            row = con.execute("SELECT seq FROM snapshots").fetchone()
            [(n_events,)] = con.execute("SELECT count(*) FROM events").fetchall()
            con.close()
            if row is not None and (not seqs or seqs[-1] != row[0]):
                seqs.append(row[0])
                assert row[0] == n_events  # the snapshot follows exactly the events committed
    # the first burst is new_case's; then one burst per signal: 4, 8, 12
    assert len(seqs) == 3
    async with wf.open_substrate(store=wf.SQLiteStore(db, snapshot_every=None), registry=reg):
        pass  # resumes from the snapshot already stored, takes no new ones


@pytest.mark.parametrize(
    "corrupt",
    ["not json", "{}", "steps=-1", "fingerprint"],
)
async def test_a_corrupt_snapshot_fails_only_its_case(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, corrupt: str
) -> None:
    reg = ticks()
    db = tmp_path / "cases.db"
    async with wf.open_substrate(store=wf.SQLiteStore(db, snapshot_every=1), registry=reg) as sub:
        for cid in ("k1", "k2"):
            await sub.new_case("ticks", {}, case_id=cid)
            await sub.signal(cid, "tick", 1)
            await sub.wait_state(cid, "waiting_signal")
        await trio.testing.wait_all_tasks_blocked()
    con = sqlite3.connect(db)
    [(body,)] = con.execute("SELECT body FROM snapshots WHERE case_id = 'k1'").fetchall()
    if corrupt == "not json":
        body = body[:-10]
    elif corrupt == "{}":
        body = "{}"
    else:
        doc = json.loads(body)
        if corrupt == "steps=-1":
            doc["steps"] = -1
        else:
            doc["fingerprint"] = "0" * len(doc["fingerprint"])
        body = json.dumps(doc)
    with con:
        con.execute("UPDATE snapshots SET body = ? WHERE case_id = 'k1'", (body,))
    async with wf.open_substrate(store=wf.SQLiteStore(db, snapshot_every=1), registry=reg) as sub:
        assert set(sub.unresumed) == {"k1"}
        err = sub.unresumed["k1"]
        assert isinstance(err, wf.StoreCorrupt)
        assert "snapshot" in str(err)
        assert isinstance(err.__cause__, SerializationError | ProgramMismatch)
        assert sub.case_ids() == ["k2"]
        for v in range(2, 31):
            await sub.signal("k2", "tick", v)
        assert (await sub.wait("k2")).state is wf.CaseState.DONE
    assert con.execute("SELECT state FROM cases ORDER BY case_id").fetchall() == [
        (None,),  # k1 stays unfinished: a later open with a good snapshot could resume it
        ("done",),
    ]


async def test_an_effect_in_flight_at_the_snapshot_is_reissued_with_its_key(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    keys: list[str] = []
    release = trio.Event()

    async def ship(ctx: Any) -> dict[str, Any]:
        keys.append(wf.current_effect().key)
        await release.wait()
        return {"shipped": ctx["n"]}

    reg = wf.Registry()
    reg.register("fx", wf.seq(wf.task("a", bump), wf.task("ship", ship), wf.task("b", bump)))
    db = tmp_path / "cases.db"
    async with wf.open_substrate(store=wf.SQLiteStore(db, snapshot_every=1), registry=reg) as sub:
        await sub.new_case("fx", {}, case_id="f1")
        await sub.wait_state("f1", "waiting_effect")
        await trio.testing.wait_all_tasks_blocked()
    con = sqlite3.connect(db)
    [(snap_seq,)] = con.execute("SELECT seq FROM snapshots").fetchall()
    with con:
        con.execute("DELETE FROM events WHERE seq < ?", (snap_seq,))
    release.set()
    async with wf.open_substrate(store=wf.SQLiteStore(db, snapshot_every=1), registry=reg) as sub:
        result = await sub.wait("f1")
    assert result.ctx == {"n": 2, "shipped": 1}
    assert len(keys) == 2
    assert keys[0] == keys[1]  # the same idempotency key


async def test_a_snapshot_drops_the_deadlines_of_timers_no_longer_armed(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    # a clock that never jumps: no timer fires while the writer thread works
    reg = wf.Registry()
    reg.register(
        "nag",
        wf.loop(
            wf.defer(
                wf.after(10, wf.task("nagged", bump)), wf.on_signal("tick", wf.task("t", bump))
            ),
            times=6,
        ),
    )
    db = tmp_path / "cases.db"
    store = wf.SQLiteStore(db, snapshot_every=1)
    async with wf.open_substrate(store=store, registry=reg) as sub:
        await sub.new_case("nag", {}, case_id="n1")
        for _ in range(4):  # each tick withdraws a timer, the next iteration arms one
            await sub.wait_state("n1", "waiting_signal")
            await sub.signal("n1", "tick")
        await sub.wait_state("n1", "waiting_signal")
        await trio.testing.wait_all_tasks_blocked()
        await store.request("n1", "signal", "probe", None, True)  # the writer caught up
        con = sqlite3.connect(db)
        rows = con.execute("SELECT tid FROM timers").fetchall()
        con.close()
        assert len(rows) == 1  # only the timer armed now, not the four withdrawn ones
        assert sub.status("n1").timers == 1


async def test_an_expired_timer_fires_after_a_long_catch_up_and_is_stored_once(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # raised in review: a resumed case that needs many bursts to catch up
    # (step_quanta=5, 60 stored signals) must not feed its expired timer
    # before it has caught up, and the firing must be stored
    reg = wf.Registry()
    reg.register(
        "late",
        wf.seq(
            wf.loop(wf.seq(wf.wait_signal("tick"), wf.task("t", bump)), times=60),
            wf.defer(wf.after(30, at("fired")), wf.on_signal("no", wf.task("no", bump))),
            wf.wait_signal("end"),
        ),
    )
    db = tmp_path / "cases.db"
    wall = WallClock()
    store = wf.SQLiteStore(db, clock=wall, snapshot_every=None)
    async with wf.open_substrate(store=store, registry=reg, step_quanta=5) as sub:
        await sub.new_case("late", {}, case_id="c", step_quanta=5)
        for _ in range(60):
            await sub.signal("c", "tick")
        await sub.wait_state("c", "waiting_signal")
        await trio.testing.wait_all_tasks_blocked()
    wall.now += 100  # down longer than the timer
    store = wf.SQLiteStore(db, clock=wall, snapshot_every=None)
    async with wf.open_substrate(store=store, registry=reg, step_quanta=5) as sub:
        await sub.wait_state("c", "waiting_signal")
        await trio.testing.wait_all_tasks_blocked()
        await sub.signal("c", "end")
        result = await sub.wait("c")
    assert result.ctx["n"] == 60
    assert "fired" in result.ctx
    con = sqlite3.connect(db)
    kinds = [json.loads(b)["kind"] for (b,) in con.execute("SELECT body FROM events ORDER BY seq")]
    con.close()
    assert kinds.count("timer_fired") == 1
    assert "no" not in kinds  # a kind, never a task name: the defer chose the timer
