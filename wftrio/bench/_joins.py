"""Figures 2 and 3: splits and joins of pure branches.

Each is measured twice.  Figures 2 and 3 compare with raw trio (a nursery
spawning tasks), the yardstick the performance targets name; that baseline does
different work (trio tasks that do nothing, against synchronous pure
branches run by the reducer), and the rows say so.  Figures 2b and 3b
compare with equal work: the same task functions called in a plain loop
merging their results, which is what the reducer's ordering, joins and
bookkeeping cost on top of the calls themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from wftrio import compiler
from wftrio.bench._report import figure
from wftrio.bench._timing import best_of, best_of_in_trio, ratio
from wftrio.bench._workloads import FNS, TaskFn, check, ctx0, direct_loop, run_case
from wftrio.engine.program import Program
from wftrio.terms import Term, first, join, par, seq, task

__all__ = [
    "bench_discriminator",
    "bench_discriminator_calls",
    "bench_par",
    "bench_par_calls",
]

_TRIO_TASKS = "empty trio tasks, against pure task calls made by the reducer"


def _par(n: int) -> tuple[Program, list[TaskFn]]:
    fns = [FNS[i % len(FNS)] for i in range(n)]
    return compiler.compile(par(*(task(f"b{i}", fn) for i, fn in enumerate(fns)))), fns


def _trio_spawn(n: int) -> Callable[[], Awaitable[None]]:
    """A nursery spawning ``n`` trivial tasks: figure 2's baseline."""

    async def trivial() -> None:
        pass

    async def once() -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(trivial)

    return once


def bench_par(n: int, repeat: int) -> dict[str, Any]:
    """Figure 2: ``par`` of ``n`` pure branches + AND-join vs trio spawning ``n`` empty tasks."""
    prog, _ = _par(n)
    ctx = ctx0()
    # a par of 100 is short: ten times the samples for the same confidence
    engine, raw = trio.run(
        best_of_in_trio, lambda: run_case(prog, ctx), _trio_spawn(n), repeat * 10
    )
    return figure(
        f"par of {n} pure branches + AND-join / trio nursery of {n} empty tasks, per branch",
        engine / n * 1e6,
        raw / n * 1e6,
        "us/branch",
        "< 1",
        ratio(engine, raw) < 1,
        differs=_TRIO_TASKS,
        n=n,
        engine_s=engine,
        baseline_s=raw,
    )


def bench_par_calls(n: int, repeat: int) -> dict[str, Any]:
    """Figure 2b: figure 2's ``par`` vs the same ``n`` calls in a plain loop (equal work)."""
    prog, fns = _par(n)
    ctx = ctx0()
    check(
        run_case(prog, ctx).ctx == direct_loop(fns, ctx),
        "the par and the plain loop disagree on the final ctx",
    )
    engine, direct = best_of(
        [lambda: run_case(prog, ctx), lambda: direct_loop(fns, ctx)], repeat * 10
    )
    return figure(
        f"par of {n} pure branches + AND-join / the same {n} calls in a plain loop, per branch",
        engine / n * 1e6,
        direct / n * 1e6,
        "us/branch",
        "reported",
        None,
        n=n,
        engine_s=engine,
        baseline_s=direct,
    )


def _arms(i: int) -> tuple[Term, ...]:
    return (task(f"a{i}", FNS[0]), task(f"b{i}", FNS[1]), task(f"c{i}", FNS[2]))


def _discriminators(n: int, *, cancel_rest: bool = False) -> Program:
    return compiler.compile(
        seq(*(join(first(1, cancel_rest=cancel_rest), *_arms(i)) for i in range(n)))
    )


def _trio_first_of(n_disc: int, width: int) -> Callable[[], Awaitable[None]]:
    """``n_disc`` sequential nurseries of ``width`` tasks, the first to finish
    cancelling the rest: figure 3's baseline."""

    async def arm(scope: trio.CancelScope) -> None:
        scope.cancel()

    async def once() -> None:
        for _ in range(n_disc):
            async with trio.open_nursery() as nursery:
                for _ in range(width):
                    nursery.start_soon(arm, nursery.cancel_scope)

    return once


def bench_discriminator(n: int, repeat: int) -> dict[str, Any]:
    """Figure 3: ``n`` discriminators ``join(first(1), a, b, c)`` in sequence vs trio's
    first-of-3 nursery; the notes add the cancelling variant and an AND-join."""
    disc = _discriminators(n)
    cdisc = _discriminators(n, cancel_rest=True)
    andj = compiler.compile(seq(*(par(*_arms(i)) for i in range(n))))
    ctx = ctx0()
    t_disc, raw = trio.run(
        best_of_in_trio, lambda: run_case(disc, ctx), _trio_first_of(n, 3), repeat
    )
    t_cdisc, t_and = best_of([lambda: run_case(cdisc, ctx), lambda: run_case(andj, ctx)], repeat)
    return figure(
        f"{n:,} discriminators join(first(1), 3 pure tasks) / trio first-of-3 nursery, "
        "per discriminator",
        t_disc / n * 1e6,
        raw / n * 1e6,
        "us/disc",
        "reported",
        None,
        differs=_TRIO_TASKS + " (the first task cancels the rest)",
        n=n,
        engine_s=t_disc,
        baseline_s=raw,
        cancelling_us=t_cdisc / n * 1e6,
        and_join_us=t_and / n * 1e6,
        vs_and_join=ratio(t_disc, t_and),
    )


def bench_discriminator_calls(n: int, repeat: int) -> dict[str, Any]:
    """Figure 3b: figure 3's discriminators vs the same 3 calls each in a plain loop."""
    disc = _discriminators(n)
    fns = [FNS[0], FNS[1], FNS[2]] * n
    ctx = ctx0()
    check(
        run_case(disc, ctx).ctx == direct_loop(fns, ctx),
        "the discriminators and the plain loop disagree on the final ctx",
    )
    t_disc, direct = best_of([lambda: run_case(disc, ctx), lambda: direct_loop(fns, ctx)], repeat)
    return figure(
        f"{n:,} discriminators join(first(1), 3 pure tasks) / the same 3 calls in a plain "
        "loop, per discriminator",
        t_disc / n * 1e6,
        direct / n * 1e6,
        "us/disc",
        "reported",
        None,
        n=n,
        engine_s=t_disc,
        baseline_s=direct,
    )
