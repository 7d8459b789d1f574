"""Durable cases on ``wf.SQLiteStore``: closing a substrate and opening a new
one on the same file resumes its unfinished cases (real loop, real reducer,
a real SQLite file under ``tmp_path``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio

import wftrio as wf
from wftrio.errors import OptionError


def bump(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def take_go(ctx: Any) -> dict[str, Any]:
    return {"got": ctx.get("go")}


def order_term() -> wf.Term:
    return wf.seq(
        wf.task("a", bump),
        wf.wait_signal("go", "go"),
        wf.task("b", take_go),
        wf.task("c", bump),
    )


def registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("order", order_term(), version=1)
    return reg


def completions(trace: list[wf.TraceEvent]) -> list[str | None]:
    return [e.name for e in trace if e.kind == "task_completed"]


async def uninterrupted(reg: wf.Registry, ctx: dict[str, Any], payload: Any) -> wf.CaseResult:
    async with wf.open_substrate(registry=reg) as sub:
        cid = await sub.new_case("order", ctx, case_id="ref")
        await sub.wait_state(cid, "waiting_signal")
        await sub.signal(cid, "go", payload)
        return await sub.wait(cid)


async def test_waiting_case_survives_close_and_completes_like_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    reg = registry()
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        cid = await sub.new_case("order", {"x": 1}, case_id="o1")
        await sub.wait_state(cid, "waiting_signal")
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert sub.unresumed == {}
        assert sub.case_ids() == ["o1"]
        await sub.wait_state("o1", "waiting_signal")
        await sub.signal("o1", "go", {"paid": 42})
        result = await sub.wait("o1")
    ref = await uninterrupted(reg, {"x": 1}, {"paid": 42})
    assert result.state is wf.CaseState.DONE
    assert result.ctx == ref.ctx == {"x": 1, "n": 2, "go": {"paid": 42}, "got": {"paid": 42}}
    assert completions(result.trace) == completions(ref.trace) == ["a", "b", "c"]
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert sub.case_ids() == []  # a finished case is not resumed


@pytest.mark.parametrize("how", ["sub.signal", "committed, not fed"])
async def test_signal_acknowledged_before_close_is_delivered_exactly_once(
    tmp_path: Path, how: str
) -> None:
    reg = registry()
    db = tmp_path / "cases.db"
    store = wf.SQLiteStore(db)
    async with wf.open_substrate(store=store, registry=reg) as sub:
        cid = await sub.new_case("order", {}, case_id="o1")
        await sub.wait_state(cid, "waiting_signal")
        if how == "sub.signal":
            # the block exits as soon as the signal is acknowledged: the case
            # may or may not have taken it by then
            await sub.signal(cid, "go", 7)
        else:
            # the window a crash can hit: committed, never fed to the case
            await store.request(cid, "signal", "go", 7, False)
    if how != "sub.signal":
        assert sqlite3.connect(db).execute("SELECT consumed FROM requests").fetchall() == [(0,)]
    async with wf.open_substrate(path=db, registry=reg) as sub:
        if sub.case_ids():  # else it had finished before the close
            assert (await sub.wait("o1")).ctx["got"] == 7
    con = sqlite3.connect(db)
    assert con.execute("SELECT state FROM cases").fetchall() == [("done",)]
    assert con.execute("SELECT consumed FROM requests").fetchall() == [(1,)]
    bodies = [json.loads(b) for (b,) in con.execute("SELECT body FROM events ORDER BY seq")]
    assert [b["data"]["payload"] for b in bodies if b["kind"] == "signal_received"] == [7]
    assert [b["name"] for b in bodies if b["kind"] == "task_completed"] == ["a", "b", "c"]


async def test_a_consumed_signal_is_not_delivered_again(tmp_path: Path) -> None:
    reg = wf.Registry()
    reg.register(
        "two",
        wf.seq(
            wf.wait_signal("go", "go"),
            wf.task("a", bump),
            wf.wait_signal("go", "go"),
            wf.task("b", bump),
        ),
    )
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        cid = await sub.new_case("two", {}, case_id="t1")
        await sub.signal(cid, "go", 1)
        await sub.wait_state(cid, "waiting_signal")
        assert sub.status(cid).steps > 1  # the first wait consumed it
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.wait_state("t1", "waiting_signal")
        assert sub.status("t1").pending_signals == {}
        await sub.signal("t1", "go", 2)
        result = await sub.wait("t1")
    assert result.ctx == {"go": 2, "n": 2}
    assert [e.data["payload"] for e in result.trace if e.kind == "signal_received"] == [1, 2]


async def test_completed_effect_not_rerun_in_flight_effect_rerun_with_same_key(
    tmp_path: Path,
) -> None:
    calls: dict[str, list[str]] = {"pay": [], "ship": []}
    release = trio.Event()
    shipping = trio.Event()

    async def pay(ctx: Any) -> dict[str, Any]:
        calls["pay"].append(wf.current_effect().key)
        return {"paid": True}

    async def ship(ctx: Any) -> dict[str, Any]:
        calls["ship"].append(wf.current_effect().key)
        shipping.set()
        await release.wait()
        return {"shipped": True}

    reg = wf.Registry()
    reg.register("fx", wf.seq(wf.task("pay", pay), wf.task("ship", ship)))
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.new_case("fx", {}, case_id="f1")
        await shipping.wait()  # ship is in flight when the substrate closes
    assert len(calls["pay"]) == 1
    assert len(calls["ship"]) == 1
    release.set()
    async with wf.open_substrate(path=db, registry=reg) as sub:
        result = await sub.wait("f1")
    assert result.state is wf.CaseState.DONE
    assert result.ctx == {"paid": True, "shipped": True}
    assert len(calls["pay"]) == 1  # its receipt was committed: never run again
    assert len(calls["ship"]) == 2
    assert calls["ship"][0] == calls["ship"][1]  # the same idempotency key


@pytest.mark.parametrize("how", ["sub.cancel", "committed, not fed"])
async def test_cancel_request_is_committed_and_survives_close(tmp_path: Path, how: str) -> None:
    reg = registry()
    db = tmp_path / "cases.db"
    store = wf.SQLiteStore(db)
    async with wf.open_substrate(store=store, registry=reg) as sub:
        cid = await sub.new_case("order", {}, case_id="o1")
        await sub.wait_state(cid, "waiting_signal")
        if how == "sub.cancel":
            await sub.cancel(cid)
        else:
            await store.request(cid, "cancel", None, None, False)
    con = sqlite3.connect(db)
    assert con.execute("SELECT kind FROM requests").fetchall() == [("cancel",)]
    async with wf.open_substrate(path=db, registry=reg) as sub:
        if sub.case_ids():  # else it had ended before the close
            with pytest.raises(wf.CaseCancelled):
                await sub.wait("o1")
    assert con.execute("SELECT state, consumed FROM cases, requests").fetchall() == [
        ("cancelled", 1)
    ]


async def test_cancel_region_request_is_delivered_after_resume(tmp_path: Path) -> None:
    reg = wf.Registry()
    reg.register(
        "reg",
        wf.seq(
            wf.region("r", wf.wait_signal("never")),
            wf.wait_signal("go", "go"),
            wf.task("a", bump),
        ),
    )
    db = tmp_path / "cases.db"
    store = wf.SQLiteStore(db)
    async with wf.open_substrate(store=store, registry=reg) as sub:
        cid = await sub.new_case("reg", {}, case_id="r1")
        await sub.wait_state(cid, "waiting_signal")
        await store.request(cid, "cancel_region", "r", None, False)
    async with wf.open_substrate(path=db, registry=reg) as sub:
        await sub.signal("r1", "go", 1)  # consumed only once the region is cancelled
        result = await sub.wait("r1")
    assert result.ctx == {"go": 1, "n": 1}
    assert [e.name for e in result.trace if e.kind == "region_cancelled"] == ["r"]


async def test_second_open_of_one_file_fails_with_store_locked(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry()):
        with pytest.raises(wf.StoreLocked, match="owned by another substrate"):
            async with wf.open_substrate(store=wf.SQLiteStore(db)):
                pass  # pragma: no cover
    async with wf.open_substrate(path=db, registry=registry()):
        pass  # released at close


async def test_unregistered_term_non_json_ctx_and_untraced_case_are_refused(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=registry()) as sub:
        with pytest.raises(wf.UnregisteredTerm, match="by name"):
            await sub.new_case(order_term(), {}, case_id="bare")
        with pytest.raises(wf.UnstorableValue, match="ctx"):
            await sub.new_case("order", {"when": object()}, case_id="obj")
        with pytest.raises(OptionError, match="trace_level='none'"):
            await sub.new_case("order", {}, case_id="quiet", trace_level="none")
        assert sub.case_ids() == []
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM cases").fetchall() == [(0,)]


async def test_memory_store_is_the_default_and_keeps_nothing(tmp_path: Path) -> None:
    reg = registry()
    async with wf.open_substrate(registry=reg) as sub:
        assert isinstance(sub.store, wf.MemoryStore)
        await sub.new_case(order_term(), {}, case_id="bare")  # any term on memory
    with pytest.raises(OptionError, match="not both"):
        wf.open_substrate(path=tmp_path / "x.db", store=wf.MemoryStore())


async def test_version_mismatch_and_corrupt_rows_fail_only_that_case(tmp_path: Path) -> None:
    reg = registry()
    reg.register("other", wf.seq(wf.wait_signal("go"), wf.task("a", bump)))
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        for cid, name in (("o1", "order"), ("o2", "other"), ("o3", "order")):
            await sub.new_case(name, {}, case_id=cid)
            await sub.wait_state(cid, "waiting_signal")
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE events SET body = 'not json' WHERE case_id = 'o3' AND seq = 1")
    con.close()
    changed = wf.Registry()
    changed.register("order", order_term(), version=1)
    changed.register("other", wf.seq(wf.wait_signal("go"), wf.task("a2", bump)))  # changed
    async with wf.open_substrate(path=db, registry=changed) as sub:
        assert set(sub.unresumed) == {"o2", "o3"}
        assert isinstance(sub.unresumed["o2"], wf.WorkflowVersionMismatch)
        assert isinstance(sub.unresumed["o3"], wf.StoreCorrupt)
        assert sub.case_ids() == ["o1"]
        await sub.signal("o1", "go", 1)
        assert (await sub.wait("o1")).state is wf.CaseState.DONE
    async with wf.open_substrate(path=db, registry=wf.Registry()) as sub:
        assert isinstance(sub.unresumed["o2"], wf.UnknownWorkflow)


WORKER = """
import json, sys
import trio
import wftrio as wf

db, keys_path, phase = sys.argv[1], sys.argv[2], sys.argv[3]


def log(name):
    with open(keys_path, "a") as f:
        f.write(json.dumps([name, wf.current_effect().case_id, wf.current_effect().key]) + "\\n")


async def pay(ctx):
    log("pay")
    await trio.sleep(0)
    return {"paid": ctx["i"] * 10}


async def ship(ctx):
    log("ship")
    await trio.sleep(0)
    return {"shipped": ctx["go"]}


reg = wf.Registry()
reg.register(
    "job", wf.seq(wf.task("pay", pay), wf.wait_signal("go", "go"), wf.task("ship", ship))
)
CASES = [f"c{i}" for i in range(20)]


async def first():
    async with wf.open_substrate(path=db, registry=reg) as sub:
        for i, cid in enumerate(CASES):
            await sub.new_case("job", {"i": i}, case_id=cid)
        for cid in CASES:
            await sub.wait_state(cid, "waiting_signal")
        for i, cid in enumerate(CASES[::2]):
            await sub.signal(cid, "go", i)  # committed, with every burst queued before it
        print("ready", flush=True)
        await trio.sleep_forever()


async def second():
    out = {}
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert sub.unresumed == {}, sub.unresumed
        for cid in CASES[1::2]:
            await sub.signal(cid, "go", "late")
        for cid in sub.case_ids():
            r = await sub.wait(cid)
            out[cid] = r.ctx
    print(json.dumps(out), flush=True)


trio.run(first if phase == "first" else second)
"""


def test_sigkilled_process_resumes_in_a_new_one(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    db, keys = tmp_path / "cases.db", tmp_path / "keys.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    args = [sys.executable, str(script), str(db), str(keys)]
    with subprocess.Popen([*args, "first"], stdout=subprocess.PIPE, text=True, env=env) as p:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGKILL)
    assert p.returncode == -signal.SIGKILL
    done = subprocess.run([*args, "second"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    ctxs = json.loads(done.stdout)
    con = sqlite3.connect(db)
    assert con.execute("SELECT DISTINCT state FROM cases").fetchall() == [("done",)]
    for i in range(20):
        cid = f"c{i}"
        names = [
            json.loads(b)["name"]
            for (b,) in con.execute(
                "SELECT body FROM events WHERE case_id = ? ORDER BY seq", (cid,)
            )
            if json.loads(b)["kind"] in ("task_completed", "signal_received")
        ]
        assert names == ["pay", "go", "ship"], cid
        go = i // 2 if i % 2 == 0 else "late"
        if cid in ctxs:  # resumed (else it had finished before the kill)
            assert ctxs[cid] == {"i": i, "paid": i * 10, "go": go, "shipped": go}
    logged = [json.loads(line) for line in keys.read_text().splitlines()]
    for cid in (f"c{i}" for i in range(20)):
        pays = [k for name, c, k in logged if c == cid and name == "pay"]
        ships = {k for name, c, k in logged if c == cid and name == "ship"}
        assert len(pays) == 1, cid  # committed before the kill: never run again
        assert len(ships) == 1, cid  # re-runs (if any) reuse the key
