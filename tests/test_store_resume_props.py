"""Property: a durable case stopped at a random point and resumed (from its
latest snapshot, taken every 1, 2 or 3 bursts, or from the start) ends with
the same state, ctx and stored trace as an uninterrupted run.

Random terms from ``wftrio.testing`` (signals, effects, regions, mi, loops,
joins; no timers: their firing under a virtual clock races the store's
writer thread), on the real runtime and a real SQLite file, with trio's
``MockClock``.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import trio
import trio.testing
from hypothesis import event, given
from hypothesis import strategies as st

import wftrio as wf
from wftrio.testing import terms

TERMS = terms(max_leaves=10, effects=True, signals=True, timers=False)


class Driver:
    """Sends the signals the case waits for in turn (payloads 0, 1, 2, ...), one at a time."""

    def __init__(self) -> None:
        self.sent = 0

    async def drive(self, sub: wf.Substrate, cid: str, limit: int) -> bool:
        """Act up to ``limit`` times; True once the case has finished."""
        acted = 0
        while True:
            await trio.testing.wait_all_tasks_blocked()
            info = sub.status(cid)
            if info.state.final:
                return True
            if acted >= limit:
                return False
            if info.waiting_signals:
                # in turn: an mi adding an instance per `more_on` signal ends
                # only on its `close_on` one
                names = info.waiting_signals
                await sub.signal(cid, names[self.sent % len(names)], self.sent)
            else:  # pragma: no cover - waits for nothing it can be sent
                await sub.cancel(cid)
            self.sent += 1
            acted += 1


# idempotency keys (hashes of the causal root) and the times an event's data
# carries: an autojump clock may move on while the store's threads work
_UNSHAPED = frozenset({"key", "started", "ended", "requested_at", "deadline", "at"})


def shape(trace: list[wf.TraceEvent]) -> list[str]:
    """The trace without times, its random causal root replaced by ``ROOT`` (and
    the idempotency keys, hashes of it, left out)."""
    root = next(str(e.data["root"]) for e in trace if e.kind == "case_started")
    out = []
    for e in trace:
        data = json.dumps({k: v for k, v in e.data.items() if k not in _UNSHAPED}, sort_keys=True)
        out.append(repr((e.seq, e.kind, e.name, e.token, e.scope, data)).replace(root, "ROOT"))
    return out


async def outcome(sub: wf.Substrate, cid: str) -> tuple[str, dict[str, Any]]:
    try:
        result = await sub.wait(cid)
    except (wf.CaseFailed, wf.CaseCancelled) as exc:
        result = exc.result
    return result.state.value, result.ctx


def run_both(term: wf.Term, stop: int, every: int | None, seed: int | None) -> None:
    reg = wf.Registry()
    # the case is live at every stop point but the last: it ends on a signal
    reg.register("t", wf.seq(term, wf.wait_signal("end")))
    options: dict[str, Any] = {} if seed is None else {"scheduler": wf.Seeded(seed)}

    async def main(db: Path) -> None:
        ref_driver = Driver()
        async with wf.open_substrate(registry=reg) as sub:
            await sub.new_case("t", {}, case_id="c", **options)
            assert await ref_driver.drive(sub, "c", 500)
            ref_end = await outcome(sub, "c")
            ref_trace = sub.events("c")

        driver = Driver()
        store = wf.SQLiteStore(db, snapshot_every=every, clock=trio.current_time)
        async with wf.open_substrate(store=store, registry=reg) as sub:
            await sub.new_case("t", {}, case_id="c", **options)
            done = await driver.drive(sub, "c", stop)
            if done:
                end = await outcome(sub, "c")
        if not done:
            con = sqlite3.connect(db)
            snapped = con.execute("SELECT count(*) FROM snapshots").fetchone()[0]
            con.close()
            event("resumed from a snapshot" if snapped else "resumed from the start")
            store = wf.SQLiteStore(db, snapshot_every=every, clock=trio.current_time)
            async with wf.open_substrate(store=store, registry=reg) as sub:
                assert sub.unresumed == {}
                assert await driver.drive(sub, "c", 500)
                end = await outcome(sub, "c")
        assert end == ref_end
        assert driver.sent == ref_driver.sent
        con = sqlite3.connect(db)
        try:
            stored = [
                wf.TraceEvent(**json.loads(b))
                for (b,) in con.execute("SELECT body FROM events ORDER BY seq")
            ]
            assert con.execute("SELECT state FROM cases").fetchall() == [(ref_end[0],)]
        finally:
            con.close()
        assert shape(stored) == shape(ref_trace)

    with tempfile.TemporaryDirectory() as tmp:
        trio.run(main, Path(tmp) / "cases.db", clock=trio.testing.MockClock(autojump_threshold=0))


@given(
    term=TERMS,
    stop=st.integers(0, 4),
    every=st.sampled_from([1, 2, 3, None]),
    seed=st.one_of(st.none(), st.integers(0, 1000)),
)
def test_a_case_stopped_anywhere_resumes_to_the_same_end(
    term: wf.Term, stop: int, every: int | None, seed: int | None
) -> None:
    run_both(term, stop, every, seed)
