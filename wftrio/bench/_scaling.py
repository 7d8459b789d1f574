"""Figures 4, 5a, 5b and 12c: costs that must not grow with the size of the rest.

Each compares the engine with itself on a small and a large input: the
work per unit is the same on both sides, so a ratio above 1 is a cost that
grows with what should not matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from wftrio import compiler
from wftrio.bench._report import figure
from wftrio.bench._timing import best_of, ratio, timed
from wftrio.bench._workloads import (
    FNS,
    blocked_case,
    check,
    count_nodes,
    ctx0,
    mixed_term,
    run_case,
)
from wftrio.terms import Term, loop, par, region, task, wait_signal

__all__ = [
    "bench_cancel_region",
    "bench_compile",
    "bench_par_width",
    "bench_run_per_step",
]


def bench_cancel_region(k: int, small: int, large: int, repeat: int) -> dict[str, Any]:
    """Figure 4: ``cancel_region`` of ``k`` tokens with ``large`` vs ``small`` other tokens."""

    def term(others: int) -> Term:
        inner = region("R", par(*([wait_signal("inside")] * k)))
        return par(inner, *([wait_signal("outside")] * others))

    progs = {o: compiler.compile(term(o)) for o in (small, large)}

    def cancel_once(others: int) -> float:
        st = blocked_case(progs[others])
        before = len(st.tokens)
        holder: list[int] = []
        dt = timed(lambda: holder.append(st.cancel_region("R")))
        withdrawn = before - len(st.tokens) + 1  # +1: the continuation it spawns
        check(holder == [1] and withdrawn == k, f"withdrew {withdrawn} tokens, expected {k}")
        return dt

    # a fresh blocked case per sample (cancel_region is one-shot); interleaved
    t_small = t_large = math.inf
    for _ in range(max(5, repeat * 4)):
        t_small = min(t_small, cancel_once(small))
        t_large = min(t_large, cancel_once(large))
    return figure(
        f"cancel_region of {k} tokens: {large:,} other tokens / {small:,} other tokens",
        t_large * 1e6,
        t_small * 1e6,
        "us/cancel",
        "~1 (<= 1.5)",
        ratio(t_large, t_small) <= 1.5,
        k=k,
        others_small=small,
        others_large=large,
        small_s=t_small,
        large_s=t_large,
    )


def bench_compile(small: int, large: int, repeat: int) -> dict[str, Any]:
    """Figure 5a: compile time per node, a large term vs a small term."""
    terms = [mixed_term(small), mixed_term(large)]
    n_small, n_large = (count_nodes(t) for t in terms)
    for t in terms:
        hash(t)  # terms cache their hash: keep the first hashing out of the timing
    # compile from scratch: the cache is cleared (and the last sample's
    # Program freed) before each sample, outside the timing
    t_small, t_large = best_of(
        [lambda: compiler.compile(terms[0]), lambda: compiler.compile(terms[1])],
        repeat,
        setup=compiler.clear_cache,
    )
    compiler.clear_cache()
    t_small /= n_small
    t_large /= n_large
    return figure(
        f"compile per node: {n_large:,}-node term / {n_small:,}-node term",
        t_large * 1e6,
        t_small * 1e6,
        "us/node",
        "~1 (<= 1.5)",
        ratio(t_large, t_small) <= 1.5,
        nodes_small=n_small,
        nodes_large=n_large,
    )


def bench_run_per_step(small: int, large: int, repeat: int) -> dict[str, Any]:
    """Figure 5b: run time per step, a large term vs a small term looped to as many steps."""
    big_term = mixed_term(large)
    small_body = mixed_term(small)
    times = max(1, round(count_nodes(big_term) / count_nodes(small_body)))
    big = compiler.compile(big_term)
    little = compiler.compile(loop(small_body, times=times))
    ctx = ctx0()
    steps_big = run_case(big, ctx).steps
    steps_little = run_case(little, ctx).steps
    t_big, t_little = best_of([lambda: run_case(big, ctx), lambda: run_case(little, ctx)], repeat)
    t_big /= steps_big
    t_little /= steps_little
    return figure(
        f"run per step: {len(big.instrs):,}-instr program / {len(little.instrs)}-instr "
        f"program x{times}",
        t_big * 1e6,
        t_little * 1e6,
        "us/step",
        "~1 (<= 1.5)",
        ratio(t_big, t_little) <= 1.5,
        instrs_small=len(little.instrs),
        instrs_large=len(big.instrs),
        steps_small=steps_little,
        steps_large=steps_big,
    )


def bench_par_width(widths: tuple[int, ...], base: int, repeat: int) -> dict[str, Any]:
    """Figure 12c: ``par`` of w pure branches for each width: per-branch cost, widest / ``base``.

    Each sample runs the case ``max(widths) // w`` times, so every width
    times the same number of branches.  The narrowest widths carry the
    case's creation over few branches, which is why the baseline is
    ``base`` (figure 2's width) rather than the narrowest; the figure lists
    every width.
    """
    most = max(widths)
    progs = {
        w: compiler.compile(par(*(task(f"b{i}", FNS[i % 8]) for i in range(w)))) for w in widths
    }
    ctx = ctx0()

    def runs(w: int) -> Callable[[], object]:
        prog, k = progs[w], most // w
        return lambda: [run_case(prog, ctx) for _ in range(k)]

    times = best_of([runs(w) for w in widths], repeat)
    per = {w: t / (w * (most // w)) * 1e6 for w, t in zip(widths, times, strict=True)}
    return figure(
        f"par of {most:,} pure branches / par of {base:,}, per branch",
        per[most],
        per[base],
        "us/branch",
        "~1 (<= 1.3)",
        ratio(per[most], per[base]) <= 1.3,
        widths=list(widths),
        us_per_branch={str(w): round(v, 4) for w, v in per.items()},
    )
