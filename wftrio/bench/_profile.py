"""``--profile``: one engine workload under cProfile, its hottest functions."""

from __future__ import annotations

import cProfile
import io
import pstats

from wftrio import compiler
from wftrio.bench._suite import SIZES
from wftrio.bench._workloads import FNS, ctx0, run_case, seq_term
from wftrio.terms import par, task

__all__ = ["WORKLOADS", "profile"]

WORKLOADS = ("seq", "par", "tracing")
"""The workloads :func:`profile` runs: figure 1's ``seq``, figure 2's ``par``, figure 6's
``seq`` at level full."""


def profile(workload: str, *, quick: bool = False, top: int = 25) -> str:
    """Profile one engine workload with cProfile; return the ``top`` functions by own time.

    Raises:
        ValueError: ``workload`` is not one of :data:`WORKLOADS`.
    """
    s = SIZES["quick" if quick else "full"]
    if workload == "par":
        prog = compiler.compile(par(*(task(f"b{i}", FNS[i % len(FNS)]) for i in range(s["par"]))))
        rounds, level = 2000, "none"
    elif workload in ("seq", "tracing"):
        prog = compiler.compile(seq_term(s["seq"]))
        rounds, level = 20, "full" if workload == "tracing" else "none"
    else:
        raise ValueError(f"unknown workload {workload!r}: expected {', '.join(WORKLOADS)}")
    ctx = ctx0()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(1 if quick else rounds):
        run_case(prog, ctx, level)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()
