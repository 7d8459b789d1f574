"""Figures 7, 12 and 12b: many concurrent cases waiting on a signal, on the real runtime.

:func:`measure_waiting_cases` measures memory per waiting case next to a
bare trio task blocked on a ``trio.Event`` (target: no more than 2x such a
task), and signal throughput.  Cases run at the substrate's default trace
level unless told otherwise.  Figures 12 and 12b start 1,000, 10,000 (and
with ``--full`` 100,000) such cases and compare memory per case and time
per start across the sizes.
"""

from __future__ import annotations

import functools
import gc
import math
import time
import tracemalloc
from functools import partial
from typing import Any

import trio
import trio.testing

from wftrio.bench._report import figure
from wftrio.bench._timing import SHORT_SAMPLES, ratio
from wftrio.runtime import open_substrate
from wftrio.terms import Term, seq, task, wait_signal

__all__ = [
    "bench_waiting_cases",
    "bench_waiting_scale_memory",
    "bench_waiting_scale_start",
    "measure_waiting_cases",
    "waiting_case_term",
]


def _done(ctx: Any) -> dict[str, Any]:
    return {"done": True}


def waiting_case_term() -> Term:
    """The measured workflow: wait for signal ``"go"``, then one pure task."""
    return seq(wait_signal("go", store_as="payload"), task("done", _done))


async def _bare_tasks(n: int) -> int:
    """Bytes allocated for ``n`` tasks blocked on an Event (tracemalloc on)."""
    events = [trio.Event() for _ in range(n)]
    async with trio.open_nursery() as nursery:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for ev in events:
            nursery.start_soon(ev.wait)
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
        for ev in events:
            ev.set()
    return used


async def _cases(
    n: int, *, traced_memory: bool, trace_level: str | None = None
) -> dict[str, float]:
    term = waiting_case_term()
    out: dict[str, float] = {}
    opts: dict[str, Any] = {} if trace_level is None else {"trace_level": trace_level}
    async with open_substrate(retain_finished=None, **opts) as sub:
        # warm up: compile the term, create the substrate's lazy structures
        warm = await sub.new_case(term)
        await sub.signal(warm, "go")
        await sub.wait(warm)
        sub.forget(warm)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0] if traced_memory else 0
        t0 = time.perf_counter()
        ids = [await sub.new_case(term, case_id=f"c{i}") for i in range(n)]
        await trio.testing.wait_all_tasks_blocked()
        t1 = time.perf_counter()
        if traced_memory:
            gc.collect()
            out["bytes"] = tracemalloc.get_traced_memory()[0] - before
        t2 = time.perf_counter()
        for i, cid in enumerate(ids):
            await sub.signal(cid, "go", i)
        for cid in ids:
            await sub.wait(cid)
        t3 = time.perf_counter()
        out["start_seconds"] = t1 - t0
        out["signal_seconds"] = t3 - t2
    return out


def measure_waiting_cases(n: int = 10_000, *, trace_level: str | None = None) -> dict[str, Any]:
    """Measure ``n`` concurrent cases each waiting on a signal, then completing.

    The cases run at ``trace_level`` (default: the substrate's default, ``"full"``).

    Two runs: one under ``tracemalloc`` for memory (bytes allocated while
    the cases wait, divided by ``n``, next to ``n`` bare trio tasks blocked
    on a ``trio.Event`` measured the same way), one without it for speed
    (cases started per second; signals sent and cases completed per second,
    from the first ``signal`` to the last ``wait``).

    Returns:
        a dict: ``cases``, ``bytes_per_case``, ``bytes_per_bare_task``,
        ``memory_ratio`` (case / bare task; the target is <= 2),
        ``cases_started_per_sec``, ``signals_per_sec``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")

    async def memory() -> tuple[int, dict[str, float]]:
        bare = await _bare_tasks(n)
        cases = await _cases(n, traced_memory=True, trace_level=trace_level)
        return bare, cases

    tracemalloc.start()
    try:
        bare, mem = trio.run(memory)
    finally:
        tracemalloc.stop()
    speed = trio.run(partial(_cases, n, traced_memory=False, trace_level=trace_level))
    per_case = mem["bytes"] / n
    per_bare = bare / n
    return {
        "cases": n,
        "bytes_per_case": round(per_case, 1),
        "bytes_per_bare_task": round(per_bare, 1),
        "memory_ratio": round(ratio(per_case, per_bare), 3),
        "cases_started_per_sec": round(n / speed["start_seconds"], 1),
        "signals_per_sec": round(n / speed["signal_seconds"], 1),
    }


def bench_waiting_cases(n: int) -> dict[str, Any]:
    """Figure 7: ``n`` concurrent cases waiting on a signal, memory per case vs a bare task."""
    res = measure_waiting_cases(n)
    return figure(
        f"{n:,} cases waiting on a signal, default trace level: memory per case / bare trio "
        "task blocked on an Event",
        res["bytes_per_case"],
        res["bytes_per_bare_task"],
        "B/case",
        "<= 2",
        res["memory_ratio"] <= 2,
        differs="a bare task holds no workflow state; a case holds its reducer state and inbox",
        cases=n,
        signals_per_sec=res["signals_per_sec"],
        cases_started_per_sec=res["cases_started_per_sec"],
    )


@functools.cache
def _scale(sizes: tuple[int, ...], repeat: int) -> dict[int, dict[str, float]]:
    """Per size: bytes per waiting case (one run under tracemalloc) and the best
    time per start over ``repeat`` runs without it (sizes interleaved; the
    largest, if over 10,000, once)."""
    out: dict[int, dict[str, float]] = {}
    for n in sizes:
        tracemalloc.start()
        try:
            mem = trio.run(partial(_cases, n, traced_memory=True))
        finally:
            tracemalloc.stop()
        out[n] = {"bytes": mem["bytes"] / n, "start": math.inf}
    for _ in range(repeat):
        for n in sizes:
            if n > 10_000 and out[n]["start"] < math.inf:
                continue
            speed = trio.run(partial(_cases, n, traced_memory=False))
            out[n]["start"] = min(out[n]["start"], speed["start_seconds"] / n)
    return out


def _spread(per: dict[int, float]) -> tuple[int, int]:
    """The sizes with the largest and the smallest value."""
    return max(per, key=per.__getitem__), min(per, key=per.__getitem__)


def bench_waiting_scale_memory(sizes: tuple[int, ...], repeat: int) -> dict[str, Any]:
    """Figure 12: memory per waiting case over ``sizes`` cases, largest / smallest."""
    res = _scale(sizes, 0)  # (memory only: one traced run per size)
    per = {n: r["bytes"] for n, r in res.items()}
    hi, lo = _spread(per)
    return figure(
        f"{' / '.join(f'{n:,}' for n in sizes)} waiting cases, default trace level: "
        "memory per case, highest / lowest",
        per[hi],
        per[lo],
        "B/case",
        "<= 1.3",
        ratio(per[hi], per[lo]) <= 1.3,
        sizes=list(sizes),
        bytes_per_case={str(n): round(v, 1) for n, v in per.items()},
        highest_at=hi,
        lowest_at=lo,
    )


def bench_waiting_scale_start(sizes: tuple[int, ...], repeat: int) -> dict[str, Any]:
    """Figure 12b: time per ``new_case`` of a waiting case over ``sizes``, highest / lowest."""
    samples = repeat * SHORT_SAMPLES
    res = _scale(sizes, samples)
    per = {n: r["start"] * 1e6 for n, r in res.items()}
    hi, lo = _spread(per)
    return figure(
        f"{' / '.join(f'{n:,}' for n in sizes)} waiting cases, default trace level: "
        "time per start, highest / lowest",
        per[hi],
        per[lo],
        "us/start",
        "<= 1.3",
        ratio(per[hi], per[lo]) <= 1.3,
        sizes=list(sizes),
        us_per_start={str(n): round(v, 3) for n, v in per.items()},
        samples=samples,
        highest_at=hi,
        lowest_at=lo,
    )
