"""The command line on a store file (``wftrio cases|show|signal|cancel STORE``),
with and without a process owning the store: real SQLite files, a real
substrate (in this process, or in a subprocess), the real CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

import wftrio as wf
from wftrio.cli import main
from wftrio.stores._outside import is_owned

ROOT = Path(__file__).resolve().parents[1]


def bump(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register(
        "order",
        wf.seq(
            wf.task("a", bump),
            wf.par(
                wf.region("r", wf.wait_signal("never"), compensate=wf.task("undo", bump)),
                wf.wait_signal("go", "go"),
            ),
            wf.task("b", bump),
        ),
        version=1,
    )
    reg.register("loop", wf.loop(wf.wait_signal("tick"), times=3), version=2)
    return reg


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich tables on one line each


async def cli(*argv: str) -> int:
    """Run the CLI in a worker thread (it blocks while the owner runs here)."""
    return await trio.to_thread.run_sync(main, list(argv))


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        with con:
            return con.execute(sql).fetchall()
    finally:
        con.close()


async def make_store(db: Path) -> None:
    """o-full and o-min wait for 'go' (traced full / min); o-done is done."""
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        await sub.new_case("order", {}, case_id="o-full", trace_level="full")
        await sub.new_case("order", {}, case_id="o-min", trace_level="min")
        await sub.new_case("order", {}, case_id="o-done")
        for cid in ("o-full", "o-min", "o-done"):
            await sub.wait_state(cid, "waiting_signal")
        await sub.cancel_region("o-done", "r")
        await sub.signal("o-done", "go", 1)
        await sub.wait("o-done")


def table_line(out: str, case_id: str) -> str:
    [line] = [ln for ln in out.splitlines() if f"│ {case_id} " in ln]
    return " ".join(line.replace("│", " ").split())


async def test_cases_lists_each_case_with_state_age_and_waits_while_owned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    assert await cli("cases", str(db)) == 0
    out = capsys.readouterr().out
    assert "3 cases, not owned by any process" in out
    assert table_line(out, "o-full") == (
        "o-full order@1 waiting_signal 0s signal never (region r); signal go"
    )
    # at level "min" signal waits are not recorded: the workflow's names are shown
    assert table_line(out, "o-min") == "o-min order@1 waiting_signal 0s a signal: go | never"
    assert table_line(out, "o-done") == "o-done order@1 done 0s -"
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        await sub.wait_state("o-full", "waiting_signal")
        assert await cli("cases", str(db), "--unfinished") == 0
        out = capsys.readouterr().out
        assert "2 cases, owned by a running process" in out
        assert "o-done" not in out
        # the command took no lock: the owner still owns the store
        with pytest.raises(wf.StoreLocked):
            async with wf.open_substrate(store=wf.SQLiteStore(db)):
                pass  # pragma: no cover
        await sub.signal("o-full", "go", 3)
        await sub.cancel_region("o-full", "r")
        await sub.wait("o-full")
    assert await cli("cases", str(db)) == 0
    assert table_line(capsys.readouterr().out, "o-full") == "o-full order@1 done 0s -"


async def test_cases_shows_an_effect_in_flight_and_a_timer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = trio.Event()

    async def charge(ctx: Any) -> dict[str, Any]:
        started.set()
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover

    reg = wf.Registry()
    reg.register(
        "fx",
        wf.par(
            wf.task("charge", charge),
            wf.defer(wf.on_signal("ok", wf.task("x", bump)), wf.after(60, wf.task("y", bump))),
        ),
    )
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("fx", {}, case_id="f1", trace_level="full")
        await started.wait()
        await sub.wait_state("f1", "waiting_effect")
    assert await cli("cases", str(db)) == 0
    line = table_line(capsys.readouterr().out, "f1")
    assert line == "f1 fx@1 waiting_effect 0s timer 60.0s; effect charge"


async def test_show_prints_the_stored_trace_receipts_and_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    assert await cli("show", str(db), "o-done") == 0
    out = capsys.readouterr().out
    con = sqlite3.connect(db)
    bodies = [
        json.loads(b)
        for (b,) in con.execute("SELECT body FROM events WHERE case_id = 'o-done' ORDER BY seq")
    ]
    con.close()
    event_lines = [ln for ln in out.splitlines() if ln[:5].strip().isdigit()]
    assert [ln.split()[2] for ln in event_lines[: len(bodies)]] == [b["kind"] for b in bodies]
    assert "│ workflow    │ order@1" in out
    assert "│ state       │ done" in out
    assert "receipts (3)" in out  # pure steps' receipts, at level full
    assert [ln.split("│")[1].strip() for ln in out.splitlines() if "│ step │ ok" in ln] == [
        "a",
        "undo",
        "b",
    ]
    assert "requests (2)" in out
    assert "cancel_region r  (consumed)" in out
    assert "signal go 1  (consumed)" in out


async def test_show_of_an_unknown_case_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    assert await cli("show", str(db), "nope") == 2
    err = capsys.readouterr().err
    assert err == "wftrio: the store holds no case 'nope'\n"
    assert await cli("show", str(tmp_path / "missing.db"), "x") == 2
    assert "no such store file" in capsys.readouterr().err
    (tmp_path / "other.db").write_text("not a database at all, just text" * 10)
    assert await cli("cases", str(tmp_path / "other.db")) == 2
    assert "is not a wftrio store" in capsys.readouterr().err


async def test_signal_reaches_the_owning_substrate_exactly_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        await sub.new_case("loop", {}, case_id="l1")
        await sub.wait_state("l1", "waiting_signal")
        for i in range(3):
            assert await cli("signal", str(db), "l1", "tick", json.dumps({"i": i})) == 0
        result = await sub.wait("l1")
    out = capsys.readouterr().out
    assert out.count("signal 'tick' taken by the owning process for case 'l1'") == 3
    got = [e.data["payload"] for e in result.trace if e.kind == "signal_received"]
    assert got == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert rows(db, "SELECT req, consumed FROM requests") == [(0, 1), (1, 1), (2, 1)]
    assert rows(db, "SELECT count(*) FROM inbox") == [(0,)]


async def test_cancel_and_cancel_region_reach_the_owning_substrate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        for cid in ("c1", "c2"):
            await sub.new_case("order", {}, case_id=cid)
            await sub.wait_state(cid, "waiting_signal")
        assert await cli("cancel", str(db), "c1", "--region", "r") == 0
        assert await cli("signal", str(db), "c1", "go") == 0
        assert await cli("cancel", str(db), "c2") == 0
        result = await sub.wait("c1")
        with pytest.raises(wf.CaseCancelled):
            await sub.wait("c2")
    assert result.ctx == {"n": 3, "go": None}  # a, undo (the compensation), b
    out = capsys.readouterr().out
    assert "cancel of region 'r' taken by the owning process for case 'c1'" in out
    assert rows(db, "SELECT case_id, state FROM cases ORDER BY case_id") == [
        ("c1", "done"),
        ("c2", "cancelled"),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["signal", "o-full", "go", "{bad"], "the payload of signal 'go' is not valid JSON"),
        (["signal", "nope", "go"], "the store holds no case 'nope'"),
        (["signal", "o-done", "go"], "case 'o-done' has finished (done)"),
        (["cancel", "o-done"], "case 'o-done' has finished (done)"),
        (["signal", "o-full", "gone"], "case 'o-full' never waits for signal 'gone'"),
        (["cancel", "o-full", "--region", "q"], "case 'o-full' has no region 'q'"),
        (["signal", "o-full", "go", "--wait", "-1"], "expected 0 to 3600 seconds"),
    ],
)
@pytest.mark.parametrize("owned", [False, True])
async def test_a_bad_request_is_one_line_status_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str, owned: bool
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    before = rows(db, "SELECT * FROM requests ORDER BY case_id, req")
    cmd, *rest = argv
    async with trio.open_nursery() as nursery:
        if owned:
            owner = await nursery.start(_own, db)
        assert await cli(cmd, str(db), *rest) == 2
        if owned:
            owner.cancel()
    err = capsys.readouterr().err
    assert err.startswith("wftrio: ")
    assert message in err
    assert err.count("\n") == 1
    assert rows(db, "SELECT * FROM requests ORDER BY case_id, req") == before
    assert rows(db, "SELECT count(*) FROM inbox") == [(0,)]


async def _own(db: Path, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Own the store until cancelled (the scope is handed to the caller)."""
    with trio.CancelScope() as scope:
        async with wf.open_substrate(path=db, registry=registry()) as sub:
            await sub.wait_state("o-full", "waiting_signal")
            task_status.started(scope)
            await trio.sleep_forever()


async def test_a_request_the_owner_refuses_is_reported_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    rows(db, "DELETE FROM workflows")
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        await sub.wait_state("o-full", "waiting_signal")
        # the owner records its workflows when it starts polling (another process
        # can only poll the file to see it)
        while rows(db, "SELECT count(*) FROM workflows") == [(0,)]:  # noqa: ASYNC110
            await trio.sleep(0.01)
        # the store no longer knows the signal names: only the owner can tell
        rows(db, "DELETE FROM workflows")
        assert await cli("signal", str(db), "o-full", "gone") == 2
        assert sub.status("o-full").pending_signals == {}
    err = capsys.readouterr().err
    assert err.startswith("wftrio: the owning process refused the signal 'gone': signal(): ")
    assert "never waits for that signal" in err
    assert rows(db, "SELECT count(*) FROM inbox") == [(0,)]
    assert rows(db, "SELECT count(*) FROM requests WHERE case_id = 'o-full'") == [(0,)]


async def test_a_request_for_a_case_the_owner_could_not_resume_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    changed = wf.Registry()
    changed.register("order", wf.seq(wf.wait_signal("go"), wf.wait_signal("never")))
    async with wf.open_substrate(path=db, registry=changed) as sub:
        assert set(sub.unresumed) == {"o-full", "o-min"}
        assert await cli("signal", str(db), "o-min", "go") == 2
    err = capsys.readouterr().err
    assert err.startswith("wftrio: the owning process refused the signal 'go': case not resumed:")
    assert "WorkflowVersionMismatch" in err or "fingerprint" in err
    assert rows(db, "SELECT count(*) FROM inbox") == [(0,)]
    assert rows(db, "SELECT count(*) FROM requests WHERE case_id = 'o-min'") == [(0,)]


async def test_with_no_owner_the_request_is_stored_and_delivered_at_the_next_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    assert not is_owned(db)
    assert await cli("signal", str(db), "o-min", "go", '{"paid": 5}') == 0
    assert await cli("cancel", str(db), "o-min", "--region", "r") == 0
    assert await cli("cancel", str(db), "o-full") == 0
    out = capsys.readouterr().out
    assert "signal 'go' stored for case 'o-min'; no process owns the store" in out
    assert rows(db, "SELECT case_id, kind FROM inbox ORDER BY id") == [
        ("o-min", "signal"),
        ("o-min", "cancel_region"),
        ("o-full", "cancel"),
    ]
    assert await cli("cases", str(db)) == 0
    assert "(2 requests not yet taken)" in table_line(capsys.readouterr().out, "o-min")
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        assert is_owned(db)
        result = await sub.wait("o-min")
        with pytest.raises(wf.CaseCancelled):
            await sub.wait("o-full")
    assert not is_owned(db)
    assert result.ctx == {"n": 3, "go": {"paid": 5}}
    assert rows(db, "SELECT count(*) FROM inbox") == [(0,)]
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        assert sub.case_ids() == []  # delivered once; nothing left to resume


async def test_an_owner_opening_during_a_lock_probe_retries_and_owns_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl
    import time as real_time

    from wftrio.stores import _sqlite

    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry()):
        assert is_owned(db)
    assert not is_owned(db)
    # a probe holds the shared lock when the owner first tries; it lets go
    # while the owner waits between two attempts
    probe = os.open(f"{db}.lock", os.O_RDONLY)
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
    waits: list[float] = []

    class Clock:
        time = staticmethod(real_time.time)

        @staticmethod
        def sleep(seconds: float) -> None:
            waits.append(seconds)
            fcntl.flock(probe, fcntl.LOCK_UN)

    monkeypatch.setattr(_sqlite, "time", Clock)
    try:
        async with wf.open_substrate(path=db, registry=registry()):
            assert is_owned(db)
    finally:
        os.close(probe)
    assert waits == [0.01]
    monkeypatch.setattr(_sqlite, "time", real_time)
    # a lock that stays held is an owner: StoreLocked after the few retries
    async with wf.open_substrate(path=db, registry=registry()):
        with pytest.raises(wf.StoreLocked):
            async with wf.open_substrate(store=wf.SQLiteStore(db)):
                pass  # pragma: no cover


async def test_cases_drops_the_waits_of_a_cancelled_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        await sub.wait_state("o-full", "waiting_signal")
        assert await cli("cancel", str(db), "o-full", "--region", "r") == 0
        while "r" in sub.status("o-full").live_regions:  # noqa: ASYNC110
            await trio.sleep(0.01)  # taken and committed; now fed to the case
    # closed: every burst is committed
    assert await cli("cases", str(db)) == 0
    assert table_line(capsys.readouterr().out, "o-full") == (
        "o-full order@1 waiting_signal 0s signal go"
    )


OWNER = """
import json, sys
import trio
import wftrio as wf

reg = wf.Registry()
reg.register("order", wf.seq(wf.wait_signal("go", "go"), wf.task("b", lambda c: {"b": c["go"]})))


async def main(db):
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("order", {}, case_id="p1")
        await sub.wait_state("p1", "waiting_signal")
        print("ready", flush=True)
        result = await sub.wait("p1")
        print(json.dumps(result.ctx), flush=True)


trio.run(main, sys.argv[1])
"""


def test_a_signal_from_the_command_line_reaches_another_process(tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    db = tmp_path / "cases.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True, env=env
    ) as owner:
        try:
            assert owner.stdout is not None
            assert owner.stdout.readline().strip() == "ready"
            sent = subprocess.run(
                [sys.executable, "-m", "wftrio", "signal", str(db), "p1", "go", '{"x": 7}'],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
            assert sent.returncode == 0, sent.stderr
            assert "taken by the owning process" in sent.stdout
            out, _ = owner.communicate(timeout=60)  # fail-safe only: it ends at once
        finally:
            if owner.poll() is None:  # pragma: no cover - only when the test fails
                owner.kill()
    assert owner.returncode == 0
    assert json.loads(out) == {"go": {"x": 7}, "b": {"x": 7}}


async def test_a_store_written_before_the_inbox_tables_is_read_and_signalled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    for table in ("inbox", "workflows"):
        rows(db, f"DROP TABLE {table}")
    assert await cli("cases", str(db)) == 0
    # no signal names: the wait is generic
    line = table_line(capsys.readouterr().out, "o-min")
    assert line.startswith("o-min order@1 waiting_signal ")
    assert line.endswith(" a signal")
    assert await cli("signal", str(db), "o-min", "go", "1") == 0  # creates the inbox
    assert rows(db, "SELECT case_id, name, payload FROM inbox") == [("o-min", "go", "1")]


def test_post_request_refuses_a_payload_that_is_not_json(tmp_path: Path) -> None:
    from wftrio.stores._outside import connect_writer, post_request

    db = tmp_path / "cases.db"
    trio.run(make_store, db)
    conn = connect_writer(db)
    try:
        with pytest.raises(wf.UnstorableValue, match="payload must be JSON"):
            post_request(conn, "o-min", "signal", "go", object())
    finally:
        conn.close()
    assert rows(db, "SELECT count(*) FROM inbox") == [(0,)]
