"""The console's pages as HTML (server-rendered), read through httpx; the browser
tests (test_web_browser.py) drive the same pages in Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

import wftrio as wf
from wftrio.web import app


def client(asgi: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://console")


def order_term() -> wf.Term:
    return wf.seq(
        wf.task("reserve", lambda c: {"reserved": True}),
        wf.region("payment", wf.wait_signal("paid", store_as="payment")),
        wf.task("ship", lambda c: {"shipped": True}),
    )


async def test_list_page_has_the_cases_and_nothing_from_elsewhere() -> None:
    reg = wf.Registry()
    reg.register("order", order_term())
    async with wf.open_substrate(registry=reg) as sub:
        await sub.new_case("order", {}, "o1")
        await sub.wait_state("o1", "waiting_signal")
        async with client(app(sub)) as c:
            page = (await c.get("/")).text
            assert '<tr data-case="o1" data-state="waiting_signal">' in page
            assert 'href="/cases/o1"' in page
            assert "signal paid" in page
            assert '<select name="workflow"><option>order</option></select>' in page
            assert 'id="token"' not in page  # no token asked for without auth
            # every URL the page loads is the app's own
            for url in re.findall(r'(?:src|href)="([^"]+)"', page):
                assert url.startswith("/"), url
            for asset, kind in (
                ("/static/console.js", "javascript"),
                ("/static/console.css", "css"),
            ):
                r = await c.get(asset)
                assert r.status_code == 200
                assert kind in r.headers["content-type"]
            assert "setInterval(refresh,1000)" in (await c.get("/static/console.js")).text
        async with client(app(sub, token="t")) as c:
            assert 'id="token"' in (await c.get("/")).text


async def test_case_page_has_timeline_graph_receipts_and_forms() -> None:
    async def charge(ctx: Any) -> dict[str, Any]:
        return {"charged": True}

    term = wf.seq(wf.task("charge", charge), order_term())
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(term, {"who": "ann"}, "c1")
        await sub.wait_state(cid, "waiting_signal")
        async with client(app(sub)) as c:
            page = (await c.get("/cases/c1")).text
            assert 'class="wf-timeline"' in page
            assert 'data-pane="timeline"' in page
            assert 'data-pane="graph"' in page
            assert 'id="signal-form" data-api="/api/cases/c1/signal"' in page
            assert 'value="paid"' in page  # the signal it waits for, filled in
            assert '<select name="region"><option>payment</option></select>' in page
            assert 'id="cancel-form"' in page
            assert re.search(r"token \d+: signal paid \(region payment\)", page)
            assert "Receipts (" in page
            assert "<td>charge</td>" in page
            assert "&quot;who&quot;: &quot;ann&quot;" in page  # the ctx
            live = (await c.get("/cases/c1/live")).text
            assert live.startswith('<div id="live" data-state="waiting_signal"')
            await sub.signal(cid, "paid")
            await sub.wait(cid)
            live = (await c.get("/cases/c1/live")).text
            assert 'data-finished="true"' in live
            assert "state done" in live
            page = (await c.get("/cases/c1")).text
            assert 'id="signal-form"' not in page  # a finished case takes nothing
            r = await c.get("/cases/ghost")
            assert r.status_code == 404
            assert "ghost" in r.text
            assert (await c.get("/cases/ghost/live")).status_code == 404


@pytest.mark.parametrize("evil", ["<script>alert(1)</script>", '"><img src=x onerror=1>'])
async def test_names_from_a_case_are_escaped(evil: str) -> None:
    term = wf.seq(wf.task(evil, lambda c: {evil: evil}), wf.wait_signal(evil))
    cid = evil.replace("/", "")  # a path segment
    async with wf.open_substrate() as sub:
        await sub.new_case(term, {}, cid)
        async with client(app(sub)) as c:
            for url in ("/", f"/cases/{cid}", f"/cases/{cid}/live"):
                r = await c.get(url)
                assert r.status_code == 200, url
                assert evil not in r.text, url
                assert cid not in r.text, url
