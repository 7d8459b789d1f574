"""Helpers for tests that drive the pure reducer directly (no runtime, no trio)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import wftrio as wf
from wftrio.engine import (
    CancelEffect,
    CancelTimer,
    ExecState,
    StartEffect,
    StartTimer,
    Status,
)


def start(term: wf.Term, ctx: Mapping[str, Any] | None = None, **kw: Any) -> ExecState:
    """A fresh ExecState for ``term`` (not yet run)."""
    return ExecState(wf.compile(term), ctx, **kw)


def run(term: wf.Term, ctx: Mapping[str, Any] | None = None, **kw: Any) -> ExecState:
    """Run ``term`` until it finishes or blocks; return the state."""
    st = start(term, ctx, **kw)
    st.run()
    return st


def completed(st: ExecState) -> list[str]:
    """Names of the tasks completed so far, in order (level full)."""
    return [str(e.name) for e in st.events if e.kind == "task_completed"]


def kinds(st: ExecState) -> list[str]:
    return [e.kind for e in st.events]


def noop(name: str) -> wf.Term:
    return wf.task(name, lambda ctx: None)


def put(name: str, **updates: Any) -> wf.Term:
    return wf.task(name, lambda ctx: dict(updates))


def inc(name: str, key: str = "n") -> wf.Term:
    return wf.task(name, lambda ctx: {key: ctx.get(key, 0) + 1})


def effect(name: str, result: Mapping[str, Any] | None = None) -> wf.Term:
    async def fn(ctx: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return result

    fn.__qualname__ = f"effect_{name}"
    return wf.task(name, fn)


def outbox_of(st: ExecState, kind: type) -> list[Any]:
    return [c for c in st.outbox if isinstance(c, kind)]


def run_effect(cmd: StartEffect) -> Any:
    """Run an effect coroutine that never suspends; return its result."""
    coro = cmd.fn(cmd.ctx)
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError(f"effect {cmd.name} suspended")


def drive(
    st: ExecState,
    rng: random.Random | None = None,
    on_command: Callable[[ExecState, list[Any]], None] | None = None,
) -> Status:
    """Run ``st`` to the end, completing effects and firing timers.

    Pending effects/timers are completed in a random order drawn from
    ``rng`` (oldest first without one).  ``on_command`` sees the pending
    list before each completion.
    """
    pending: list[Any] = []
    while True:
        status = st.run()
        for cmd in st.take_outbox():
            if isinstance(cmd, StartEffect | StartTimer):
                pending.append(cmd)
            elif isinstance(cmd, CancelEffect):
                pending = [
                    p for p in pending if not (isinstance(p, StartEffect) and p.eid == cmd.eid)
                ]
            elif isinstance(cmd, CancelTimer):
                pending = [
                    p for p in pending if not (isinstance(p, StartTimer) and p.tid == cmd.tid)
                ]
        if status is not Status.BLOCKED or not pending:
            return status
        if on_command is not None:
            on_command(st, pending)
        cmd = pending.pop(rng.randrange(len(pending)) if rng is not None else 0)
        if isinstance(cmd, StartEffect):
            st.feed_effect(cmd.eid, run_effect(cmd))
        else:
            st.fire_timer(cmd.tid)
