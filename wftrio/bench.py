"""wftrio's own benchmark: ``python -m wftrio.bench [--quick] [--json]``.

Every figure is a ratio against a baseline measured in the same run, so the
numbers mean the same on any machine.  Timings use ``time.perf_counter``,
best of N repeats, with the garbage collector disabled inside the timed
section (and a full collection before it); a figure's samples and its
baseline's are interleaved after one warm-up call each.  The figures and
their targets (from DESIGN.md, "Performance targets"; docs/BENCHMARKS.md
says what each means and what was measured):

1. ``seq``: a sequence of 10,000 pure tasks, tracing off, versus a direct
   Python loop making the same calls and ctx updates.  Target <= 3.
2. ``par``: a par of 100 pure branches + AND-join, per branch, versus raw
   trio spawning 100 trivial tasks in a nursery.  Target < 1.
3. ``discriminator``: 1,000 discriminators (``join(first(1), a, b, c)``) in
   sequence, per discriminator, versus a trio nursery of 3 trivial tasks
   where the first to finish cancels the rest.  Reported, no target.
4. ``cancel_region``: ``cancel_region`` withdrawing a region of 100 waiting
   tokens in a case with 10,000 other waiting tokens versus one with 100.
   Target ~1 (independent of the other tokens).
5. ``compile`` (5a) / ``run`` (5b): compile time per node of a 10k-node term
   versus a 1k-node term (target ~1: linear), and run time per step of a
   10k-node term versus a 100-node term looped to the same step count
   (target ~1: per-step cost independent of term size).
6. ``tracing``: the seq of figure 1 at trace level ``"full"`` versus
   ``"none"``.  Target <= 2.
7. ``waiting``: 10,000 concurrent cases waiting on a signal (memory
   per case versus a bare trio task blocked on an Event; signal
   throughput), measured by ``wftrio.runtime._loadbench`` when the runtime
   provides it.  Target <= 2.
8. ``validate``: states ``wf.validate`` explores for growing terms (a
   ``par`` of k branches and an ``mi`` of k instances, each a task, an
   effect and a signal wait), with partial-order and symmetry reduction
   versus the full interleaving graph.  Reported, no target.

``--only a,b`` runs a subset; ``--profile seq|par|tracing`` runs one engine
workload under cProfile instead and prints the hottest functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import inspect
import io
import json
import math
import platform
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import trio

from wftrio import compiler
from wftrio.engine import ExecState, Status
from wftrio.engine.program import Program
from wftrio.terms import (
    Term,
    branch,
    first,
    join,
    loop,
    mi,
    par,
    region,
    seq,
    task,
    wait_signal,
    walk,
    xor,
)

__all__ = ["FIGURES", "LABELS", "SIZES", "format_table", "main", "profile", "run_benchmarks"]

TaskFn = Callable[[Mapping[str, Any]], dict[str, Any]]

SIZES: dict[str, dict[str, int]] = {
    "full": {
        "seq": 10_000,
        "par": 100,
        "disc": 1_000,
        "region_k": 100,
        "others_small": 100,
        "others_large": 10_000,
        "nodes_small": 1_000,
        "nodes_large": 10_000,
        "run_small": 100,
        "waiting": 10_000,
        "validate_k": 6,
    },
    "quick": {
        "seq": 200,
        "par": 10,
        "disc": 20,
        "region_k": 5,
        "others_small": 10,
        "others_large": 100,
        "nodes_small": 100,
        "nodes_large": 400,
        "run_small": 40,
        "waiting": 50,
        "validate_k": 3,
    },
}
"""Workload sizes for a full run and for ``--quick`` (a smoke test, not a measurement)."""


# ---------------------------------------------------------------------------
# timing helpers


def _timed(fn: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
    """One timed call of ``fn`` with the garbage collector off.

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


def _compare(
    fns: Sequence[Callable[[], object]],
    repeat: int,
    setup: Callable[[], object] | None = None,
) -> list[float]:
    """Best time of each of ``fns`` over ``repeat`` rounds, in seconds.

    One untimed warm-up call each, then the samples are interleaved (one
    call of each per round) so that a drift in machine speed (frequency
    scaling, a neighbour's load) hits the figure and its baseline alike.
    ``setup`` runs untimed before every sample.
    """
    for fn in fns:
        if setup is not None:
            setup()
        fn()
    best = [math.inf] * len(fns)
    for _ in range(max(1, repeat)):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], _timed(fn, setup))
    return best


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


# ---------------------------------------------------------------------------
# workloads


def _incrementer(key: str) -> TaskFn:
    def step(ctx: Mapping[str, Any]) -> dict[str, Any]:
        return {key: ctx[key] + 1}

    step.__name__ = f"inc_{key}"
    return step


_KEYS = tuple(f"k{i}" for i in range(8))
_FNS: tuple[TaskFn, ...] = tuple(_incrementer(k) for k in _KEYS)


def _ctx0() -> dict[str, Any]:
    return dict.fromkeys(_KEYS, 0)


def _even(ctx: Mapping[str, Any]) -> bool:
    return bool(ctx["k0"] % 2 == 0)


def _seq_term(n: int) -> Term:
    return seq(*(task(f"t{i}", _FNS[i % len(_FNS)]) for i in range(n)))


def _block(i: int) -> Term:
    """16 nodes mixing every control construct a pure run exercises."""
    f = _FNS
    return seq(
        task(f"a{i}", f[0]),
        par(task(f"b{i}", f[1]), task(f"c{i}", f[2])),
        xor(branch(_even, task(f"d{i}", f[3])), task(f"e{i}", f[4])),
        loop(task(f"f{i}", f[5]), times=2),
        region(f"r{i}", task(f"g{i}", f[6])),
    )


def _mixed_term(nodes: int) -> Term:
    """A pure term of about ``nodes`` nodes (as counted by ``walk``)."""
    per_block = _count_nodes(_block(0))
    return seq(*(_block(i) for i in range(max(2, (nodes - 1) // per_block))))


def _count_nodes(term: Term) -> int:
    return sum(1 for _ in walk(term))


def _run_case(prog: Program, ctx: Mapping[str, Any], level: str = "none") -> ExecState:
    st = ExecState(prog, ctx, trace_level=level)
    status = st.run()
    if status is not Status.DONE:  # pragma: no cover - would be an engine bug
        raise RuntimeError(f"bench case ended {status}: {st.error!r}")
    return st


def _direct_loop(fns: Sequence[TaskFn], ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline of figure 1: the same calls and ctx updates, by hand."""
    data = dict(ctx)
    view = MappingProxyType(data)
    update = data.update
    for fn in fns:
        update(fn(view))
    return data


async def _trio_compare(
    engine: Callable[[], object], raw: Callable[[], Awaitable[object]], repeat: int
) -> tuple[float, float]:
    """Best times of ``engine()`` and ``await raw()``, interleaved inside one trio.run."""
    engine()
    await raw()
    best_e = best_r = math.inf
    for _ in range(max(1, repeat)):
        best_e = min(best_e, _timed(engine))
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            await raw()
            best_r = min(best_r, time.perf_counter() - t0)
        finally:
            gc.enable()
    return best_e, best_r


def _trio_spawn(n: int) -> Callable[[], Awaitable[None]]:
    """A nursery spawning ``n`` trivial tasks: figure 2's baseline."""

    async def trivial() -> None:
        pass

    async def once() -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(trivial)

    return once


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


# ---------------------------------------------------------------------------
# the figures


def _figure(
    title: str,
    measured: float,
    baseline: float,
    unit: str,
    target: str,
    met: bool | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "title": title,
        "measured": measured,
        "baseline": baseline,
        "unit": unit,
        "ratio": _ratio(measured, baseline),
        "target": target,
        "met": met,
        **extra,
    }


def bench_seq(n: int, repeat: int) -> dict[str, Any]:
    """Figure 1: seq of ``n`` pure tasks, tracing off, vs a direct loop."""
    prog = compiler.compile(_seq_term(n))
    fns = [_FNS[i % len(_FNS)] for i in range(n)]
    ctx = _ctx0()
    if _run_case(prog, ctx).ctx != _direct_loop(fns, ctx):  # pragma: no cover
        raise RuntimeError("engine and direct loop disagree on the final ctx")
    engine, direct = _compare(
        [lambda: _run_case(prog, ctx), lambda: _direct_loop(fns, ctx)], repeat
    )
    r = _ratio(engine, direct)
    return _figure(
        f"seq of {n:,} pure tasks, trace none: engine / direct loop",
        engine / n * 1e6,
        direct / n * 1e6,
        "us/task",
        "<= 3",
        r <= 3,
        n=n,
        engine_s=engine,
        baseline_s=direct,
    )


def bench_par(n: int, repeat: int) -> dict[str, Any]:
    """Figure 2: par of ``n`` pure branches + AND-join vs trio spawning ``n`` tasks."""
    prog = compiler.compile(par(*(task(f"b{i}", _FNS[i % len(_FNS)]) for i in range(n))))
    ctx = _ctx0()
    reps = max(repeat, repeat * 10)
    engine, raw = trio.run(_trio_compare, lambda: _run_case(prog, ctx), _trio_spawn(n), reps)
    r = _ratio(engine, raw)
    return _figure(
        f"par of {n} branches + AND-join: engine / raw trio nursery, per branch",
        engine / n * 1e6,
        raw / n * 1e6,
        "us/branch",
        "< 1",
        r < 1,
        n=n,
        engine_s=engine,
        baseline_s=raw,
    )


def bench_discriminator(n: int, repeat: int) -> dict[str, Any]:
    """Figure 3: ``n`` sequential discriminators of 3 pure branches each."""
    f = _FNS

    def arms(i: int) -> tuple[Term, ...]:
        return (task(f"a{i}", f[0]), task(f"b{i}", f[1]), task(f"c{i}", f[2]))

    disc = compiler.compile(seq(*(join(first(1), *arms(i)) for i in range(n))))
    cdisc = compiler.compile(seq(*(join(first(1, cancel_rest=True), *arms(i)) for i in range(n))))
    andj = compiler.compile(seq(*(par(*arms(i)) for i in range(n))))
    ctx = _ctx0()
    t_disc, raw = trio.run(
        _trio_compare, lambda: _run_case(disc, ctx), _trio_first_of(n, 3), repeat
    )
    t_cdisc, t_and = _compare([lambda: _run_case(cdisc, ctx), lambda: _run_case(andj, ctx)], repeat)
    return _figure(
        f"{n:,} discriminators join(first(1), 3 tasks): engine / trio first-of-3 nursery",
        t_disc / n * 1e6,
        raw / n * 1e6,
        "us/disc",
        "report",
        None,
        n=n,
        engine_s=t_disc,
        baseline_s=raw,
        cancelling_us=t_cdisc / n * 1e6,
        and_join_us=t_and / n * 1e6,
        vs_and_join=_ratio(t_disc, t_and),
    )


def _blocked_case(prog: Program) -> ExecState:
    st = ExecState(prog, None, trace_level="none")
    if st.run() is not Status.BLOCKED:  # pragma: no cover - would be an engine bug
        raise RuntimeError("cancel_region bench: the case did not block")
    return st


def bench_cancel_region(k: int, small: int, large: int, repeat: int) -> dict[str, Any]:
    """Figure 4: ``cancel_region`` of ``k`` tokens with ``small`` vs ``large`` others."""

    def term(others: int) -> Term:
        inner = region("R", par(*([wait_signal("inside")] * k)))
        return par(inner, *([wait_signal("outside")] * others))

    progs = {o: compiler.compile(term(o)) for o in (small, large)}

    def cancel_once(others: int) -> float:
        st = _blocked_case(progs[others])
        before = len(st.tokens)
        holder: list[int] = []
        dt = _timed(lambda: holder.append(st.cancel_region("R")))
        withdrawn = before - len(st.tokens) + 1  # +1: the continuation it spawns
        if holder != [1] or withdrawn != k:  # pragma: no cover - would be an engine bug
            raise RuntimeError(f"cancel_region withdrew {withdrawn} tokens, expected {k}")
        return dt

    # a fresh blocked case per sample (cancel_region is one-shot); interleaved
    t_small = t_large = math.inf
    for _ in range(max(5, repeat * 4)):
        t_small = min(t_small, cancel_once(small))
        t_large = min(t_large, cancel_once(large))
    r = _ratio(t_large, t_small)
    return _figure(
        f"cancel_region of {k} tokens: {large:,} other tokens / {small:,} other tokens",
        t_large * 1e6,
        t_small * 1e6,
        "us/cancel",
        "~1 (<= 1.5)",
        r <= 1.5,
        k=k,
        others_small=small,
        others_large=large,
        small_s=t_small,
        large_s=t_large,
    )


def bench_compile(small: int, large: int, repeat: int) -> dict[str, Any]:
    """Figure 5a: compile time per node, large term vs small term."""

    terms = [_mixed_term(small), _mixed_term(large)]
    counts = [_count_nodes(t) for t in terms]
    for t in terms:
        hash(t)  # terms cache their hash: keep the first hashing out of the timing

    # compile from scratch: the cache is cleared (and the last sample's
    # Program freed) before each sample, outside the timing
    t_small, t_large = _compare(
        [lambda: compiler.compile(terms[0]), lambda: compiler.compile(terms[1])],
        repeat,
        setup=compiler.clear_cache,
    )
    n_small, n_large = counts
    t_small /= n_small
    t_large /= n_large
    compiler.clear_cache()
    r = _ratio(t_large, t_small)
    return _figure(
        f"compile per node: {n_large:,}-node term / {n_small:,}-node term",
        t_large * 1e6,
        t_small * 1e6,
        "us/node",
        "~1 (<= 1.5)",
        r <= 1.5,
        nodes_small=n_small,
        nodes_large=n_large,
    )


def bench_run_per_step(small: int, large: int, repeat: int) -> dict[str, Any]:
    """Figure 5b: run time per step, a large term vs a small term looped."""
    big_term = _mixed_term(large)
    small_body = _mixed_term(small)
    times = max(1, round(_count_nodes(big_term) / _count_nodes(small_body)))
    small_term = loop(small_body, times=times)
    big = compiler.compile(big_term)
    little = compiler.compile(small_term)
    ctx = _ctx0()
    steps_big = _run_case(big, ctx).steps
    steps_little = _run_case(little, ctx).steps
    t_big, t_little = _compare(
        [lambda: _run_case(big, ctx), lambda: _run_case(little, ctx)], repeat
    )
    t_big /= steps_big
    t_little /= steps_little
    r = _ratio(t_big, t_little)
    return _figure(
        f"run per step: {len(big.instrs):,}-instr program / {len(little.instrs)}-instr "
        f"program x{times}",
        t_big * 1e6,
        t_little * 1e6,
        "us/step",
        "~1 (<= 1.5)",
        r <= 1.5,
        instrs_small=len(little.instrs),
        instrs_large=len(big.instrs),
        steps_small=steps_little,
        steps_large=steps_big,
    )


def bench_tracing(n: int, repeat: int) -> dict[str, Any]:
    """Figure 6: seq of ``n`` pure tasks at trace level full vs none."""
    prog = compiler.compile(_seq_term(n))
    ctx = _ctx0()
    events = len(_run_case(prog, ctx, "full").events)
    t_none, t_min, t_full = _compare(
        [
            lambda: _run_case(prog, ctx, "none"),
            lambda: _run_case(prog, ctx, "min"),
            lambda: _run_case(prog, ctx, "full"),
        ],
        repeat,
    )
    r = _ratio(t_full, t_none)
    return _figure(
        f"seq of {n:,} pure tasks: trace full / trace none",
        t_full / n * 1e6,
        t_none / n * 1e6,
        "us/task",
        "<= 2",
        r <= 2,
        n=n,
        events=events,
        min_us=t_min / n * 1e6,
        full_s=t_full,
        none_s=t_none,
    )


def bench_waiting_cases(n: int) -> dict[str, Any]:
    """Figure 7: ``n`` concurrent cases waiting on a signal (from the runtime).

    ``wftrio.runtime._loadbench.measure_waiting_cases(n)`` does the
    measuring (tracemalloc bytes per waiting case next to a bare trio task
    blocked on a ``trio.Event``, and signal throughput); it is imported
    lazily so that the engine figures run without the runtime.
    """
    title = f"{n:,} cases waiting on a signal: memory per case / bare trio task"
    try:
        mod = importlib.import_module("wftrio.runtime._loadbench")
    except ImportError as exc:
        return _figure(
            title, math.nan, math.nan, "B/case", "<= 2", None, available=False, reason=str(exc)
        )
    measure = mod.measure_waiting_cases
    if inspect.iscoroutinefunction(measure):
        res: dict[str, Any] = dict(trio.run(measure, n))
    else:
        res = dict(measure(n))
    per_case = _num(res, "bytes_per_case")
    per_task = _num(res, "bytes_per_bare_task")
    ratio = _num(res, "memory_ratio")
    if math.isnan(ratio):
        ratio = _ratio(per_case, per_task)
    fig = _figure(title, per_case, per_task, "B/case", "<= 2", None, available=True, **res)
    fig["ratio"] = ratio
    fig["met"] = None if math.isnan(ratio) else ratio <= 2
    return fig


def _validation_families(k: int) -> dict[str, list[Term]]:
    """Growing terms for figure 8: ``par`` of ``1..k`` branches of (task,
    effect, signal wait), and ``mi`` of ``1..k`` instances of the same body."""

    async def effect(ctx: Mapping[str, Any]) -> None:
        return None

    def branch_(i: int) -> Term:
        return seq(task(f"t{i}", _incrementer("a")), task(f"e{i}", effect), wait_signal(f"s{i}"))

    return {
        "par": [par(*(branch_(i) for i in range(n))) for n in range(1, k + 1)],
        "mi": [mi(branch_(0), count=n) for n in range(1, k + 1)],
    }


def bench_validate(k: int, max_states: int = 20_000) -> dict[str, Any]:
    """Figure 8: exploration cost of ``wf.validate`` on growing terms.

    For every term of two families (:func:`_validation_families`) the state
    space is explored with partial-order and symmetry reduction and without
    (the full interleaving graph, capped at ``max_states``); the figure
    reports states and time of both, and its ratio is reduced / full states
    for the largest ``par`` term.  No target: it shows how far the
    reductions push the bounds.
    """
    from wftrio.validation.explore import Bounds, explore

    bounds = Bounds(max_states=max_states, max_depth=10_000, max_tokens=10_000)
    families: dict[str, list[dict[str, Any]]] = {}
    for fam, terms_ in _validation_families(k).items():
        rows: list[dict[str, Any]] = []
        for n, term in enumerate(terms_, 1):
            prog = compiler.compile(term)
            t0 = time.perf_counter()
            red = explore(prog, bounds=bounds, reduce=True)
            t1 = time.perf_counter()
            full = explore(prog, bounds=bounds, reduce=False)
            t2 = time.perf_counter()
            rows.append(
                {
                    "k": n,
                    "states_reduced": red.states,
                    "states_full": full.states,
                    "full_hit": not full.complete,
                    "ms_reduced": (t1 - t0) * 1e3,
                    "ms_full": (t2 - t1) * 1e3,
                    "us_per_state": (t1 - t0) / red.states * 1e6,
                }
            )
        families[fam] = rows
    last = families["par"][-1]
    return _figure(
        f"validate: states explored, par of {k} branches (task, effect, wait), reduced",
        float(last["states_reduced"]),
        float(last["states_full"]),
        "states",
        "reported",
        None,
        families=families,
        us_per_state=last["us_per_state"],
    )


def _num(res: Mapping[str, Any], key: str) -> float:
    v = res.get(key)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return math.nan


FIGURES = (
    "seq",
    "par",
    "discriminator",
    "cancel_region",
    "compile",
    "run",
    "tracing",
    "waiting",
    "validate",
)
"""Figure names, in report order (``--only`` takes a comma-separated subset)."""

LABELS = dict(zip(FIGURES, ("1", "2", "3", "4", "5a", "5b", "6", "7", "8"), strict=True))
"""The figure numbers DESIGN.md's targets and docs/BENCHMARKS.md use."""


def run_benchmarks(
    *, quick: bool = False, repeat: int = 5, only: Sequence[str] = FIGURES
) -> dict[str, Any]:
    """Run the selected figures and return the JSON-able report."""
    s = SIZES["quick" if quick else "full"]
    rep = 1 if quick else repeat
    figs: dict[str, Any] = {}
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "seq": lambda: bench_seq(s["seq"], rep),
        "par": lambda: bench_par(s["par"], rep),
        "discriminator": lambda: bench_discriminator(s["disc"], rep),
        "cancel_region": lambda: bench_cancel_region(
            s["region_k"], s["others_small"], s["others_large"], rep
        ),
        "compile": lambda: bench_compile(s["nodes_small"], s["nodes_large"], rep),
        "run": lambda: bench_run_per_step(s["run_small"], s["nodes_large"], rep),
        "tracing": lambda: bench_tracing(s["seq"], rep),
        "waiting": lambda: bench_waiting_cases(s["waiting"]),
        "validate": lambda: bench_validate(s["validate_k"]),
    }
    for name in FIGURES:
        if name in only:
            figs[name] = {"id": LABELS[name], **runners[name]()}
            compiler.clear_cache()  # each figure starts from a clean heap
            gc.collect()
    return {
        "wftrio_bench": 1,
        "quick": quick,
        "repeat": rep,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "trio": trio.__version__,
        "figures": figs,
    }


# ---------------------------------------------------------------------------
# output


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def format_table(report: Mapping[str, Any]) -> str:
    """Render a report from :func:`run_benchmarks` as a text table."""
    head = ("figure", "measured", "baseline", "unit", "ratio", "target", "met")
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for name, f in report["figures"].items():
        label = f"{f['id']}. {f['title']}"
        if name == "waiting" and not f.get("available", True):
            rows.append(
                (label, "n/a", "n/a", "", "n/a", f["target"], "n/a (runtime not available)")
            )
            continue
        met = "-" if f["met"] is None else ("yes" if f["met"] else "NO")
        rows.append(
            (
                label,
                _fmt(f["measured"]),
                _fmt(f["baseline"]),
                f["unit"],
                _fmt(f["ratio"]),
                f["target"],
                met,
            )
        )
        if name == "discriminator":
            notes.append(
                f"   discriminator: cancelling variant {_fmt(f['cancelling_us'])} us, "
                f"AND-join of the same 3 tasks {_fmt(f['and_join_us'])} us "
                f"(first(1) / AND-join = {_fmt(f['vs_and_join'])})"
            )
        if name == "validate":
            for fam, rows_ in f["families"].items():
                cells = ", ".join(
                    f"k={r['k']}: {r['states_reduced']:,}/{r['states_full']:,}"
                    f"{'+' if r['full_hit'] else ''} in {_fmt(r['ms_reduced'])}/"
                    f"{_fmt(r['ms_full'])} ms"
                    for r in rows_
                )
                notes.append(f"   validate ({fam}; states reduced/full, time): {cells}")
        if name == "tracing":
            notes.append(
                f"   tracing: level min {_fmt(f['min_us'])} us/task; "
                f"full records {f['events']:,} events"
            )
        if name == "waiting":
            extra = {k: v for k, v in f.items() if k not in _FIGURE_KEYS}
            sig, start = (
                extra.pop("signals_per_sec", None),
                extra.pop("cases_started_per_sec", None),
            )
            if sig is not None and start is not None:
                notes.append(
                    f"   waiting cases: {sig:,.0f} signals/s (signal + completion), "
                    f"{start:,.0f} cases started/s"
                )
            if extra:
                notes.append(f"   waiting cases: {json.dumps(extra, default=str)}")
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    out = [
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    hdr = (
        f"wftrio bench ({'quick' if report['quick'] else 'full'}, best of {report['repeat']}; "
        f"{report['implementation']} {report['python']}, trio {report['trio']})"
    )
    return "\n".join([hdr, "", *out, *([""] + notes if notes else [])])


_FIGURE_KEYS = frozenset(
    {
        "id",
        "title",
        "measured",
        "baseline",
        "unit",
        "ratio",
        "target",
        "met",
        "available",
        "cases",
        "bytes_per_case",
        "bytes_per_bare_task",
        "memory_ratio",
    }
)


def _json_safe(obj: Any) -> Any:
    """Replace non-finite floats (not valid JSON) with None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------
# profiling


def profile(workload: str, *, quick: bool = False, top: int = 25) -> str:
    """Profile one engine workload (``seq``, ``par`` or ``tracing``) with cProfile."""
    s = SIZES["quick" if quick else "full"]
    ctx = _ctx0()
    if workload == "seq":
        prog = compiler.compile(_seq_term(s["seq"]))
        rounds, level = 20, "none"
    elif workload == "tracing":
        prog = compiler.compile(_seq_term(s["seq"]))
        rounds, level = 20, "full"
    elif workload == "par":
        prog = compiler.compile(par(*(task(f"b{i}", _FNS[i % 8]) for i in range(s["par"]))))
        rounds, level = 2000, "none"
    else:
        raise ValueError(f"unknown workload {workload!r}: expected seq, par or tracing")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(1 if quick else rounds):
        _run_case(prog, ctx, level)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    p = argparse.ArgumentParser(
        prog="python -m wftrio.bench", description="wftrio's performance figures."
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    p.add_argument("--repeat", type=int, default=5, help="best of N (default 5)")
    p.add_argument(
        "--only",
        default=",".join(FIGURES),
        help=f"comma-separated figures to run (default all: {','.join(FIGURES)})",
    )
    p.add_argument(
        "--profile",
        choices=("seq", "par", "tracing"),
        help="profile one engine workload with cProfile instead of benchmarking",
    )
    args = p.parse_args(argv)
    if args.profile:
        print(profile(args.profile, quick=args.quick))
        return 0
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    unknown = sorted(set(only) - set(FIGURES))
    if unknown:
        p.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    report = run_benchmarks(quick=args.quick, repeat=args.repeat, only=only)
    if args.json:
        json.dump(_json_safe(report), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
