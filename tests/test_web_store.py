"""The console over store files: read-mostly (another process owns it), the live
substrate's stored cases, and ``wftrio serve STORE`` as a real server process."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

import wftrio as wf
from wftrio.web import app

ROOT = Path(__file__).resolve().parent.parent


def order_term() -> wf.Term:
    return wf.seq(
        wf.task("reserve", lambda c: {"reserved": True}),
        wf.region("payment", wf.wait_signal("paid", store_as="payment")),
        wf.task("ship", lambda c: {"shipped": True}),
    )


@pytest.fixture
def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("order", order_term())
    return reg


def client(asgi: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://console")


def inbox_rows(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM inbox").fetchone()[0])
    finally:
        conn.close()


async def stored_state(db: Path, case_id: str, state: str) -> None:
    """Wait until the owner has committed ``case_id`` in ``state`` (its writer is a task)."""
    from wftrio.stores._outside import connect_reader, read_cases

    with trio.fail_after(10):
        while True:
            conn = connect_reader(db)
            try:
                found = {c.case_id: c for c in read_cases(conn)}
            finally:
                conn.close()
            case = found.get(case_id)
            # a final state is in the events a moment before the case's row says finished
            if case is not None and case.state == state and (case.finished or state != "done"):
                return
            await trio.sleep(0.01)


async def test_a_store_owned_by_another_substrate_is_read_and_signalled(
    tmp_path: Path, registry: wf.Registry
) -> None:
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry) as owner:
        cid = await owner.new_case("order", {"who": "bo"}, "o1")
        await stored_state(db, "o1", "waiting_signal")
        async with client(app(db, registry=registry)) as c:
            body = (await c.get("/api/cases")).json()
            assert body["source"] == "store"
            (row,) = body["cases"]
            assert row["case_id"] == "o1"
            assert row["source"] == "store"
            assert row["state"] == "waiting_signal"
            assert "signal paid" in row["waits"][0]
            assert isinstance(row["created"], float)
            detail = (await c.get("/api/cases/o1")).json()
            # the owner's current ctx (its latest_ctx row), not the initial one
            assert detail["ctx"] == {"who": "bo", "reserved": True}
            assert detail["ctx_is"] == "current"
            assert detail["signals"] == ["paid"]
            assert detail["regions"] == ["payment"]
            assert detail["waiting_signals"] == ["paid"]
            assert detail["tokens"] == [{"token": 1, "region": "payment", "what": "signal paid"}]
            graph = (await c.get("/api/cases/o1/graph")).json()
            assert {n["label"]: n["progress"] for n in graph["nodes"]}["reserve"] == "done"
            assert (await c.get("/api/cases/o1/trace")).json()["total"] > 3

            # refused, nothing written: no such signal, no such case, no starting here
            r = await c.post("/api/cases/o1/signal", json={"name": "refund"})
            assert r.status_code == 422
            assert "refund" in r.json()["error"]
            r = await c.post("/api/cases/ghost/signal", json={"name": "paid"})
            assert r.status_code == 404
            r = await c.post("/api/cases", json={"workflow": "order"})
            assert r.status_code == 409
            assert "another process owns" in r.json()["error"]
            assert inbox_rows(db) == 0
            assert owner.case_ids() == ["o1"]

            r = await c.post("/api/cases/o1/signal", json={"name": "paid", "payload": 12})
            assert r.status_code == 202
            assert r.json()["status"] == "taken"
            assert (await owner.wait(cid)).ctx["payment"] == 12
            await stored_state(db, "o1", "done")
            body = (await c.get("/api/cases/o1")).json()
            assert body["state"] == "done"
            assert body["finished"]
            r = await c.post("/api/cases/o1/cancel")
            assert r.status_code == 409
            assert "finished" in r.json()["error"]


async def test_with_no_owner_a_request_is_queued_then_delivered(
    tmp_path: Path, registry: wf.Registry
) -> None:
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry) as owner:
        await owner.new_case("order", {}, "o1")
        await owner.wait_state("o1", "waiting_signal")
    async with client(app(str(db))) as c:
        r = await c.post("/api/cases/o1/signal", json={"name": "paid", "payload": "late"})
        assert r.status_code == 202
        assert r.json()["status"] == "queued"
        r = await c.post("/api/cases", json={"workflow": "order"})
        assert r.status_code == 409
        assert "only reads" in r.json()["error"]
    async with wf.open_substrate(path=db, registry=registry) as owner:
        assert (await owner.wait("o1")).ctx["payment"] == "late"


async def test_a_live_durable_substrate_shows_its_forgotten_cases_from_the_file(
    tmp_path: Path, registry: wf.Registry
) -> None:
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry) as sub:
        await sub.new_case("order", {}, "old")
        await sub.signal("old", "paid")
        await sub.wait("old")
        sub.forget("old")
        await sub.new_case("order", {}, "new")
        async with client(app(sub)) as c:
            rows = {r["case_id"]: r for r in (await c.get("/api/cases")).json()["cases"]}
            assert rows["old"]["source"] == "store"
            assert rows["old"]["state"] == "done"
            assert rows["new"]["source"] == "memory"
            old = (await c.get("/api/cases/old")).json()
            assert old["ctx_is"] == "final"
            assert old["ctx"] == {"reserved": True, "payment": None, "shipped": True}
            assert (await c.get("/api/cases/old/graph")).status_code == 200
            r = await c.post("/api/cases/old/signal", json={"name": "paid"})
            assert r.status_code == 409
            r = await c.post("/api/cases", json={"workflow": "order", "case_id": "old"})
            assert r.status_code == 409
            assert "already exists" in r.json()["error"]
            r = await c.post("/api/cases", json={"workflow": "order", "ctx": {"n": 1}})
            assert r.status_code == 201
            assert len((await c.get("/api/cases")).json()["cases"]) == 3


# -- `wftrio serve STORE`: a real server process ---------------------------------

FLOWS = """
import wftrio as wf

wf.register("order", wf.seq(
    wf.task("reserve", lambda c: {"reserved": True}),
    wf.region("payment", wf.wait_signal("paid", store_as="payment")),
    wf.task("ship", lambda c: {"shipped": True}),
))
wf.register("pay", wf.task("charge", lambda c: wf.Effect("payment", {"eur": c["eur"]})))


async def _payment(effect, ctx):
    return {"charged": effect.payload["eur"] * 100}


HANDLER = {"payment": _payment}
"""


async def _start_server(
    db: Path, flows: Path, *extra: str, stderr: int | None = None
) -> tuple[trio.Process, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("WFTRIO_TOKEN", None)
    argv = [sys.executable, "-m", "wftrio", "serve", str(db), "--port", "0"]
    proc = await trio.lowlevel.open_process(
        [*argv, "--workflows", str(flows), *extra], stdout=-1, stderr=stderr, env=env
    )
    assert proc.stdout is not None
    line = b""
    with trio.fail_after(30):
        while not line.endswith(b"\n"):
            chunk = await proc.stdout.receive_some(1)
            assert chunk, "the server exited before it listened"
            line += chunk
    text = line.decode()
    url = text.split()[3].rstrip(",")
    assert url.startswith(("http://", "https://"))
    return proc, url, text


async def _stop(proc: trio.Process) -> None:
    proc.terminate()
    with trio.fail_after(10):
        # SIGTERM closes the substrate in order and exits 0
        assert await proc.wait() == 0


async def test_serve_runs_the_cases_of_an_unowned_store(tmp_path: Path) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text(FLOWS)
    db = tmp_path / "cases.db"
    proc, url, text = await _start_server(db, flows, "--token", "tok")
    assert "running the cases of" in text
    try:
        auth = {"authorization": "Bearer tok"}
        async with httpx.AsyncClient(base_url=url) as c:
            r = await c.post("/api/cases", json={"workflow": "order", "case_id": "s1"})
            assert r.status_code == 401
            r = await c.post(
                "/api/cases", json={"workflow": "order", "case_id": "s1"}, headers=auth
            )
            assert r.status_code == 201
            r = await c.post(
                "/api/cases/s1/signal", json={"name": "paid", "payload": [1]}, headers=auth
            )
            assert r.status_code == 202
            assert r.json()["status"] == "delivered"
            with trio.fail_after(10):
                # another process: polling over HTTP is the only way to see it
                while (await c.get("/api/cases/s1")).json()["state"] != "done":  # noqa: ASYNC110
                    await trio.sleep(0.05)
            body = (await c.get("/api/cases/s1")).json()
            assert body["ctx"] == {"reserved": True, "payment": [1], "shipped": True}
            assert (await c.get("/")).status_code == 200
            # the module's HANDLER handles the cases' effects
            r = await c.post(
                "/api/cases",
                json={"workflow": "pay", "case_id": "p1", "ctx": {"eur": 2}},
                headers=auth,
            )
            assert r.status_code == 201
            with trio.fail_after(10):
                while (await c.get("/api/cases/p1")).json()["state"] != "done":  # noqa: ASYNC110
                    await trio.sleep(0.05)
            assert (await c.get("/api/cases/p1")).json()["ctx"] == {"eur": 2, "charged": 200}
    finally:
        await _stop(proc)
    from wftrio.stores._outside import connect_reader, is_owned, read_cases

    assert not is_owned(db)  # the server let go of the store
    conn = connect_reader(db)
    try:
        assert [(c.case_id, c.state) for c in read_cases(conn)] == [("s1", "done"), ("p1", "done")]
    finally:
        conn.close()


async def test_serve_reads_a_store_another_process_owns(tmp_path: Path) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text(FLOWS)
    db = tmp_path / "cases.db"
    reg = wf.Registry()
    reg.register("order", order_term())
    async with wf.open_substrate(path=db, registry=reg) as owner:
        await owner.new_case("order", {}, "x1")
        await stored_state(db, "x1", "waiting_signal")
        proc, url, text = await _start_server(db, flows)
        assert "owned by another process" in text
        try:
            async with httpx.AsyncClient(base_url=url) as c:
                rows = (await c.get("/api/cases")).json()
                assert rows["source"] == "store"
                assert rows["cases"][0]["case_id"] == "x1"
                r = await c.post("/api/cases/x1/signal", json={"name": "paid", "payload": 3})
                assert r.status_code == 202
                assert r.json()["status"] == "taken"
            assert (await owner.wait("x1")).ctx["payment"] == 3
        finally:
            await _stop(proc)


async def test_serve_warns_when_it_listens_beyond_loopback_without_a_token(
    tmp_path: Path,
) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text(FLOWS)
    proc, url, _ = await _start_server(tmp_path / "c.db", flows, "--host", "0.0.0.0", stderr=-1)
    assert url.startswith("http://0.0.0.0:")
    await _stop(proc)
    assert proc.stderr is not None
    err = b""
    while chunk := await proc.stderr.receive_some():
        err += chunk
    assert b"without --token: anyone who can reach it" in err


async def test_serve_speaks_https_with_a_certificate(tmp_path: Path) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    flows = tmp_path / "flows.py"
    flows.write_text(FLOWS)
    proc, url, _ = await _start_server(
        tmp_path / "c.db", flows, "--certfile", str(certfile), "--keyfile", str(keyfile)
    )
    try:
        assert url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context()
        ca.configure_trust(trusted)
        async with httpx.AsyncClient(base_url=url, verify=trusted) as c:
            assert (await c.get("/api/cases")).json()["cases"] == []
        async with httpx.AsyncClient(base_url=url) as c:  # the system's CAs: refused
            with pytest.raises(httpx.ConnectError):
                await c.get("/api/cases")
    finally:
        await _stop(proc)


async def test_embedded_serve_refuses_half_a_tls_setup(tmp_path: Path) -> None:
    from wftrio.errors import OptionError
    from wftrio.web import app, serve

    async with wf.open_substrate() as sub:
        with pytest.raises(OptionError, match="needs both certfile and keyfile"):
            await serve(app(sub), port=0, certfile=str(tmp_path / "c.pem"))
        with pytest.raises(OptionError, match="is no file"):
            await serve(app(sub), port=0, certfile="c.pem", keyfile="k.pem")


def test_serve_argument_mistakes_are_one_line(tmp_path: Path, capsys: Any) -> None:
    from wftrio.cli import main

    db = str(tmp_path / "cases.db")
    assert main(["serve", db, "--signal-token", "nonames"]) == 2
    assert "TOKEN=NAME" in capsys.readouterr().err
    assert main(["serve", db, "--workflows", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["serve", db, "--port", "70000"]) == 2
    assert "65535" in capsys.readouterr().err
    assert main(["serve", db, "--certfile", str(tmp_path / "c.pem")]) == 2
    assert "--certfile and --keyfile go together" in capsys.readouterr().err
    assert main(["serve", db, "--certfile", "nope.pem", "--keyfile", "nope.key"]) == 2
    assert "--certfile nope.pem: no such file" in capsys.readouterr().err
    for name in ("h1", "h2"):
        (tmp_path / f"{name}.py").write_text("HANDLER = {}\n")
    two = ["--workflows", str(tmp_path / "h1.py"), "--workflows", str(tmp_path / "h2.py")]
    assert main(["serve", db, *two]) == 2
    assert "more than one module defines HANDLER" in capsys.readouterr().err
    assert not os.path.exists(db)
