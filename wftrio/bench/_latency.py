"""Figures 11 and 11b: what one small case costs end to end.

Figure 11 times ``new_case`` + ``wait`` of a case of one pure task on an
open substrate (its defaults: trace level full, validation cached per
Program), against the same hand-written in trio: a task started in a
long-lived nursery calls the same function, merges its dict and sets a
``trio.Event`` the caller waits on.  Figure 11b times ``wf.run`` of that
workflow against ``trio.run`` of a coroutine that does nothing: the
overhead of a one-shot run over trio's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

import trio

from wftrio.bench._report import figure
from wftrio.bench._timing import SHORT_SAMPLES, best_of, best_of_async, ratio
from wftrio.bench._workloads import FNS, check, ctx0
from wftrio.runtime import Substrate, open_substrate
from wftrio.runtime import run as wf_run
from wftrio.terms import Term, task

__all__ = ["bench_run_overhead", "bench_small_case", "one_task_term", "small_case_runs"]


def one_task_term() -> Term:
    """The measured workflow: one pure task (``k0 += 1``)."""
    return task("t", FNS[0])


Run = Callable[[], Awaitable[Mapping[str, Any]]]


def small_case_runs(sub: Substrate, nursery: trio.Nursery, k: int) -> tuple[Run, Run]:
    """Figure 11's two sides, each returning the last ctx.

    ``k`` one-task cases on ``sub`` (forgotten after), and ``k`` hand-written
    trio tasks started in ``nursery``, each merging the same function's dict
    and setting an Event the caller awaits.  ``tools/opcount.py`` counts
    the same two.
    """
    term = one_task_term()
    ctx = ctx0()
    fn = FNS[0]

    async def cases() -> Mapping[str, Any]:
        ids = []
        for _ in range(k):
            cid = await sub.new_case(term, ctx)
            res = await sub.wait(cid)
            ids.append(cid)
        for cid in ids:
            sub.forget(cid)
        return res.ctx

    async def body(data: dict[str, Any], done: trio.Event) -> None:
        data.update(fn(MappingProxyType(data)))
        done.set()

    async def by_hand() -> Mapping[str, Any]:
        for _ in range(k):
            data = dict(ctx)
            done = trio.Event()
            nursery.start_soon(body, data, done)
            await done.wait()
        return data

    return cases, by_hand


async def _small_cases(k: int, repeat: int) -> tuple[float, float]:
    async with open_substrate() as sub, trio.open_nursery() as nursery:
        cases, by_hand = small_case_runs(sub, nursery, k)
        check(dict(await cases()) == await by_hand(), "the case and the trio task disagree")
        fns: list[Callable[[], Awaitable[object]]] = [cases, by_hand]
        t_case, t_hand = await best_of_async(fns, repeat)
    return t_case, t_hand


def bench_small_case(k: int, repeat: int) -> dict[str, Any]:
    """Figure 11: ``new_case`` + ``wait`` of a one-task case vs a trio task + Event."""
    samples = repeat * SHORT_SAMPLES
    t_case, t_hand = trio.run(_small_cases, k, samples)
    return figure(
        "new_case + wait of a one-task case / trio task + Event calling the same function",
        t_case / k * 1e6,
        t_hand / k * 1e6,
        "us/case",
        "<= 2",
        ratio(t_case, t_hand) <= 2,
        cases=k,
        samples=samples,
        engine_s=t_case,
        baseline_s=t_hand,
    )


async def _noop() -> None:
    pass


def bench_run_overhead(repeat: int) -> dict[str, Any]:
    """Figure 11b: ``wf.run`` of a one-task workflow vs ``trio.run`` of a no-op."""
    term = one_task_term()
    ctx = ctx0()
    check(wf_run(term, ctx).ctx["k0"] == 1, "wf.run did not run the task")
    t_wf, t_trio = best_of([lambda: wf_run(term, ctx), lambda: trio.run(_noop)], repeat * 4)
    return figure(
        "wf.run of a one-task workflow / trio.run of a no-op",
        t_wf * 1e6,
        t_trio * 1e6,
        "us/run",
        "<= 1.5",
        ratio(t_wf, t_trio) <= 1.5,
        differs="the no-op calls no task function and holds no case",
        wf_run_s=t_wf,
        trio_run_s=t_trio,
    )
