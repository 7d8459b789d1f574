"""``app(..., token=T, protect_reads=True)``: every page and API read needs the token.

Real substrate, the real ASGI app through httpx (no server needed), and the
``wftrio serve`` flag.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import wftrio as wf
from wftrio.cli import main
from wftrio.errors import OptionError
from wftrio.web import app
from wftrio.web._auth import COOKIE

READS = [
    "/api/cases",
    "/api/cases/w",
    "/api/cases/w/trace",
    "/api/cases/w/receipts",
    "/api/cases/w/graph",
    "/api/openapi.json",
]
PAGES = ["/", "/cases/w", "/cases/w/live"]


def client(asgi: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://console")


@pytest.fixture
async def sub() -> AsyncIterator[wf.Substrate]:
    reg = wf.Registry()
    reg.register("order", wf.seq(wf.wait_signal("paid", "paid"), wf.task("a", lambda c: {})))
    async with wf.open_substrate(registry=reg) as s:
        await s.new_case("order", {"secret": "pii"}, "w")
        await s.wait_state("w", "waiting_signal")
        yield s


async def test_without_the_token_nothing_is_read(sub: wf.Substrate) -> None:
    async with client(app(sub, token="s3cret", protect_reads=True)) as c:
        for path in READS:
            for headers in ({}, {"authorization": "Bearer wrong"}):
                r = await c.get(path, headers=headers)
                assert r.status_code == 401, path
                assert r.headers["www-authenticate"] == "Bearer"
                assert "token" in r.json()["error"]
                assert "pii" not in r.text
        for path in PAGES:
            r = await c.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next=")
        assert (await c.get("/login")).status_code == 200
        assert (await c.get("/static/console.css")).status_code == 200


async def test_the_bearer_token_reads_and_signal_tokens_do_not(sub: wf.Substrate) -> None:
    asgi = app(sub, token="s3cret", signal_tokens={"hook": {"paid"}}, protect_reads=True)
    async with client(asgi) as c:
        ok = {"authorization": "Bearer s3cret"}
        for path in READS:
            assert (await c.get(path, headers=ok)).status_code == 200, path
        assert "pii" in (await c.get("/api/cases/w", headers=ok)).text
        schema = (await c.get("/api/openapi.json", headers=ok)).json()
        reads = [item["get"] for item in schema["paths"].values() if "get" in item]
        assert reads
        assert all("401" in op["responses"] and {"bearer": []} in op["security"] for op in reads)
        hook = {"authorization": "Bearer hook"}
        assert (await c.get("/api/cases/w", headers=hook)).status_code == 401
        # the hook still sends its signal (POSTs are the API's own check)
        r = await c.post("/api/cases/w/signal", json={"name": "paid"}, headers=hook)
        assert r.status_code == 202
    assert (await sub.wait("w")).state == "done"


async def test_a_browser_logs_in_with_a_cookie_and_goes_back(sub: wf.Substrate) -> None:
    async with client(app(sub, token="s3cret", protect_reads=True)) as c:
        r = await c.get("/cases/w")
        assert r.headers["location"] == "/login?next=%2Fcases%2Fw"
        form = await c.get(r.headers["location"])
        assert 'value="/cases/w"' in form.text
        bad = await c.post("/login", data={"token": "nope", "next": "/cases/w"})
        assert bad.status_code == 401
        assert "not valid" in bad.text
        assert COOKIE not in c.cookies
        r = await c.post("/login", data={"token": "s3cret", "next": "/cases/w"})
        assert r.status_code == 303
        assert r.headers["location"] == "/cases/w"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "s3cret" not in cookie  # an HMAC of the token, not the token
        assert (await c.get("/cases/w")).status_code == 200
        assert (await c.get("/api/cases/w")).status_code == 200
        # the page's own calls: the cookie authorises a POST too
        r = await c.post("/api/cases/w/signal", json={"name": "paid"})
        assert r.status_code == 202
        await c.get("/logout")
        assert COOKIE not in c.cookies
        assert (await c.get("/api/cases")).status_code == 401
    assert (await sub.wait("w")).state == "done"


async def test_login_never_sends_the_browser_to_another_site(sub: wf.Substrate) -> None:
    async with client(app(sub, token="s3cret", protect_reads=True)) as c:
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", ""):
            r = await c.post("/login", data={"token": "s3cret", "next": target})
            assert r.headers["location"] == "/", target


async def test_reading_stays_open_by_default_and_the_option_needs_a_token(
    sub: wf.Substrate,
) -> None:
    async with client(app(sub, token="s3cret")) as c:
        assert (await c.get("/api/cases/w")).status_code == 200
        assert (await c.get("/login")).status_code == 404  # no login without protect_reads
    with pytest.raises(OptionError, match="protect_reads"):
        app(sub, protect_reads=True)


def test_serve_refuses_protect_reads_without_a_token(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WFTRIO_TOKEN", raising=False)
    assert main(["serve", str(tmp_path / "c.db"), "--protect-reads"]) == 2
    assert "--protect-reads needs --token" in capsys.readouterr().err
    assert not (tmp_path / "c.db").exists()
