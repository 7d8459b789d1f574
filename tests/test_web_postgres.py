"""The console over a ``wf.PostgresStore`` database (``wftrio serve DSN``): read-mostly,
requests and new cases committed for the workers (a real PostgreSQL server)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio

import wftrio as wf
from wftrio.web import app

pytestmark = pytest.mark.postgres


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register(
        "order",
        wf.seq(
            wf.task("reserve", lambda c: {"reserved": True}),
            wf.region("payment", wf.wait_signal("paid", store_as="payment")),
            wf.task("ship", lambda c: {"shipped": True}),
        ),
    )
    return reg


def client(asgi: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://console")


async def test_the_console_reads_a_dsn_and_commits_requests_for_the_workers(
    pg_dsn: str,
) -> None:
    reg = registry()
    store = wf.PostgresStore(pg_dsn, lease=1.0, poll=0.05)
    async with wf.open_substrate(store=store, registry=reg) as worker:
        await worker.new_case("order", {"who": "bo"}, "o1")
        await worker.wait_state("o1", "waiting_signal")
        async with client(app(pg_dsn, registry=reg)) as c:
            with trio.fail_after(10):
                while True:  # the worker's writer commits its bursts a moment later
                    body = (await c.get("/api/cases")).json()
                    if body["cases"] and body["cases"][0]["state"] == "waiting_signal":
                        break
                    await trio.sleep(0.02)
            assert body["source"] == "store"
            (row,) = body["cases"]
            assert row["case_id"] == "o1"
            assert "signal paid" in row["waits"][0]
            assert f"worker {store.worker_id}" in row["waits"][-1]
            detail = (await c.get("/api/cases/o1")).json()
            assert detail["ctx"] == {"who": "bo", "reserved": True}  # the worker's, as committed
            assert detail["ctx_is"] == "current"
            assert detail["signals"] == ["paid"]
            assert detail["regions"] == ["payment"]
            assert (await c.get("/api/cases/o1/trace")).json()["total"] > 3
            # refused, nothing written
            r = await c.post("/api/cases/o1/signal", json={"name": "refund"})
            assert r.status_code == 422
            r = await c.post("/api/cases/ghost/signal", json={"name": "paid"})
            assert r.status_code == 404
            # committed; the owning worker takes it
            r = await c.post("/api/cases/o1/signal", json={"name": "paid", "payload": 12})
            assert r.status_code == 202
            assert r.json()["status"] == "taken"
            assert (await worker.wait("o1")).ctx["payment"] == 12
            # a case started here is claimed by a free worker
            r = await c.post("/api/cases", json={"workflow": "order", "case_id": "o2"})
            assert r.status_code in (200, 201), r.text
            with trio.fail_after(10):
                while True:
                    if "o2" in worker.case_ids():
                        break
                    await trio.sleep(0.02)
            await worker.wait_state("o2", "waiting_signal")
            r = await c.post("/api/cases/o2/cancel")
            assert r.status_code == 202
            await worker.wait_state("o2", "cancelled")
