"""Deterministic Python opcode counts for bench figures 9 and 11 (a diagnostic, not a figure).

Wall-clock ratios of figures 9 and 11 move by +-0.1 between runs on a
shared 2-core VM, more than most single changes to the engine are worth.
This counts the Python opcodes executed per unit of work (per branch for
figure 9, per case for figure 11), for wftrio and for the figure's
baseline, with ``sys.settrace``: the same count on every run, so a change
can be judged before it is timed.  It misses what runs in C (trio's epoll
wait, dict and tuple work), so it is no substitute for
``python -m wftrio.bench``: use it to see *where* the Python work is.

    python tools/opcount.py 11 case      # figure 11, wftrio's side
    python tools/opcount.py 11 baseline  # figure 11, trio task + Event
    python tools/opcount.py 9 case --top 40
"""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import trio

from wftrio.bench._effect import SMALL_KEYS, _raw, big_ctx, case_run, effect_fns, effect_term
from wftrio.bench._latency import small_case_runs
from wftrio.runtime import open_substrate

WARMUP = 20
COUNTED = 20


def _where(frame: FrameType) -> tuple[str, str]:
    code = frame.f_code
    path = code.co_filename
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/wftrio/" in path:
        path = "wftrio/" + path.rsplit("/wftrio/", 1)[1]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[1]
    return path, code.co_name


async def _count(work: Callable[[], Awaitable[object]], units: int) -> collections.Counter[Any]:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode" and frame.f_code.co_filename != __file__:  # not this driver
            counts[_where(frame)] += 1
        return tracer

    for _ in range(WARMUP):
        await work()
    sys.settrace(tracer)
    try:
        for _ in range(COUNTED):
            await work()
    finally:
        sys.settrace(None)
    return collections.Counter({k: v / (COUNTED * units) for k, v in counts.items()})


async def _figure_11(side: str) -> collections.Counter[Any]:
    async with open_substrate() as sub, trio.open_nursery() as nursery:
        case, baseline = small_case_runs(sub, nursery, 1)
        return await _count(case if side == "case" else baseline, 1)


async def _figure_9(side: str, n: int = 100) -> collections.Counter[Any]:
    fns = effect_fns(n)
    ctx = big_ctx(SMALL_KEYS)
    async with open_substrate(trace_level="min") as sub:
        work = case_run(sub, effect_term(fns), ctx) if side == "case" else _raw(fns, ctx)
        return await _count(work, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("figure", choices=["9", "11"])
    ap.add_argument("side", choices=["case", "baseline"])
    ap.add_argument("--top", type=int, default=25, help="functions listed")
    args = ap.parse_args()
    counts = trio.run(_figure_9 if args.figure == "9" else _figure_11, args.side)
    unit = "branch" if args.figure == "9" else "case"
    print(f"figure {args.figure}, {args.side}: {sum(counts.values()):,.0f} opcodes per {unit}")
    by_file: collections.Counter[str] = collections.Counter()
    for (path, _), v in counts.items():
        by_file[path] += v
    for path, v in by_file.most_common(12):
        print(f"{v:9.1f}  {path}")
    print("-- functions")
    for (path, name), v in counts.most_common(args.top):
        print(f"{v:9.1f}  {path}:{name}")


if __name__ == "__main__":
    main()
