"""``--profile``: one engine workload under cProfile, its hottest functions."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Mapping
from typing import Any

import trio

from wftrio import compiler
from wftrio.bench._effect import big_ctx, effect_fns, effect_term
from wftrio.bench._suite import SIZES
from wftrio.bench._workloads import FNS, ctx0, run_case, seq_term
from wftrio.runtime import open_substrate
from wftrio.terms import par, task

__all__ = ["WORKLOADS", "profile"]

WORKLOADS = ("seq", "par", "tracing", "effect", "effect_ctx")
"""The workloads :func:`profile` runs: figure 1's ``seq``, figure 2's ``par``, figure 6's
``seq`` at level full, figure 9's ``par`` of effects on a substrate (trace min), and
the same with figure 9b's large ctx."""


def _effects(n: int, keys: int, rounds: int, prof: cProfile.Profile) -> None:
    """Figure 9's case ``rounds`` times on one substrate, profiled from the first ``new_case``."""
    term = effect_term(effect_fns(n))
    ctx: Mapping[str, Any] = big_ctx(keys)

    async def main() -> None:
        async with open_substrate(trace_level="min") as sub:
            await sub.wait(await sub.new_case(term, ctx))  # compile and validate: not profiled
            prof.enable()
            for _ in range(rounds):
                cid = await sub.new_case(term, ctx)
                await sub.wait(cid)
                sub.forget(cid)
            prof.disable()

    trio.run(main)


def profile(workload: str, *, quick: bool = False, top: int = 25) -> str:
    """Profile one engine workload with cProfile; return the ``top`` functions by own time.

    Raises:
        ValueError: ``workload`` is not one of :data:`WORKLOADS`.
    """
    s = SIZES["quick" if quick else "full"]
    prof = cProfile.Profile()
    if workload in ("effect", "effect_ctx"):
        keys = s["effect_keys"] if workload == "effect_ctx" else 8
        _effects(s["effect"], keys, 1 if quick else 50, prof)
        return _top(prof, top)
    if workload == "par":
        prog = compiler.compile(par(*(task(f"b{i}", FNS[i % len(FNS)]) for i in range(s["par"]))))
        rounds, level = 2000, "none"
    elif workload in ("seq", "tracing"):
        prog = compiler.compile(seq_term(s["seq"]))
        rounds, level = 20, "full" if workload == "tracing" else "none"
    else:
        raise ValueError(f"unknown workload {workload!r}: expected {', '.join(WORKLOADS)}")
    ctx = ctx0()
    prof.enable()
    for _ in range(1 if quick else rounds):
        run_case(prog, ctx, level)
    prof.disable()
    return _top(prof, top)


def _top(prof: cProfile.Profile, top: int) -> str:
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()
