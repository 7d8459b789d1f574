"""The console's HTTP API over a live substrate (wftrio.web.app), through httpx.

Real substrate, real cases, real HTTP semantics (httpx's ASGI transport runs
the Starlette app in the test's own trio run); MockClock where time matters.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
import trio.lowlevel
import trio.testing

import wftrio as wf
from wftrio.web import app


def order_term() -> wf.Term:
    return wf.seq(
        wf.task("reserve", lambda c: {"reserved": True}),
        wf.region(
            "payment",
            wf.wait_signal("paid", store_as="payment"),
            compensate=wf.task("refund", lambda c: {"refunded": True}),
        ),
        wf.task("ship", lambda c: {"shipped": True}),
    )


def quick_term() -> wf.Term:
    return wf.task("only", lambda c: {"n": c.get("n", 0) + 1})


@pytest.fixture
def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("order", order_term())
    reg.register("quick", quick_term())
    return reg


def client(asgi: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://console")


@pytest.fixture
async def sub(registry: wf.Registry) -> AsyncIterator[wf.Substrate]:
    async with wf.open_substrate(registry=registry) as s:
        yield s


async def waiting(sub: wf.Substrate, case_id: str) -> None:
    await sub.wait_state(case_id, "waiting_signal")


# -- reading -----------------------------------------------------------------


async def test_list_filters_and_paging(sub: wf.Substrate) -> None:
    ids = [await sub.new_case("order", {"i": i}, f"o{i}") for i in range(5)]
    for cid in ids:
        await waiting(sub, cid)
    await sub.new_case("quick", {"n": 1}, "q1")
    await sub.new_case(order_term(), {}, "adhoc")
    await waiting(sub, "adhoc")
    async with client(app(sub)) as c:
        r = await c.get("/api/cases")
        body = r.json()
        assert r.status_code == 200
        assert body["total"] == 7
        assert [x["case_id"] for x in body["cases"]][:2] == ["adhoc", "q1"]  # newest first
        assert body["states"] == {"waiting_signal": 6, "done": 1}
        assert body["source"] == "live"
        row = next(x for x in body["cases"] if x["case_id"] == "o0")
        assert row["workflow"] == "order"
        assert row["version"] == 1
        assert row["waits"] == ["signal paid"]
        assert not row["finished"]
        assert abs(row["created"] - time.time()) < 60  # started moments ago (wall clock)

        r = await c.get("/api/cases", params={"state": "done"})
        assert [x["case_id"] for x in r.json()["cases"]] == ["q1"]
        r = await c.get("/api/cases", params={"state": "done,waiting_signal", "workflow": "order"})
        assert r.json()["total"] == 5
        r = await c.get("/api/cases", params={"waiting": "paid"})
        assert r.json()["total"] == 6
        r = await c.get("/api/cases", params={"q": "ADHOC"})
        assert [x["case_id"] for x in r.json()["cases"]] == ["adhoc"]
        r = await c.get("/api/cases", params={"q": "quick"})
        assert [x["case_id"] for x in r.json()["cases"]] == ["q1"]

        pages: list[str] = []
        offset: int | None = 0
        while offset is not None:
            r = await c.get("/api/cases", params={"limit": 3, "offset": offset, "order": "oldest"})
            body = r.json()
            pages += [x["case_id"] for x in body["cases"]]
            offset = body["next_offset"]
        assert pages == [*ids, "q1", "adhoc"]

        for params in (
            {"limit": "0"},
            {"limit": "x"},
            {"offset": "-1"},
            {"state": "sleeping"},
            {"order": "random"},
        ):
            r = await c.get("/api/cases", params=params)
            assert r.status_code == 400, params
            assert set(r.json()) == {"error"}
            assert r.json()["error"]


async def test_one_case_ctx_waits_regions_budget(sub: wf.Substrate) -> None:
    cid = await sub.new_case("order", {"who": "ann"}, budget=wf.Budget(max_effects=3))
    await waiting(sub, cid)
    async with client(app(sub)) as c:
        body = (await c.get(f"/api/cases/{cid}")).json()
        assert body["state"] == "waiting_signal"
        assert body["ctx"] == {"who": "ann", "reserved": True}
        assert body["ctx_is"] == "current"
        assert body["waiting_signals"] == ["paid"]
        assert body["waits"] == ["signal paid"]
        assert body["tokens"] == [{"token": 1, "region": "payment", "what": "signal paid"}]
        assert body["live_regions"] == ["payment"]
        assert body["regions"] == ["payment"]
        assert body["signals"] == ["paid"]
        assert body["budget"]["limits"] == {"effects": 3, "time": None, "cost": None}
        assert body["budget"]["remaining"]["effects"] == 3
        await sub.signal(cid, "paid", {"eur": 5})
        await sub.wait(cid)
        body = (await c.get(f"/api/cases/{cid}")).json()
        assert body["state"] == "done"
        assert body["finished"]
        assert body["ctx_is"] == "final"
        assert body["ctx"] == {
            "who": "ann",
            "reserved": True,
            "payment": {"eur": 5},
            "shipped": True,
        }
        r = await c.get("/api/cases/nope")
        assert r.status_code == 404
        assert "nope" in r.json()["error"]


async def test_ctx_values_json_cannot_hold_are_shown_as_repr(sub: wf.Substrate) -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    cid = await sub.new_case(order_term(), {"obj": Thing(), "s": {1}, "nan": float("nan")})
    async with client(app(sub)) as c:
        body = (await c.get(f"/api/cases/{cid}")).json()
    assert body["ctx"]["obj"] == "<Thing>"
    assert body["ctx"]["s"] == [1]
    assert body["ctx"]["nan"] == "nan"


async def test_trace_paged_and_by_level(sub: wf.Substrate) -> None:
    cid = await sub.new_case("order", {})
    await waiting(sub, cid)
    await sub.signal(cid, "paid", 1)
    await sub.wait(cid)
    events = sub.events(cid)
    async with client(app(sub)) as c:
        r = await c.get(f"/api/cases/{cid}/trace", params={"limit": 4})
        body = r.json()
        assert body["total"] == len(events)
        assert [e["seq"] for e in body["events"]] == [e.seq for e in events[:4]]
        assert body["next_offset"] == 4
        got: list[int] = []
        offset: int | None = 0
        while offset is not None:
            body = (await c.get(f"/api/cases/{cid}/trace", params={"offset": offset})).json()
            got += [e["seq"] for e in body["events"]]
            offset = body["next_offset"]
        assert got == [e.seq for e in events]
        mins = (await c.get(f"/api/cases/{cid}/trace", params={"level": "min"})).json()
        kinds = {e["kind"] for e in mins["events"]}
        assert "task_completed" not in kinds
        assert "signal_received" in kinds
        assert mins["total"] < len(events)
        only = (await c.get(f"/api/cases/{cid}/trace", params={"kind": "task_completed"})).json()
        assert [e["name"] for e in only["events"]] == ["reserve", "ship"]
        r = await c.get(f"/api/cases/{cid}/trace", params={"level": "verbose"})
        assert r.status_code == 400
        assert (await c.get("/api/cases/zzz/trace")).status_code == 404


async def test_receipts_of_effects(registry: wf.Registry) -> None:
    async def charge(ctx: Any) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        return {"charged": ctx["eur"]}

    registry.register("pay", wf.seq(wf.task("charge", charge), wf.wait_signal("ok")))
    async with wf.open_substrate(registry=registry) as sub:
        cid = await sub.new_case("pay", {"eur": 7})
        await waiting(sub, cid)
        async with client(app(sub)) as c:
            body = (await c.get(f"/api/cases/{cid}/receipts")).json()
            assert (await c.get("/api/cases/zzz/receipts")).status_code == 404
    found = [r for r in body["receipts"] if r["task"] == "charge"]
    assert len(found) == 1
    assert found[0]["outcome"] == "ok"
    assert found[0]["attempts"] == 1


async def test_graph_with_progress(sub: wf.Substrate) -> None:
    cid = await sub.new_case("order", {})
    await waiting(sub, cid)
    async with client(app(sub)) as c:
        body = (await c.get(f"/api/cases/{cid}/graph")).json()
        by_label = {n["label"]: n["progress"] for n in body["nodes"]}
        assert by_label["reserve"] == "done"
        assert by_label["wait signal paid → payment"] == "waiting"
        assert by_label["ship"] == "not-reached"
        assert {"src", "dst"} <= set(body["edges"][0])
        assert [cl["label"] for cl in body["clusters"]] == ["region payment"]
        await sub.signal(cid, "paid")
        await sub.wait(cid)
        body = (await c.get(f"/api/cases/{cid}/graph")).json()
        by_label = {n["label"]: n["progress"] for n in body["nodes"]}
        assert by_label["ship"] == "done"
        assert by_label["end"] == "done"
        # a finished case started from a bare term keeps its term: its graph, all done
        adhoc = await sub.new_case(quick_term(), {})
        assert (await sub.wait(adhoc)).state is wf.CaseState.DONE
        body = (await c.get(f"/api/cases/{adhoc}/graph")).json()
        assert body["nodes"]
        assert {n["progress"] for n in body["nodes"] if n["label"] != "start"} == {"done"}
        page = (await c.get(f"/cases/{adhoc}")).text
        assert "is not known here" not in page
        # forgotten, it is gone: 404, said so
        sub.forget(adhoc)
        r = await c.get(f"/api/cases/{adhoc}/graph")
        assert r.status_code == 404


async def test_live_case_list_follows_time(
    registry: wf.Registry, autojump_clock: trio.testing.MockClock
) -> None:
    registry.register(
        "timed",
        wf.defer(
            wf.on_signal("go", wf.task("went", lambda c: {"how": "signal"})),
            wf.after(60, wf.task("late", lambda c: {"how": "timer"})),
        ),
    )
    async with wf.open_substrate(registry=registry) as sub:
        cid = await sub.new_case("timed", {})
        await waiting(sub, cid)
        async with client(app(sub)) as c:
            row = (await c.get("/api/cases")).json()["cases"][0]
            assert row["state"] == "waiting_signal"
            assert "signal go" in row["waits"]
            assert "1 timer" in row["waits"]
            await trio.sleep(59)
            assert (await c.get(f"/api/cases/{cid}")).json()["state"] == "waiting_signal"
            await trio.sleep(2)
            body = (await c.get(f"/api/cases/{cid}")).json()
            assert body["state"] == "done"
            assert body["ctx"] == {"how": "timer"}


# -- changing ------------------------------------------------------------------


async def test_start_a_registered_workflow(sub: wf.Substrate) -> None:
    async with client(app(sub)) as c:
        r = await c.post("/api/cases", json={"workflow": "quick", "ctx": {"n": 41}})
        assert r.status_code == 201
        cid = r.json()["case_id"]
        assert (await sub.wait(cid)).ctx == {"n": 42}
        r = await c.post("/api/cases", json={"workflow": "order", "case_id": "mine", "version": 1})
        assert r.status_code == 201
        assert r.json() == {"case_id": "mine"}
        assert sub.status("mine").workflow == "order"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"ctx": {}}', 400, '"workflow"'),
        (b'{"workflow": 3}', 400, '"workflow"'),
        (b'{"workflow": "nope"}', 404, "nope"),
        (b'{"workflow": "quick", "version": 9}', 404, "quick"),
        (b'{"workflow": "quick", "version": true}', 400, '"version"'),
        (b'{"workflow": "quick", "ctx": [1]}', 400, '"ctx"'),
        (b'{"workflow": "quick", "case_id": ""}', 400, '"case_id"'),
        (b'{"workflow": "quick", "case_id": "taken"}', 409, "taken"),
        (b'{"workflow": "quick", "colour": "red"}', 400, "colour"),
        (b'{"workflow": "quick", "ctx": {"x": NaN}}', 400, "NaN"),
    ],
)
async def test_bad_start_changes_nothing(
    sub: wf.Substrate, body: bytes, status: int, words: str
) -> None:
    await sub.new_case("order", {}, "taken")
    before = sub.case_ids()
    async with client(app(sub)) as c:
        r = await c.post("/api/cases", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert list(r.json()) == ["error"]
    assert words in r.json()["error"]
    assert sub.case_ids() == before


async def test_too_large_body_is_refused(sub: wf.Substrate) -> None:
    async with client(app(sub)) as c:
        big = b'{"workflow": "quick", "ctx": {"x": "' + b"a" * (1 << 20) + b'"}}'
        r = await c.post("/api/cases", content=big)
    assert r.status_code == 413
    assert sub.case_ids() == []


async def test_signal_cancel_and_cancel_region(sub: wf.Substrate) -> None:
    a = await sub.new_case("order", {}, "a")
    b = await sub.new_case("order", {}, "b")
    c_ = await sub.new_case("order", {}, "c")
    for cid in (a, b, c_):
        await waiting(sub, cid)
    async with client(app(sub)) as c:
        r = await c.post(f"/api/cases/{a}/signal", json={"name": "paid", "payload": {"eur": 9}})
        assert r.status_code == 202
        assert r.json() == {"case_id": a, "status": "delivered"}
        assert (await sub.wait(a)).ctx["payment"] == {"eur": 9}
        r = await c.post(f"/api/cases/{b}/cancel")
        assert r.status_code == 202
        with pytest.raises(wf.CaseCancelled):
            await sub.wait(b)
        r = await c.post(f"/api/cases/{c_}/cancel_region", json={"region": "payment"})
        assert r.status_code == 202
        res = await sub.wait(c_)
        assert res.ctx == {"reserved": True, "refunded": True, "shipped": True}


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/api/cases/w/signal", {"name": "nope"}, 422, "nope"),
        ("/api/cases/w/signal", {"payload": 1}, 400, '"name"'),
        ("/api/cases/w/signal", {"name": ""}, 400, '"name"'),
        ("/api/cases/w/signal", {"name": "paid", "extra": 1}, 400, "extra"),
        ("/api/cases/ghost/signal", {"name": "paid"}, 404, "ghost"),
        ("/api/cases/done/signal", {"name": "paid"}, 409, "finished"),
        ("/api/cases/w/cancel", {"why": "x"}, 400, "why"),
        ("/api/cases/ghost/cancel", {}, 404, "ghost"),
        ("/api/cases/done/cancel", {}, 409, "finished"),
        ("/api/cases/w/cancel_region", {"region": "nowhere"}, 422, "nowhere"),
        ("/api/cases/w/cancel_region", {}, 400, '"region"'),
        ("/api/cases/done/cancel_region", {"region": "payment"}, 409, "finished"),
    ],
)
async def test_bad_requests_change_nothing(
    sub: wf.Substrate, path: str, body: dict[str, Any], status: int, words: str
) -> None:
    w = await sub.new_case("order", {}, "w")
    await waiting(sub, w)
    await sub.new_case("quick", {}, "done")
    before = (sub.events(w), sub.status(w).pending_signals, sub.status(w).inbox)
    async with client(app(sub)) as c:
        r = await c.post(path, json=body)
    assert r.status_code == status, r.text
    assert list(r.json()) == ["error"]
    assert words in r.json()["error"]
    await trio.testing.wait_all_tasks_blocked()
    assert (sub.events(w), sub.status(w).pending_signals, sub.status(w).inbox) == before
    assert sub.status(w).state == "waiting_signal"


async def test_wrong_method_and_unknown_path(sub: wf.Substrate) -> None:
    async with client(app(sub)) as c:
        r = await c.delete("/api/cases")
        assert r.status_code == 405
        assert "DELETE" in r.json()["error"]
        r = await c.get("/api/whatever")
        assert r.status_code == 404
        assert "error" in r.json()


# -- authentication ---------------------------------------------------------------


async def test_token_guards_every_mutating_call(sub: wf.Substrate) -> None:
    w = await sub.new_case("order", {}, "w")
    await waiting(sub, w)
    asgi = app(sub, token="s3cret")
    calls = [
        ("/api/cases", {"workflow": "quick"}),
        ("/api/cases/w/signal", {"name": "paid"}),
        ("/api/cases/w/cancel_region", {"region": "payment"}),
        ("/api/cases/w/cancel", {}),
    ]
    async with client(asgi) as c:
        assert (await c.get("/api/cases")).status_code == 200  # reading is open
        for path, body in calls:
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
                r = await c.post(path, json=body, headers=headers)
                assert r.status_code == 401, (path, headers)
                assert "token" in r.json()["error"]
        assert sub.case_ids() == ["w"]
        assert sub.status(w).state == "waiting_signal"
        ok = {"authorization": "Bearer s3cret"}
        assert (
            await c.post("/api/cases", json={"workflow": "quick"}, headers=ok)
        ).status_code == 201
        r = await c.post("/api/cases/w/signal", json={"name": "paid"}, headers=ok)
        assert r.status_code == 202
        assert (await sub.wait(w)).state == "done"


async def test_signal_tokens_allow_named_signals_only(registry: wf.Registry) -> None:
    registry.register("two", wf.par(wf.wait_signal("paid"), wf.wait_signal("shipped")))
    async with wf.open_substrate(registry=registry) as sub:
        cid = await sub.new_case("two", {}, "t")
        await waiting(sub, cid)
        asgi = app(sub, token="admin", signal_tokens={"hook": {"paid"}})
        hook = {"authorization": "Bearer hook"}
        async with client(asgi) as c:
            r = await c.post("/api/cases/t/signal", json={"name": "shipped"}, headers=hook)
            assert r.status_code == 403
            assert "shipped" in r.json()["error"]
            r = await c.post("/api/cases/t/cancel", headers=hook)
            assert r.status_code == 403
            r = await c.post("/api/cases", json={"workflow": "quick"}, headers=hook)
            assert r.status_code == 403
            assert sub.status(cid).pending_signals == {}
            assert sub.case_ids() == ["t"]
            r = await c.post("/api/cases/t/signal", json={"name": "paid"}, headers=hook)
            assert r.status_code == 202
            admin = {"authorization": "Bearer admin"}
            r = await c.post("/api/cases/t/signal", json={"name": "shipped"}, headers=admin)
            assert r.status_code == 202
        assert (await sub.wait(cid)).state == "done"


async def test_signal_tokens_alone_turn_authentication_on(sub: wf.Substrate) -> None:
    w = await sub.new_case("order", {}, "w")
    async with client(app(sub, signal_tokens={"hook": {"paid"}})) as c:
        assert (await c.post("/api/cases/w/cancel")).status_code == 401
        assert (await c.post("/api/cases/w/signal", json={"name": "paid"})).status_code == 401
    assert sub.status(w).state != "cancelled"


def test_bad_app_arguments() -> None:
    with pytest.raises(TypeError, match="Substrate"):
        app(42)
    with pytest.raises(wf.StoreError, match="no such store"):
        app("/nonexistent/cases.db")


async def test_bad_token_options(sub: wf.Substrate) -> None:
    from wftrio.errors import OptionError

    with pytest.raises(OptionError, match="token"):
        app(sub, token="")
    with pytest.raises(OptionError, match="signal_tokens"):
        app(sub, token="a", signal_tokens={"a": {"paid"}})
    with pytest.raises(OptionError, match="signal_tokens"):
        app(sub, signal_tokens={"h": "paid"})  # type: ignore[dict-item]


# -- the schema ---------------------------------------------------------------------


async def test_openapi_schema_covers_every_api_route(sub: wf.Substrate) -> None:
    asgi = app(sub)
    async with client(asgi) as c:
        schema = (await c.get("/api/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    served: set[tuple[str, str]] = set()
    for route in asgi.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/") and path != "/api/openapi.json":
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    served.add((path, method.lower()))
    documented = {
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post")
    }
    assert served == documented
    for path, method in documented:
        op = schema["paths"][path][method]
        assert op["summary"]
        assert op["responses"]
        if method == "post":
            assert "401" in op["responses"]
            assert {"bearer": []} in op["security"]


def test_import_wftrio_needs_no_web_framework() -> None:
    code = (
        "import sys, wftrio, wftrio.cli; "
        "assert 'starlette' not in sys.modules and 'hypercorn' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_status_reports_ctx_and_term(sub: wf.Substrate) -> None:
    term = order_term()
    cid = await sub.new_case(term, {"a": 1})
    await waiting(sub, cid)
    info = sub.status(cid)
    assert info.ctx == {"a": 1, "reserved": True}
    assert info.term is term
    info.ctx["a"] = 2  # a copy
    assert sub.status(cid).ctx["a"] == 1
    await sub.cancel(cid)
    with pytest.raises(wf.CaseCancelled):
        await sub.wait(cid)
    assert sub.status(cid).ctx == {"a": 1, "reserved": True}
    assert sub.status(cid).term is term  # a bare term is kept once finished
    named = await sub.new_case("quick", {})
    assert sub.status(named).term is sub.registry.get("quick").term


async def test_a_failed_case_says_why(registry: wf.Registry) -> None:
    def boom(ctx: Any) -> None:
        raise ValueError("the warehouse is on fire")

    registry.register("doomed", wf.seq(wf.task("reserve", lambda c: {}), wf.task("pick", boom)))
    async with wf.open_substrate(registry=registry) as sub:
        cid = await sub.new_case("doomed", {})
        async with client(app(sub)) as c:
            body = (await c.get(f"/api/cases/{cid}")).json()
            assert body["state"] == "failed"
            assert "the warehouse is on fire" in body["error"]
            graph = (await c.get(f"/api/cases/{cid}/graph")).json()
            progress = {n["label"]: n["progress"] for n in graph["nodes"]}
            assert progress["reserve"] == "done"
            assert progress["pick"] == "failed"
            rows = (await c.get("/api/cases", params={"state": "failed"})).json()
            assert [r["case_id"] for r in rows["cases"]] == [cid]


async def test_an_internal_error_is_answered_as_json(sub: wf.Substrate) -> None:
    from wftrio.web._source import LiveSource

    class Broken(LiveSource):
        def rows(self) -> list[Any]:
            raise RuntimeError("a bug")

    asgi = app(Broken(sub))
    transport = httpx.ASGITransport(app=asgi, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as c:
        r = await c.get("/api/cases")
    assert r.status_code == 500
    assert r.json() == {"error": "internal error: RuntimeError: a bug"}


# -- case ids that are not plain path segments ---------------------------------------


@pytest.mark.parametrize("cid", ["eu/order/7", "50%off", "a b?c#d", "%2F", "ünï"])
async def test_any_case_id_is_addressable_percent_encoded(sub: wf.Substrate, cid: str) -> None:
    from urllib.parse import quote

    await sub.new_case("order", {}, cid)
    await sub.new_case("order", {}, "other")  # a neighbour the id must not be confused with
    await waiting(sub, cid)
    await waiting(sub, "other")
    path = "/api/cases/" + quote(cid, safe="")
    async with client(app(sub)) as c:
        assert (await c.get(path)).json()["case_id"] == cid
        trace = (await c.get(path + "/trace")).json()
        assert trace["events"]
        assert {e["case_id"] for e in trace["events"]} == {cid}
        assert (await c.get(path + "/graph")).status_code == 200
        page = (await c.get("/cases/" + quote(cid, safe=""))).text
        assert f'data-api="{path}/signal"' in page  # the form posts to the encoded path
        r = await c.post(path + "/signal", json={"name": "paid", "payload": 5})
        assert r.status_code == 202, r.text
        await sub.wait_state(cid, "done")
        assert sub.status(cid).ctx["payment"] == 5
        assert sub.status("other").state is wf.CaseState.WAITING_SIGNAL  # untouched
        # the list links each case by its encoded id
        assert f'href="/cases/{quote(cid, safe="")}"' in (await c.get("/")).text
        # the unencoded form of an id with '/' is another path: a clear 404
        if "/" in cid:
            r = await c.get("/api/cases/" + cid)
            assert r.status_code == 404
            assert r.json()["error"]
