"""Idempotency keys derived when first needed are the keys computed eagerly (issue 12, figure 9).

The runtime sets ``ExecState.defer_keys``: its ``StartEffect`` commands carry
``key=None`` and the key is derived from the causal id where it is read (the
effect's context, a retry, a receipt, ``pending_commands``).  Every reader
gets ``idempotency_key(causal_id)``, as from a state that computes it at the
request; a state without the option (every other host) still gets it in the
command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
import trio.lowlevel
import trio.testing

import wftrio as wf
from wftrio.effects import current_effect, idempotency_key
from wftrio.engine import ExecState, StartEffect, Status, pending_commands
from wftrio.receipts import receipts
from wftrio.runtime import open_substrate

Ctx = Mapping[str, Any]


async def _ok(ctx: Ctx) -> dict[str, Any]:
    return {"ok": 1}  # never awaited: the tests feed outcomes themselves


def _term() -> wf.Term:
    return wf.par(
        wf.task("a", _ok),
        wf.task("b", _ok, on_error=wf.task("fix", lambda c: {"f": 1})),
        wf.task("c", _ok, retry=wf.Retry(attempts=3)),
        wf.region("R", wf.task("d", _ok)),
        wf.task("e", lambda c: wf.Effect("mail", {"to": "x"})),
    )


def _drive(defer: bool) -> tuple[ExecState, list[StartEffect]]:
    """Run the term with ``defer_keys`` set or not, feeding the same outcomes."""
    st = ExecState(wf.compile(_term()), {"k": 1}, trace_level="full")
    st.defer_keys = defer
    st.run()
    cmds = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
    by = {c.name: c for c in cmds}
    st.feed_effect(by["a"].eid, {"x": 1}, started=0.0, ended=0.5)
    st.feed_effect(by["b"].eid, None, error=ValueError("no"), attempts=1)
    st.feed_effect_retry(by["c"].eid, 1, OSError("down"), 0.0)
    st.feed_effect(by["c"].eid, {"y": 2}, attempts=2)
    st.feed_effect(by["e"].eid, {"mailed": True})
    st.run()
    assert st.cancel_region("R") == 1  # withdraws d: a cancelled receipt
    st.run()
    return st, cmds


def test_deferred_keys_give_the_same_trace_and_receipts_as_eager_ones() -> None:
    eager, eager_cmds = _drive(False)
    lazy, lazy_cmds = _drive(True)
    assert eager.status is lazy.status is Status.DONE
    assert [c.key for c in eager_cmds] == [idempotency_key(c.causal_id) for c in eager_cmds]
    assert [c.key for c in lazy_cmds] == [None] * len(lazy_cmds)
    assert [c._replace(key=None) for c in eager_cmds] == lazy_cmds  # nothing else differs
    assert lazy.events == eager.events
    got = receipts(lazy.events, steps=False)
    assert {r.task: r.outcome for r in got} == {
        "a": "ok",
        "b": "error",
        "c": "ok",
        "d": "cancelled",
        "e": "ok",
    }
    assert all(r.key == idempotency_key(r.causal_id) for r in got)
    assert got == receipts(eager.events, steps=False)


def test_pending_commands_of_a_deferring_state_carry_the_key() -> None:
    st = ExecState(wf.compile(wf.par(wf.task("a", _ok), wf.task("b", _ok))), trace_level="min")
    st.defer_keys = True
    st.run()
    assert [c.key for c in st.take_outbox() if isinstance(c, StartEffect)] == [None, None]
    again = [c for c in pending_commands(st) if isinstance(c, StartEffect)]
    assert [c.key for c in again] == [idempotency_key(c.causal_id) for c in again]
    assert all(c.key for c in again)


async def test_every_attempt_and_the_receipt_see_the_derived_key(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: dict[str, list[tuple[str, str | None]]] = {}

    def fx(name: str, fail: int, scoped: bool = False) -> Any:
        async def run(ctx: Ctx) -> dict[str, Any]:
            e = current_effect()
            seen.setdefault(name, []).append((e.causal_id, e.key))
            await trio.lowlevel.checkpoint()
            if len(seen[name]) <= fail:
                raise OSError("down")
            return {name: e.key}

        return run

    term = wf.par(
        wf.task("fast", fx("fast", 0)),  # the runtime's inline effect task
        wf.task("retried", fx("retried", 2), retry=wf.Retry(attempts=3, backoff=0.0)),
        wf.region("R", wf.task("scoped", fx("scoped", 0))),
        wf.task("timed", fx("timed", 0), timeout=5.0),
    )
    async with open_substrate(trace_level="min") as sub:
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
    assert res.state is wf.CaseState.DONE
    got = {r.task: r for r in receipts(res.trace, steps=False)}
    assert set(got) == set(seen) == {"fast", "retried", "scoped", "timed"}
    for name, calls in seen.items():
        r = got[name]
        assert r.key == idempotency_key(r.causal_id)
        assert calls == [(r.causal_id, r.key)] * len(calls)
        assert res.ctx[name] == r.key
    assert len(seen["retried"]) == 3
