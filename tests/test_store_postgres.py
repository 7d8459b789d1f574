"""``wf.PostgresStore``: workers over one real PostgreSQL database (a throwaway
server started by the session fixture): resume, leases, takeover, fencing,
requests from other workers and from ``wf.Client`` taken exactly once."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest
import trio

import wftrio as wf
from wftrio.errors import (
    CaseClosed,
    DuplicateCase,
    OptionError,
    SchedulerError,
    StoreError,
    UnknownCase,
    UnknownSignal,
    UnknownWorkflow,
    UnstorableValue,
)

pytestmark = pytest.mark.postgres


def bump(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def take_go(ctx: Any) -> dict[str, Any]:
    return {"got": ctx.get("go")}


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register(
        "order",
        wf.seq(
            wf.task("a", bump),
            wf.wait_signal("go", "go"),
            wf.task("b", take_go),
            wf.task("c", bump),
        ),
        version=1,
    )
    return reg


def store(dsn: str, **kw: Any) -> wf.PostgresStore:
    kw.setdefault("lease", 1.0)
    kw.setdefault("poll", 0.05)
    return wf.PostgresStore(dsn, **kw)


def rows(dsn: str, q: str, *args: Any) -> list[Any]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(q, args).fetchall()


async def eventually(pred: Any, limit: float = 10.0) -> None:
    """Wait (polling) until ``pred()`` holds; fail after ``limit`` seconds."""
    with trio.fail_after(limit):
        while True:
            if pred():
                return
            await trio.sleep(0.01)


async def test_case_survives_worker_close_and_is_resumed_by_the_next(pg_dsn: str) -> None:
    reg = registry()
    async with wf.open_substrate(store=store(pg_dsn), registry=reg) as sub:
        cid = await sub.new_case("order", {"x": 1}, case_id="o1")
        await sub.wait_state(cid, "waiting_signal")
    assert rows(pg_dsn, "SELECT owner, epoch, state FROM cases") == [(None, 1, None)]
    async with wf.open_substrate(store=store(pg_dsn), registry=reg) as sub:
        await eventually(lambda: "o1" in sub.case_ids())
        await sub.wait_state("o1", "waiting_signal")
        await sub.signal("o1", "go", {"paid": 42})
        result = await sub.wait("o1")
    assert result.state is wf.CaseState.DONE
    assert result.ctx == {"x": 1, "n": 2, "go": {"paid": 42}, "got": {"paid": 42}}
    assert rows(pg_dsn, "SELECT state, epoch FROM cases") == [("done", 2)]
    hist = rows(pg_dsn, "SELECT epoch, count(*) FROM ownership GROUP BY epoch ORDER BY 1")
    assert hist == [(1, 1), (2, 1)]
    # the events were written by epoch 1 then epoch 2, never interleaved
    eps = [e for (e,) in rows(pg_dsn, "SELECT epoch FROM events ORDER BY seq")]
    assert eps == sorted(eps)
    assert set(eps) == {1, 2}


async def test_client_starts_signals_and_a_free_worker_runs_it_exactly_once(
    pg_dsn: str,
) -> None:
    reg = registry()
    async with wf.open_substrate(store=store(pg_dsn), registry=reg) as sub:
        await sub.new_case("order", {}, case_id="warm")  # the workflow is recorded
        client = await trio.to_thread.run_sync(wf.Client, pg_dsn)
        try:
            cid = await trio.to_thread.run_sync(lambda: client.start("order", {"x": 2}))
            await eventually(lambda: cid in sub.case_ids())
            await sub.wait_state(cid, "waiting_signal")
            req = await trio.to_thread.run_sync(lambda: client.signal(cid, "go", "yes"))
            assert req == 0
            result = await sub.wait(cid)
            assert result.ctx == {"x": 2, "n": 2, "go": "yes", "got": "yes"}
            assert await trio.to_thread.run_sync(lambda: client.wait(cid)) == "done"
            # bad input: typed errors, nothing written
            with pytest.raises(UnknownCase):
                client.signal("nope", "go")
            with pytest.raises(CaseClosed):
                client.signal(cid, "go")
            with pytest.raises(UnknownSignal):
                client.signal("warm", "stop")
            with pytest.raises(UnstorableValue):
                client.signal("warm", "go", object())
            with pytest.raises(UnknownWorkflow):
                client.start("nothing")
            with pytest.raises(DuplicateCase):
                client.start("order", case_id="warm")
            with pytest.raises(OptionError):
                client.signal("warm", "")
        finally:
            client.close()
        await sub.cancel("warm")
        await sub.wait_state("warm", "cancelled")
    got = rows(pg_dsn, "SELECT req, consumed, remote FROM requests WHERE case_id = %s", cid)
    assert got == [(0, True, True)]


async def test_client_start_stores_the_case_options_the_worker_runs_with(pg_dsn: str) -> None:
    reg = registry()
    async with wf.open_substrate(store=store(pg_dsn), registry=reg) as sub:
        await sub.new_case("order", {}, case_id="warm")  # the workflow is recorded
        with wf.Client(pg_dsn) as client:
            cid = client.start(
                "order", case_id="slow", timeout=0.5, trace_level="min", keep_events=7
            )
            # nobody cancels it: its own timeout= does (reason "timeout")
            assert await trio.to_thread.run_sync(lambda: client.wait(cid, 20)) == "cancelled"
            (opts,) = rows(pg_dsn, "SELECT options FROM cases WHERE case_id = 'slow'")[0]
            assert json.loads(opts)["timeout"] == 0.5
            assert json.loads(opts)["keep_events"] == 7
            assert rows(pg_dsn, "SELECT trace_level FROM cases WHERE case_id = 'slow'") == [
                ("min",)
            ]
            # options a client cannot give, or invalid ones: typed errors, nothing stored
            before = rows(pg_dsn, "SELECT count(*) FROM cases")
            bad: list[dict[str, Any]] = [
                {"effect_handler": {}},
                {"validate": False},
                {"trace_level": "none"},
                {"step_quanta": 0},
                {"colour": "red"},
                {"budget": "lots"},
                {"timeout": -1},
            ]
            for kw in bad:
                with pytest.raises(OptionError):
                    client.start("order", **kw)
            with pytest.raises(SchedulerError):
                client.start("order", scheduler="fastest")
            assert rows(pg_dsn, "SELECT count(*) FROM cases") == before
        await sub.cancel("warm")
        await sub.wait_state("warm", "cancelled")


async def test_timer_deadlines_are_on_the_database_clock_not_the_workers(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a worker whose clock is an hour fast stores deadlines another worker can honour
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600.0)
    reg = wf.Registry()
    reg.register("nap", wf.defer(wf.after(60, wf.task("woke", bump))), version=1)
    st = store(pg_dsn)
    async with wf.open_substrate(store=st, registry=reg) as sub:
        cid = await sub.new_case("nap", {}, case_id="nap")
        await eventually(lambda: rows(pg_dsn, "SELECT count(*) FROM timers")[0][0] == 1)
        assert abs(st.clock() - real()) < 5  # the database's clock (same host here)
        with wf.Client(pg_dsn) as client:
            client.start("nap", case_id="nap2")
        await sub.cancel(cid)
    (deadline, db_now), *_ = rows(
        pg_dsn,
        "SELECT deadline, extract(epoch FROM clock_timestamp()) FROM timers WHERE case_id = 'nap'",
    )
    assert 50 < deadline - float(db_now) <= 60  # not 3,660 s away
    ((created, db_now),) = rows(
        pg_dsn,
        "SELECT created, extract(epoch FROM clock_timestamp()) FROM cases WHERE case_id = 'nap2'",
    )
    assert abs(created - float(db_now)) < 30


async def test_signal_from_another_worker_reaches_the_owner(pg_dsn: str) -> None:
    reg = registry()
    async with (
        wf.open_substrate(store=store(pg_dsn), registry=reg) as a,
        wf.open_substrate(store=store(pg_dsn, max_cases=1), registry=reg) as b,
    ):
        cid = await a.new_case("order", {}, case_id="o")
        await a.wait_state(cid, "waiting_signal")
        await b.signal(cid, "go", 7)  # b does not run it: committed, a is notified
        result = await a.wait(cid)
        assert result.ctx["got"] == 7
        await b.new_case("order", {}, case_id="p")
        await b.wait_state("p", "waiting_signal")
        await a.cancel("p")
        assert await b.wait_state("p", "cancelled") is wf.CaseState.CANCELLED
    assert rows(pg_dsn, "SELECT case_id, state FROM cases ORDER BY 1") == [
        ("o", "done"),
        ("p", "cancelled"),
    ]


async def test_expired_lease_is_taken_over_and_the_stale_owner_is_fenced(pg_dsn: str) -> None:
    reg = registry()
    # a's heartbeat is slow, so it does not renew the lease the test expires
    async with wf.open_substrate(store=store(pg_dsn, lease=30, heartbeat=20), registry=reg) as a:
        sa = a.store
        assert isinstance(sa, wf.PostgresStore)
        cid = await a.new_case("order", {}, case_id="o")
        await a.wait_state(cid, "waiting_signal")
        # a "pauses": its lease expires (simulated on the database's clock)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("UPDATE workers SET expires = now() - interval '1 second'")
        async with wf.open_substrate(store=store(pg_dsn), registry=reg) as b:
            await eventually(lambda: cid in b.case_ids())
            await b.wait_state(cid, "waiting_signal")
            assert rows(pg_dsn, "SELECT epoch FROM cases") == [(2,)]
            rows_before = rows(pg_dsn, "SELECT count(*) FROM events")[0][0]
            # a still thinks it owns the case: its next commit is refused, it drops the case
            await a.signal(cid, "go", "stale")
            await a.wait_state(cid, "done", "cancelled")  # locally; nothing of it is stored
            await eventually(lambda: sa.fenced > 0)
            # the signal a committed is remote for b (the owner now): b takes it, once
            result = await b.wait(cid)
            assert result.ctx["got"] == "stale"
    after = rows(pg_dsn, "SELECT epoch, count(*) FROM events GROUP BY epoch ORDER BY 1")
    assert after[0] == (1, rows_before)  # nothing of a's after the takeover was stored
    assert [e for e, _ in after] == [1, 2]
    assert rows(pg_dsn, "SELECT state FROM cases") == [("done",)]


def test_bad_arguments_are_typed_errors() -> None:
    for kw in (
        {"lease": 0},
        {"lease": 1, "heartbeat": 2},
        {"claim_batch": 0},
        {"max_cases": True},
        {"pool_size": 1.5},
        {"snapshot_every": 0},
        {"poll": -1},
        {"clock": 3},
    ):
        with pytest.raises(OptionError):
            wf.PostgresStore("postgresql://x", **kw)
    with pytest.raises(OptionError):
        wf.PostgresStore("")


async def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        async with wf.open_substrate(store=wf.PostgresStore("postgresql://nobody@127.0.0.1:1/x")):
            pass  # pragma: no cover


async def test_a_burst_the_database_refuses_hands_the_case_back_whole(pg_dsn: str) -> None:
    reg = registry()
    async with wf.open_substrate(store=store(pg_dsn), registry=reg) as sub:
        cid = await sub.new_case("order", {}, case_id="o")
        await sub.wait_state(cid, "waiting_signal")
        await eventually(lambda: rows(pg_dsn, "SELECT count(*) FROM events")[0][0] > 0)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE events ADD CONSTRAINT no CHECK (false) NOT VALID")
        with wf.Client(pg_dsn) as client:
            await trio.to_thread.run_sync(lambda: client.signal(cid, "go", 5))
            # the burst consuming it cannot be committed: the case is released, not
            # left running with a gap in its stored history
            await eventually(lambda: rows(pg_dsn, "SELECT count(*) FROM ownership")[0][0] >= 2)
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                conn.execute("ALTER TABLE events DROP CONSTRAINT no")
            assert await trio.to_thread.run_sync(lambda: client.wait(cid, 20)) == "done"
    seqs = [s for (s,) in rows(pg_dsn, "SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(len(seqs)))
    done = [
        json.loads(b)["name"]
        for (b,) in rows(pg_dsn, "SELECT body FROM events ORDER BY seq")
        if json.loads(b)["kind"] == "task_completed"
    ]
    assert done == ["a", "b", "c"]
    assert rows(pg_dsn, "SELECT consumed FROM requests") == [(True,)]


async def test_a_worker_that_cannot_renew_its_lease_drops_and_hands_back_its_cases(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = registry()
    st = store(pg_dsn, lease=0.5, heartbeat=0.1)
    async with wf.open_substrate(store=st, registry=reg) as sub:
        cid = await sub.new_case("order", {}, case_id="o")
        await sub.wait_state(cid, "waiting_signal")

        def cut_off() -> None:
            raise OSError("no route to the database")

        renew = st._beat_sync
        monkeypatch.setattr(st, "_beat_sync", cut_off)
        assert st.epoch_of(cid) == 1
        await sub.wait_state(cid, "cancelled")  # dropped here: it may be owned elsewhere
        assert st.epoch_of(cid) is None
        monkeypatch.setattr(st, "_beat_sync", renew)
        # handed back, claimed again (here: the only worker), resumed from the store
        await eventually(lambda: rows(pg_dsn, "SELECT epoch FROM cases") == [(2,)])
        await eventually(lambda: cid in sub.case_ids(wf.CaseState.WAITING_SIGNAL))
        assert st.epoch_of(cid) == 2  # the fencing token grew with the claim
        await sub.signal(cid, "go", 1)
        assert (await sub.wait(cid)).ctx["got"] == 1
