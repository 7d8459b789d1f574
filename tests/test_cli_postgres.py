"""The command line on a ``wf.PostgresStore`` database: ``wftrio cases|show|signal|cancel
DSN ...`` while a worker runs the cases (a real PostgreSQL server)."""

from __future__ import annotations

import pytest
import trio

import wftrio as wf
from wftrio.cli import main

pytestmark = pytest.mark.postgres


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register(
        "order",
        wf.seq(
            wf.task("a", lambda ctx: {"n": 1}),
            wf.region("r", wf.wait_signal("hold")),
            wf.wait_signal("go", "go"),
        ),
        version=1,
    )
    return reg


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


async def cli(*argv: str) -> int:
    return await trio.to_thread.run_sync(main, list(argv))


async def test_cases_show_signal_cancel_on_a_dsn_while_a_worker_runs(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = wf.PostgresStore(pg_dsn, lease=1.0, poll=0.05)
    async with wf.open_substrate(store=store, registry=registry()) as sub:
        for cid in ("o1", "o2"):
            await sub.new_case("order", {}, case_id=cid)
            await sub.wait_state(cid, "waiting_signal")
        assert await cli("cases", pg_dsn) == 0
        out = capsys.readouterr().out
        assert "2 cases, shared by its workers" in out
        assert "signal hold" in out
        assert f"worker {store.worker_id} (epoch 1)" in out
        assert await cli("cancel", pg_dsn, "o1", "--region", "r") == 0
        assert "taken" in capsys.readouterr().out
        assert await cli("signal", pg_dsn, "o1", "go", '{"paid": 3}') == 0
        assert "taken" in capsys.readouterr().out
        res = await sub.wait("o1")
        assert res.ctx["go"] == {"paid": 3}
        assert await cli("cancel", pg_dsn, "o2") == 0
        assert await sub.wait_state("o2", "cancelled") is wf.CaseState.CANCELLED
        assert await cli("show", pg_dsn, "o1") == 0
        out = capsys.readouterr().out
        assert "region_cancelled" in out
        assert "signal go" in out
    # bad requests: one line, status 2, nothing written
    for argv, msg in (
        (["signal", pg_dsn, "nope", "go"], "holds no case 'nope'"),
        (["signal", pg_dsn, "o1", "go"], "has finished"),
        (["show", pg_dsn, "nope"], "holds no case 'nope'"),
        (["cases", "postgresql://nobody@127.0.0.1:1/x"], "cannot reach"),
    ):
        assert await cli(*argv) == 2, argv
        assert msg in capsys.readouterr().err, argv
