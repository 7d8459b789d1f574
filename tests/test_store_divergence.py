"""A resumed durable case whose replay leaves its stored history is not resumed.

The store is written by this build, then changed the way another build (or a
workflow changed under the same fingerprint) would have written it; opening
it again must fail that case with a ``ReplayDivergence`` in memory, note it
in ``sub.unresumed``, and leave the store exactly as it was, so the code
that ran the case can finish it.  Real SQLite files, real runtime.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

import wftrio as wf


def bump(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def noop(ctx: Any) -> dict[str, Any]:
    return {}


def wide_term() -> wf.Term:
    # 70 instances: the first 64 in mi_spawned, the last 6 in an mi_chunk event
    return wf.seq(
        wf.mi(wf.task("w", noop), count=70),
        wf.wait_signal("go", "go"),
        wf.task("b", bump),
    )


def order_term() -> wf.Term:
    return wf.seq(wf.task("a", bump), wf.wait_signal("go", "go"), wf.task("b", bump))


def registry(name: str, term: wf.Term) -> wf.Registry:
    reg = wf.Registry()
    reg.register(name, term, version=1)
    return reg


def dump(db: Path) -> tuple[list[Any], list[Any]]:
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT case_id, seq, body FROM events ORDER BY seq").fetchall()
        cases = conn.execute("SELECT case_id, state FROM cases").fetchall()
    finally:
        conn.close()
    return events, cases


def store(path: Path) -> wf.SQLiteStore:
    return wf.SQLiteStore(path, snapshot_every=None)  # every event is replayed


def repeat_last_event(db: Path) -> None:
    """Store the last event again after it: a history the replay never emits."""
    conn = sqlite3.connect(db)
    with conn:
        seq, body = conn.execute("SELECT seq, body FROM events ORDER BY seq DESC").fetchone()
        conn.execute(
            "INSERT INTO events (case_id, seq, body) VALUES ('c1', ?, ?)",
            (seq + 1, body.replace(f'"seq": {seq}', f'"seq": {seq + 1}', 1)),
        )
    conn.close()


async def stored_waiting(db: Path, reg: wf.Registry, name: str) -> None:
    async with wf.open_substrate(store=store(db), registry=reg) as sub:
        cid = await sub.new_case(name, {}, case_id="c1")
        await sub.wait_state(cid, "waiting_signal")


async def reopen_refuses(db: Path, reg: wf.Registry, match: str) -> None:
    before = dump(db)
    async with wf.open_substrate(store=store(db), registry=reg) as sub:
        with trio.fail_after(5), pytest.raises(wf.CaseFailed) as info:
            await sub.wait("c1")
        result = info.value.result
        assert result.state is wf.CaseState.FAILED
        assert isinstance(result.error, wf.ReplayDivergence)
        assert match in str(result.error)
        assert "stays unfinished in the store" in str(result.error)
        assert sub.unresumed["c1"] is result.error
    assert dump(db) == before  # nothing written: the case is still unfinished, as it was


async def test_an_older_trace_without_mi_chunk_events_is_not_resumed(tmp_path: Path) -> None:
    reg = registry("wide", wide_term())
    db = tmp_path / "cases.db"
    await stored_waiting(db, reg, "wide")
    # what a build recording no mi_chunk events stored: the same trace without
    # them, numbered without gaps
    conn = sqlite3.connect(db)
    with conn:
        rows = conn.execute("SELECT seq, body FROM events ORDER BY seq").fetchall()
        kept = [body for _, body in rows if '"mi_chunk"' not in body]
        assert len(kept) == len(rows) - 1
        conn.execute("DELETE FROM events")
        conn.executemany(
            "INSERT INTO events (case_id, seq, body) VALUES ('c1', ?, ?)",
            [
                (i, body.replace(f'"seq": {seq}', f'"seq": {i}', 1))
                for i, (seq, body) in enumerate(r for r in rows if '"mi_chunk"' not in r[1])
            ],
        )
    conn.close()
    await reopen_refuses(db, reg, "its replay emits mi_chunk")
    await reopen_refuses(db, reg, "its replay emits mi_chunk")  # still there, still refused


async def test_the_untouched_store_of_the_same_trace_resumes(tmp_path: Path) -> None:
    # the control of the test above: the check refuses only a changed history
    reg = registry("wide", wide_term())
    db = tmp_path / "cases.db"
    await stored_waiting(db, reg, "wide")
    async with wf.open_substrate(store=store(db), registry=reg) as sub:
        assert sub.unresumed == {}
        await sub.wait_state("c1", "waiting_signal")
        await sub.signal("c1", "go", 1)
        result = await sub.wait("c1")
    assert result.state is wf.CaseState.DONE
    assert result.ctx["n"] == 1


async def test_a_stored_event_of_another_kind_is_a_divergence(tmp_path: Path) -> None:
    reg = registry("order", order_term())
    db = tmp_path / "cases.db"
    await stored_waiting(db, reg, "order")
    conn = sqlite3.connect(db)
    with conn:
        seq, body = conn.execute(
            "SELECT seq, body FROM events WHERE body LIKE '%\"task_completed\"%'"
        ).fetchone()
        conn.execute(
            "UPDATE events SET body = ? WHERE seq = ?",
            (body.replace('"name": "a"', '"name": "renamed"'), seq),
        )
    conn.close()
    await reopen_refuses(db, reg, "where the store holds task_completed 'renamed'")


async def test_a_replay_that_waits_short_of_the_stored_events_is_a_divergence(
    tmp_path: Path,
) -> None:
    # the store holds events the replay never emits: waiting for the signal
    # with nothing running, it would wait forever (and hold every request)
    reg = registry("order", order_term())
    db = tmp_path / "cases.db"
    await stored_waiting(db, reg, "order")
    repeat_last_event(db)
    await reopen_refuses(db, reg, "its replay waits after")


async def returns_a_set(ctx: Any) -> dict[str, Any]:
    await trio.lowlevel.checkpoint()
    return {"s": {1, 2}}  # not JSON


async def test_an_unstorable_effect_result_before_a_wait_fails_the_case(tmp_path: Path) -> None:
    # its burst is committed as the case starts waiting: the failure must end
    # the case there, not leave it waiting for a signal it can no longer take
    term = wf.seq(wf.task("e", returns_a_set), wf.wait_signal("go", "go"))
    reg = registry("bad", term)
    async with wf.open_substrate(store=store(tmp_path / "c.db"), registry=reg) as sub:
        cid = await sub.new_case("bad", {}, case_id="c1")
        with trio.fail_after(5), pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
    assert isinstance(info.value.cause, wf.UnstorableValue)


async def stored_finished_but_unmarked(db: Path, reg: wf.Registry) -> None:
    """A case whose last burst was stored, but not its final row (the process stopped)."""
    async with wf.open_substrate(store=store(db), registry=reg) as sub:
        cid = await sub.new_case("order", {}, case_id="c1")
        await sub.wait_state(cid, "waiting_signal")
        await sub.signal(cid, "go", 1)
        await sub.wait(cid)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE cases SET state = NULL")
    conn.close()


async def test_a_replay_ending_with_the_stored_final_state_event_is_not_a_divergence(
    tmp_path: Path,
) -> None:
    reg = registry("order", order_term())
    db = tmp_path / "cases.db"
    await stored_finished_but_unmarked(db, reg)
    async with wf.open_substrate(store=store(db), registry=reg) as sub:
        result = await sub.wait("c1")
        assert sub.unresumed == {}
    assert result.state is wf.CaseState.DONE
    assert dump(db)[1] == [("c1", "done")]


async def test_a_replay_ending_the_case_short_of_the_stored_events_is_a_divergence(
    tmp_path: Path,
) -> None:
    reg = registry("order", order_term())
    db = tmp_path / "cases.db"
    await stored_finished_but_unmarked(db, reg)
    repeat_last_event(db)
    await reopen_refuses(db, reg, "its replay ends the case after")


async def test_a_durable_case_keeps_its_trace_level(tmp_path: Path) -> None:
    # repro: changed live to "min", the case stored fewer events than its
    # replay (at its stored level, "full") emits: it could not resume
    reg = registry("order", order_term())
    db = tmp_path / "cases.db"
    seen: list[str] = []
    async with wf.open_substrate(store=store(db), registry=reg) as sub:
        cid = await sub.new_case("order", {}, case_id="c1")
        await sub.wait_state(cid, "waiting_signal")
        with pytest.raises(wf.OptionError, match="durable"):
            sub.trace(cid, "min")
        sub.trace(cid, "full", sink=lambda ev: seen.append(ev.kind))  # a sink: fine
        await sub.signal(cid, "go", 1)
        assert (await sub.wait(cid)).state is wf.CaseState.DONE
    assert "task_completed" in seen  # still traced in full
    async with wf.open_substrate(registry=reg) as sub:  # in memory: any level, any time
        cid = await sub.new_case("order", {}, case_id="m1")
        await sub.wait_state(cid, "waiting_signal")
        sub.trace(cid, "min")
