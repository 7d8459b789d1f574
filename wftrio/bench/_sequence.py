"""Figures 1 and 6: a sequence of pure tasks, untraced and traced."""

from __future__ import annotations

from typing import Any

from wftrio import compiler
from wftrio.bench._report import figure
from wftrio.bench._timing import SHORT_SAMPLES, best_of, ratio
from wftrio.bench._workloads import FNS, check, ctx0, direct_loop, run_case, seq_term

__all__ = ["bench_seq", "bench_tracing"]


def bench_seq(n: int, repeat: int) -> dict[str, Any]:
    """Figure 1: ``seq`` of ``n`` pure tasks, tracing off, vs a direct loop of the same calls."""
    prog = compiler.compile(seq_term(n))
    fns = [FNS[i % len(FNS)] for i in range(n)]
    ctx = ctx0()
    check(
        run_case(prog, ctx).ctx == direct_loop(fns, ctx),
        "the engine and the direct loop disagree on the final ctx",
    )
    engine, direct = best_of([lambda: run_case(prog, ctx), lambda: direct_loop(fns, ctx)], repeat)
    return figure(
        f"seq of {n:,} pure tasks, trace none / the same calls in a plain loop",
        engine / n * 1e6,
        direct / n * 1e6,
        "us/task",
        "<= 3",
        ratio(engine, direct) <= 3,
        n=n,
        engine_s=engine,
        baseline_s=direct,
    )


def bench_tracing(n: int, repeat: int) -> dict[str, Any]:
    """Figure 6: figure 1's ``seq`` at trace level full vs none (level min in a note)."""
    prog = compiler.compile(seq_term(n))
    ctx = ctx0()
    events = len(run_case(prog, ctx, "full").events)
    samples = repeat * SHORT_SAMPLES
    t_none, t_min, t_full, t_read = best_of(
        [
            lambda: run_case(prog, ctx, "none"),
            lambda: run_case(prog, ctx, "min"),
            lambda: run_case(prog, ctx, "full"),
            # the events of a fused run are built when read: the run, then one read
            lambda: run_case(prog, ctx, "full").events,
        ],
        samples,
    )
    return figure(
        f"seq of {n:,} pure tasks: trace full / trace none",
        t_full / n * 1e6,
        t_none / n * 1e6,
        "us/task",
        "<= 1.3",
        ratio(t_full, t_none) <= 1.3,
        n=n,
        samples=samples,
        events=events,
        min_us=t_min / n * 1e6,
        full_read_us=t_read / n * 1e6,
        full_s=t_full,
        none_s=t_none,
    )
