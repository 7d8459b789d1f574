"""A stored case's current ctx as readers outside its owning process see it
(the ``latest_ctx`` table): ``wftrio show``, ``wftrio serve STORE`` and
``wftrio.web.app(path_or_dsn)``; SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

import wftrio as wf
from wftrio.stores._outside import StoredCtx, connect_reader, read_ctx
from wftrio.web import app


def counter() -> wf.Term:
    """Three rounds: take a number, add it up; a ``tick`` that changes nothing between."""
    return wf.loop(
        wf.seq(
            wf.wait_signal("n", store_as="n"),
            wf.task("add", lambda c: {"total": c.get("total", 0) + c["n"]}),
            wf.wait_signal("tick"),
        ),
        times=3,
    )


@pytest.fixture
def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("counter", counter())
    return reg


async def until(read: Callable[[], StoredCtx], ok: Callable[[StoredCtx], bool]) -> StoredCtx:
    """Read until ``ok`` (the owner's writer commits a moment after the case moved)."""
    with trio.fail_after(10):
        while True:
            got = read()
            if ok(got):
                return got
            await trio.sleep(0.01)


def sqlite_reader(db: Path, case_id: str) -> Callable[[], StoredCtx]:
    def read() -> StoredCtx:
        conn = connect_reader(db)
        try:
            return read_ctx(conn, case_id)
        finally:
            conn.close()

    return read


async def drive(sub: wf.Substrate, read: Callable[[], StoredCtx]) -> list[StoredCtx]:
    """Advance case ``c`` round by round; what the outside reader saw after each."""
    seen = [await until(read, lambda s: s.kind == "current" and s.ctx == {"start": 1})]
    total = 0
    for n in (5, 7, 11):
        total += n
        await sub.signal("c", "n", n)
        want = {"start": 1, "n": n, "total": total}
        seen.append(await until(read, lambda s, w=want: s.ctx == w))  # type: ignore[misc]
        if total < 23:
            await sub.signal("c", "tick")
            await sub.wait_state("c", "waiting_signal")
    await sub.signal("c", "tick")
    await sub.wait("c")
    seen.append(await until(read, lambda s: s.kind == "final"))
    return seen


def check_seen(seen: list[StoredCtx]) -> None:
    assert [s.kind for s in seen] == ["current"] * 4 + ["final"]
    assert seen[-1].ctx == {"start": 1, "n": 11, "total": 23}
    seqs = [s.seq if s.seq is not None else -1 for s in seen]
    assert seqs == sorted(set(seqs))
    assert seqs[0] > 0


async def test_an_outside_reader_of_a_sqlite_store_sees_the_case_move_on(
    tmp_path: Path, registry: wf.Registry
) -> None:
    db = tmp_path / "cases.db"
    read = sqlite_reader(db, "c")
    async with wf.open_substrate(path=db, registry=registry) as sub:
        await sub.new_case("counter", {"start": 1}, "c")
        check_seen(await drive(sub, read))


async def test_a_burst_that_changes_no_ctx_stores_none(
    tmp_path: Path, registry: wf.Registry
) -> None:
    db = tmp_path / "cases.db"
    read = sqlite_reader(db, "c")
    async with wf.open_substrate(path=db, registry=registry) as sub:
        await sub.new_case("counter", {}, "c")
        await sub.signal("c", "n", 2)
        before = await until(read, lambda s: s.ctx == {"n": 2, "total": 2})
        await sub.signal("c", "tick")  # consumed, the loop goes round: the ctx is the same
        events = len(sub.events("c"))
        with trio.fail_after(10):
            while _stored_events(db, "c") < events:  # noqa: ASYNC110 (another connection's commit)
                await trio.sleep(0.01)
        assert read() == before


def _stored_events(db: Path, case_id: str) -> int:
    conn = connect_reader(db)
    try:
        return int(
            conn.execute("SELECT count(*) FROM events WHERE case_id = ?", (case_id,)).fetchone()[0]
        )
    finally:
        conn.close()


async def test_a_file_from_before_latest_ctx_reads_initial_then_current_once_reopened(
    tmp_path: Path, registry: wf.Registry
) -> None:
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry) as sub:
        await sub.new_case("counter", {"start": 1}, "c")
        await sub.signal("c", "n", 3)
        await sub.wait_state("c", "waiting_signal")
    conn = sqlite3.connect(db)  # what an earlier wftrio wrote: no latest_ctx table
    conn.execute("DROP TABLE latest_ctx")
    conn.commit()
    conn.close()
    read = sqlite_reader(db, "c")
    assert read() == StoredCtx({"start": 1}, "initial", None)
    async with client(app(db, registry=registry)) as c:
        detail = (await c.get("/api/cases/c")).json()
        assert (detail["ctx"], detail["ctx_is"]) == ({"start": 1}, "initial")
    async with wf.open_substrate(path=db, registry=registry) as sub:  # migrates: adds the table
        await sub.signal("c", "tick")
        await sub.signal("c", "n", 4)
        got = await until(read, lambda s: s.kind == "current" and s.ctx.get("n") == 4)
        assert got.ctx == {"start": 1, "n": 4, "total": 7}


def client(asgi: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://console")


async def test_the_console_and_wftrio_show_on_a_file_show_the_current_ctx(
    tmp_path: Path, registry: wf.Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    from wftrio.cli import main

    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry) as sub:
        await sub.new_case("counter", {"start": 1}, "c")
        await sub.signal("c", "n", 5)
        await until(sqlite_reader(db, "c"), lambda s: "total" in s.ctx)
        async with client(app(db, registry=registry)) as c:
            detail = (await c.get("/api/cases/c")).json()
            assert detail["ctx"] == {"start": 1, "n": 5, "total": 5}
            assert detail["ctx_is"] == "current"
            page = (await c.get("/cases/c")).text
            assert "current" in page
            assert "total" in page
        assert main(["show", str(db), "c"]) == 0
        out = capsys.readouterr().out
        assert "(current, after" in out
        assert '"total": 5' in out


@pytest.mark.postgres
async def test_an_outside_reader_of_a_postgres_database_sees_the_case_move_on(
    pg_dsn: str, registry: wf.Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    from wftrio.cli import main
    from wftrio.stores._pgoutside import pg_connect, pg_read_ctx

    def read() -> StoredCtx:
        conn = pg_connect(pg_dsn)
        try:
            return pg_read_ctx(conn, "c")
        finally:
            conn.close()

    store = wf.PostgresStore(pg_dsn, lease=1.0, poll=0.05)
    async with wf.open_substrate(store=store, registry=registry) as sub:
        await sub.new_case("counter", {"start": 1}, "c")
        seen = await drive(sub, read)
    check_seen(seen)
    async with client(app(pg_dsn, registry=registry)) as c:
        detail = (await c.get("/api/cases/c")).json()
        assert (detail["ctx"], detail["ctx_is"]) == (seen[-1].ctx, "final")
    assert main(["show", pg_dsn, "c"]) == 0
    assert "(final, after" in capsys.readouterr().out
