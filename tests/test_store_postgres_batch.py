"""Group commit in ``PostgresStore``: a batch of bursts in one transaction, a fenced
burst left out, any other error falling back to one transaction per burst.

A real PostgreSQL server (the session fixture), real cases; the batches of
the last two tests are built by hand so that they hold exactly the bursts
named (the writer batches whatever is queued when it wakes).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import trio

import wftrio as wf
from wftrio.errors import CaseFenced
from wftrio.stores._pgbatch import Pending

pytestmark = pytest.mark.postgres


def bump(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("order", wf.seq(wf.task("a", bump), wf.wait_signal("go", "go")), version=1)
    return reg


def rows(dsn: str, q: str, *args: Any) -> list[Any]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(q, args).fetchall()


def store(dsn: str) -> wf.PostgresStore:
    return wf.PostgresStore(dsn, lease=5.0, poll=0.05)


async def test_cases_run_together_commit_in_shared_transactions(pg_dsn: str) -> None:
    st = store(pg_dsn)
    async with wf.open_substrate(store=st, registry=registry()) as sub:
        ids = [f"c{i}" for i in range(20)]
        for cid in ids:
            await sub.new_case("order", {}, case_id=cid)
        for cid in ids:
            await sub.wait_state(cid, "waiting_signal")
        async with trio.open_nursery() as n:
            for cid in ids:
                n.start_soon(sub.signal, cid, "go", 1)
        for cid in ids:
            assert (await sub.wait(cid)).state is wf.CaseState.DONE
    assert st.group_commits >= 1
    assert st.commits > st.group_commits  # some transactions held several bursts
    assert rows(pg_dsn, "SELECT count(*) FROM cases WHERE state = 'done'") == [(20,)]
    per_case = rows(pg_dsn, "SELECT case_id, count(*), max(seq) FROM events GROUP BY 1")
    assert len(per_case) == 20
    assert all(count == top + 1 for _, count, top in per_case)  # every event, no gap


def event_op(st: wf.PostgresStore, case_id: str, epoch: int) -> Any:
    def op(conn: Any) -> None:
        st._check(conn, (case_id, epoch))
        conn.execute(
            "INSERT INTO events (case_id, seq, body, epoch) VALUES (%s, 1000, '{}', %s)",
            (case_id, epoch),
        )

    return op


async def two_waiting(sub: wf.Substrate) -> None:
    for cid in ("a", "b"):
        await sub.new_case("order", {}, case_id=cid)
        await sub.wait_state(cid, "waiting_signal")


def marked(dsn: str) -> list[str]:
    return [c for (c,) in rows(dsn, "SELECT case_id FROM events WHERE seq = 1000 ORDER BY 1")]


async def test_a_fenced_burst_is_left_out_and_the_others_commit_together(pg_dsn: str) -> None:
    st = store(pg_dsn)
    async with wf.open_substrate(store=st, registry=registry()) as sub:
        await two_waiting(sub)
        # another worker took case a (as a claim after an expired lease does)
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("UPDATE cases SET owner = 'thief', epoch = epoch + 1 WHERE case_id = 'a'")
        before = st.group_commits
        batch = [Pending(event_op(st, "a", 1), ("a", 1), False)]
        batch.append(Pending(event_op(st, "b", 1), ("b", 1), False))
        batch.append(Pending(event_op(st, "a", 1), ("a", 1), False))  # a's next: skipped
        n, fenced, failed = await trio.to_thread.run_sync(st._run, batch)
        assert (n, fenced, failed) == (1, [("a", 1)], [])
        assert isinstance(batch[0].error, CaseFenced)
        assert isinstance(batch[2].error, CaseFenced)
        assert batch[1].error is None
        assert st.group_commits == before + 1
        assert marked(pg_dsn) == ["b"]


async def test_an_error_rolls_the_batch_back_and_each_burst_commits_alone(pg_dsn: str) -> None:
    st = store(pg_dsn)

    def broken(conn: Any) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    async with wf.open_substrate(store=st, registry=registry()) as sub:
        await two_waiting(sub)
        before = st.group_commits
        batch = [
            Pending(event_op(st, "a", 1), ("a", 1), False),
            Pending(broken, None, True),
            Pending(event_op(st, "b", 1), ("b", 1), False),
        ]
        n, fenced, failed = await trio.to_thread.run_sync(st._run, batch)
        assert (n, fenced, failed) == (2, [], [])
        assert isinstance(batch[1].error, psycopg.errors.UndefinedTable)
        assert batch[0].error is None
        assert batch[2].error is None
        assert st.group_commits == before  # not together: one by one
        assert marked(pg_dsn) == ["a", "b"]


async def test_a_worker_opening_a_current_database_takes_no_table_lock(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a live database: another worker's transaction is writing cases; a new
    # worker's DDL (CREATE INDEX IF NOT EXISTS locks the table) would wait for
    # it, or deadlock with it (seen in the chaos test before)
    async with wf.open_substrate(store=store(pg_dsn), registry=registry()):
        pass  # creates the tables
    assert rows(pg_dsn, "SELECT version FROM wftrio_schema") == [(2,)]
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=2s")  # a lock wait fails the open
    with psycopg.connect(pg_dsn) as writer:
        writer.execute("LOCK TABLE cases IN ROW EXCLUSIVE MODE")  # held until the block ends
        with trio.fail_after(10):
            async with wf.open_substrate(store=store(pg_dsn), registry=registry()) as sub:
                assert sub.case_ids() == []
        writer.rollback()


async def test_a_database_of_the_first_schema_is_upgraded_at_open(pg_dsn: str) -> None:
    async with wf.open_substrate(store=store(pg_dsn), registry=registry()) as sub:
        await sub.new_case("order", {}, case_id="old")
        await sub.wait_state("old", "waiting_signal")
        await sub.signal("old", "go", 1)
        await sub.wait("old")
    with psycopg.connect(pg_dsn) as conn:  # as the first release wrote it
        conn.execute("DROP TABLE wftrio_schema")
        conn.execute("DROP INDEX cases_finished")
        conn.execute("ALTER TABLE cases DROP COLUMN finished")
    async with wf.open_substrate(store=store(pg_dsn), registry=registry()):
        pass
    assert rows(pg_dsn, "SELECT version FROM wftrio_schema") == [(2,)]
    (finished,) = rows(pg_dsn, "SELECT finished FROM cases WHERE case_id = 'old'")[0]
    assert finished is not None  # stamped at the upgrade (retention counts from then)
