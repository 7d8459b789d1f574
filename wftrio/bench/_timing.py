"""The timing harness: best of N, garbage collector off, samples interleaved.

A sample can only be slowed down by the machine, never sped up, so the
minimum over several samples is the least noisy estimate.  A figure's
samples and its baseline's are interleaved (one of each per round) after
one untimed warm-up call each, so that a drift in machine speed (frequency
scaling, a neighbour's load) hits both alike.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Awaitable, Callable, Sequence

__all__ = ["SHORT_SAMPLES", "best_of", "best_of_async", "best_of_in_trio", "ratio", "timed"]

SHORT_SAMPLES = 4
"""Samples per ``--repeat`` of a figure whose ratio sits near its target and
whose samples are short (figures 6, 9, 9b, 11, 12b): the best of 5 such
samples moved figure 9 by +-0.1 in ratio between runs on a shared 2-core
VM, the best of 20 by about a third of that."""


def timed(fn: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
    """One timed call of ``fn``, in seconds, with the garbage collector off.

    ``setup`` (untimed) runs first, then a full collection, so neither the
    preparation nor the freeing of an earlier sample's garbage is counted.
    """
    if setup is not None:
        setup()
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def best_of(
    fns: Sequence[Callable[[], object]],
    repeat: int,
    setup: Callable[[], object] | None = None,
) -> list[float]:
    """Best time of each of ``fns`` over ``repeat`` interleaved rounds, in seconds.

    ``setup`` runs untimed before every sample (and before each warm-up call).
    """
    for fn in fns:
        if setup is not None:
            setup()
        fn()
    best = [math.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], timed(fn, setup))
    return best


async def best_of_in_trio(
    sync: Callable[[], object], raw: Callable[[], Awaitable[object]], repeat: int
) -> tuple[float, float]:
    """Best times of ``sync()`` and ``await raw()``, interleaved inside one ``trio.run``."""
    sync()
    await raw()
    best_sync = best_raw = math.inf
    for _ in range(repeat):
        best_sync = min(best_sync, timed(sync))
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            await raw()
            best_raw = min(best_raw, time.perf_counter() - t0)
        finally:
            gc.enable()
    return best_sync, best_raw


def ratio(a: float, b: float) -> float:
    """``a / b``, or infinity when ``b`` is not positive (a timer too coarse to see it)."""
    return a / b if b > 0 else math.inf


async def best_of_async(fns: Sequence[Callable[[], Awaitable[object]]], repeat: int) -> list[float]:
    """Best time of each ``await fn()`` over ``repeat`` interleaved rounds, in seconds.

    Runs inside the caller's ``trio.run``; one untimed warm-up call each, and
    the garbage collector off inside every timed call (as :func:`timed`).
    """
    for fn in fns:
        await fn()
    best = [math.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                out = await fn()
                best[i] = min(best[i], time.perf_counter() - t0)
                del out  # freed after the timing: a sample ends when its call returns
            finally:
                gc.enable()
    return best
