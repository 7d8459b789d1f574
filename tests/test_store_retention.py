"""Retention: ``wf.purge_finished`` and ``wftrio purge`` delete finished cases old enough.

Real SQLite files (owned by a running substrate or not), a real PostgreSQL
database, the real CLI.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio

import wftrio as wf
from wftrio.cli import main
from wftrio.errors import OptionError, StoreError

DAY = 86400.0


def bump(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("order", wf.seq(wf.task("a", bump), wf.wait_signal("go", "go")), version=1)
    return reg


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def count(db: Path, table: str, case_id: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(
            conn.execute(f"SELECT count(*) FROM {table} WHERE case_id = ?", (case_id,)).fetchone()[
                0
            ]
        )
    finally:
        conn.close()


async def finish(sub: wf.Substrate, cid: str) -> None:
    await sub.wait_state(cid, "waiting_signal")
    await sub.signal(cid, "go", 1)
    await sub.wait(cid)


async def three_cases(db: Path, clock: Clock) -> None:
    """'old' finished 10 days ago, 'new' an hour ago, 'open' waits (unfinished)."""
    async with wf.open_substrate(store=wf.SQLiteStore(db, clock=clock), registry=registry()) as sub:
        for cid in ("old", "new", "open"):
            await sub.new_case("order", {}, case_id=cid)
        await finish(sub, "old")
        clock.now += 10 * DAY - 3600
        await finish(sub, "new")
        await sub.wait_state("open", "waiting_signal")
    clock.now += 3600


async def test_purge_deletes_only_finished_cases_older_than_the_age(tmp_path: Path) -> None:
    db, clock = tmp_path / "c.db", Clock()
    await three_cases(db, clock)
    events_old = count(db, "events", "old")
    assert events_old > 0
    dry = wf.purge_finished(db, 2 * DAY, dry_run=True, clock=clock)
    assert (dry.cases, dry.events) == (1, events_old)
    assert count(db, "cases", "old") == 1  # a dry run deletes nothing
    done = wf.purge_finished(db, 2 * DAY, clock=clock)
    assert done == wf.Purged(1, events_old, clock.now - 2 * DAY)
    for table in ("cases", "events", "requests", "latest_ctx"):
        assert count(db, table, "old") == 0, table
    assert count(db, "cases", "new") == 1
    assert count(db, "events", "new") > 0
    assert count(db, "cases", "open") == 1
    # age 0: every finished case, never an unfinished one
    assert wf.purge_finished(db, 0, clock=clock).cases == 1
    assert count(db, "cases", "open") == 1
    async with wf.open_substrate(store=wf.SQLiteStore(db, clock=clock), registry=registry()) as sub:
        assert sub.case_ids() == ["open"]  # the unfinished case resumes as before
        await finish(sub, "open")


async def test_purge_works_while_a_substrate_owns_the_store(tmp_path: Path) -> None:
    db, clock = tmp_path / "c.db", Clock()
    await three_cases(db, clock)
    async with wf.open_substrate(store=wf.SQLiteStore(db, clock=clock), registry=registry()) as sub:
        done = await trio.to_thread.run_sync(lambda: wf.purge_finished(db, DAY, clock=clock))
        assert done.cases == 1
        await finish(sub, "open")  # the owner goes on committing
    assert count(db, "cases", "old") == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT state FROM cases WHERE case_id = 'open'").fetchone() == ("done",)
    conn.close()


async def test_a_file_written_before_finish_times_is_refused_then_stamped_at_open(
    tmp_path: Path,
) -> None:
    db, clock = tmp_path / "c.db", Clock()
    await three_cases(db, clock)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DROP INDEX cases_finished")
        conn.execute("ALTER TABLE cases DROP COLUMN finished")  # as an older build wrote it
    conn.close()
    with pytest.raises(StoreError, match="open it once with a substrate of this version"):
        wf.purge_finished(db, 0, clock=clock)
    clock.now += DAY
    async with wf.open_substrate(store=wf.SQLiteStore(db, clock=clock), registry=registry()):
        pass
    # the finished cases count their age from the upgrade (they finished days before)
    assert wf.purge_finished(db, 0, dry_run=True, clock=clock).cases == 2
    assert wf.purge_finished(db, 1, dry_run=True, clock=clock).cases == 0
    clock.now += 2 * DAY
    assert wf.purge_finished(db, DAY, clock=clock).cases == 2


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "1d", True, None])
def test_a_bad_age_is_an_option_error_and_deletes_nothing(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(OptionError, match="older_than"):
        wf.purge_finished(tmp_path / "nothing.db", bad)
    assert not (tmp_path / "nothing.db").exists()


def test_a_missing_file_or_a_file_that_is_not_a_store_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store file"):
        wf.purge_finished(tmp_path / "missing.db", 0)
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    with pytest.raises(StoreError, match="not a wftrio store"):
        wf.purge_finished(other, 0)


async def test_the_purge_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, clock = tmp_path / "c.db", Clock()
    await three_cases(db, clock)  # clock far in the past: every finished case is old now
    assert main(["purge", str(db), "--older-than", "1d", "--dry-run"]) == 0
    assert "would delete 2 finished case(s)" in capsys.readouterr().out
    assert count(db, "cases", "old") == 1
    assert main(["purge", str(db), "--older-than", "30d"]) == 0
    assert "deleted 2 finished case(s)" in capsys.readouterr().out
    assert count(db, "cases", "old") == count(db, "cases", "new") == 0
    assert count(db, "cases", "open") == 1
    assert main(["purge", str(db), "--older-than", "soon"]) == 2
    assert "a number with a unit" in capsys.readouterr().err
    assert main(["purge", str(tmp_path / "missing.db"), "--older-than", "0"]) == 2
    assert "no store file" in capsys.readouterr().err


@pytest.mark.postgres
async def test_purge_on_a_postgres_database(pg_dsn: str) -> None:
    import psycopg

    def left(table: str, case_id: str) -> int:
        with psycopg.connect(pg_dsn) as conn:
            q = f"SELECT count(*) FROM {table} WHERE case_id = %s"
            return int(conn.execute(q, (case_id,)).fetchone()[0])  # type: ignore[index]

    store = wf.PostgresStore(pg_dsn, lease=1.0, poll=0.05)
    async with wf.open_substrate(store=store, registry=registry()) as sub:
        for cid in ("done", "open"):
            await sub.new_case("order", {}, case_id=cid)
        await finish(sub, "done")
        await sub.wait_state("open", "waiting_signal")
    assert wf.purge_finished(pg_dsn, DAY).cases == 0  # it finished just now (database clock)
    dry = wf.purge_finished(pg_dsn, 0, dry_run=True)
    assert (dry.cases, dry.events) == (1, left("events", "done"))
    assert dry.events > 0
    done = wf.purge_finished(pg_dsn, 0)
    assert (done.cases, done.events) == (dry.cases, dry.events)
    for table in ("cases", "events", "requests", "latest_ctx", "ownership"):
        assert left(table, "done") == 0, table
    assert left("cases", "open") == 1
    assert left("events", "open") > 0
    async with wf.open_substrate(
        store=wf.PostgresStore(pg_dsn, lease=1.0, poll=0.05), registry=registry()
    ) as sub:
        with trio.fail_after(10):  # the unfinished case is claimed again and runs on
            while "open" not in sub.case_ids():  # noqa: ASYNC110 (claimed by a poll)
                await trio.sleep(0.05)
        await finish(sub, "open")
