"""The figures in report order, their sizes, and one run of a selection of them."""

from __future__ import annotations

import gc
import platform
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import trio

from wftrio import compiler
from wftrio.bench._durable import (
    bench_durable_bytes,
    bench_durable_resume,
    bench_durable_signals,
    bench_durable_steps,
)
from wftrio.bench._effect import bench_effect, bench_effect_ctx, bench_effect_marginal
from wftrio.bench._joins import (
    bench_discriminator,
    bench_discriminator_calls,
    bench_par,
    bench_par_calls,
)
from wftrio.bench._latency import bench_run_overhead, bench_small_case
from wftrio.bench._report import REPORT_VERSION
from wftrio.bench._scaleout import scaleout_figure
from wftrio.bench._scaling import (
    bench_cancel_region,
    bench_compile,
    bench_par_width,
    bench_run_per_step,
)
from wftrio.bench._sequence import bench_seq, bench_tracing
from wftrio.bench._validate import bench_validate, bench_validate_scale
from wftrio.bench._waiters import bench_many_waiters
from wftrio.bench._waiting import (
    bench_waiting_cases,
    bench_waiting_scale_memory,
    bench_waiting_scale_start,
)

__all__ = ["FIGURES", "FULL_SIZES", "LABELS", "SIZES", "run_benchmarks"]

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
        "effect": 100,
        "effect_keys": 10_000,
        "waiters_small": 1_000,
        "waiters_large": 32_000,
        "small_cases": 200,
        "scale_small": 1_000,
        "scale_mid": 10_000,
        "scale_large": 0,  # 100,000 with --full
        "width_base": 100,
        "width_max": 10_000,
        "validate_seq": 10_000,
        "durable_tasks": 1_000,
        "durable_cases": 20,
        "durable_signals": 500,
        "durable_stored": 10_000,
        "scaleout_cases": 2_000,
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
        # 9c subtracts a par of 3 from a par of 30: at 10 and 1 the
        # difference drowned in the samples' noise (~5% of runs measured 0)
        "effect": 30,
        "effect_keys": 200,
        "waiters_small": 50,
        "waiters_large": 200,
        "small_cases": 5,
        "scale_small": 20,
        "scale_mid": 50,
        "scale_large": 0,
        "width_base": 10,
        "width_max": 100,
        "validate_seq": 100,
        "durable_tasks": 50,
        "durable_cases": 2,
        "durable_signals": 10,
        "durable_stored": 20,
        "scaleout_cases": 20,
    },
}
"""Workload sizes for a full run and for ``--quick`` (a smoke test, not a measurement)."""

FULL_SIZES: dict[str, int] = {"scale_large": 100_000}
"""What ``--full`` adds to a run's sizes: figures 12 and 12b with 100,000 waiting
cases (about two minutes more, most of it under tracemalloc)."""


def _scale(s: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(n for n in (s["scale_small"], s["scale_mid"], s["scale_large"]) if n)


def _widths(s: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(w for w in (10, 100, 1_000, 10_000) if w <= s["width_max"])


_Runner = Callable[[Mapping[str, int], int], dict[str, Any]]

_TABLE: tuple[tuple[str, str, _Runner], ...] = (
    ("seq", "1", lambda s, r: bench_seq(s["seq"], r)),
    ("par", "2", lambda s, r: bench_par(s["par"], r)),
    ("par_calls", "2b", lambda s, r: bench_par_calls(s["par"], r)),
    ("discriminator", "3", lambda s, r: bench_discriminator(s["disc"], r)),
    ("discriminator_calls", "3b", lambda s, r: bench_discriminator_calls(s["disc"], r)),
    (
        "cancel_region",
        "4",
        lambda s, r: bench_cancel_region(s["region_k"], s["others_small"], s["others_large"], r),
    ),
    ("compile", "5a", lambda s, r: bench_compile(s["nodes_small"], s["nodes_large"], r)),
    ("run", "5b", lambda s, r: bench_run_per_step(s["run_small"], s["nodes_large"], r)),
    ("tracing", "6", lambda s, r: bench_tracing(s["seq"], r)),
    ("waiting", "7", lambda s, r: bench_waiting_cases(s["waiting"])),
    ("validate", "8", lambda s, r: bench_validate(s["validate_k"])),
    ("effect", "9", lambda s, r: bench_effect(s["effect"], r)),
    ("effect_ctx", "9b", lambda s, r: bench_effect_ctx(s["effect"], s["effect_keys"], r)),
    (
        "effect_marginal",
        "9c",
        lambda s, r: bench_effect_marginal(s["effect"], s["effect_keys"], r),
    ),
    (
        "waiters",
        "10",
        lambda s, r: bench_many_waiters(s["waiters_small"], s["waiters_large"], r),
    ),
    ("small_case", "11", lambda s, r: bench_small_case(s["small_cases"], r)),
    ("run_overhead", "11b", lambda s, r: bench_run_overhead(r)),
    ("scale_memory", "12", lambda s, r: bench_waiting_scale_memory(_scale(s), r)),
    ("scale_start", "12b", lambda s, r: bench_waiting_scale_start(_scale(s), r)),
    ("par_width", "12c", lambda s, r: bench_par_width(_widths(s), s["width_base"], r)),
    (
        "validate_scale",
        "8b",
        lambda s, r: bench_validate_scale(s["validate_seq"], (8, 32, 128), r),
    ),
    (
        "durable_steps",
        "13",
        lambda s, r: bench_durable_steps(s["durable_tasks"], s["durable_cases"], r),
    ),
    ("durable_signals", "13b", lambda s, r: bench_durable_signals(s["durable_signals"], r)),
    ("durable_resume", "13c", lambda s, r: bench_durable_resume(s["durable_stored"], r)),
    ("durable_bytes", "13d", lambda s, r: bench_durable_bytes(s["durable_stored"])),
    (
        "scaleout_cases",
        "14",
        lambda s, r: scaleout_figure("scaleout_cases", s["scaleout_cases"], r),
    ),
    (
        "scaleout_signals",
        "14b",
        lambda s, r: scaleout_figure("scaleout_signals", s["scaleout_cases"], r),
    ),
    (
        "scaleout_claim",
        "14c",
        lambda s, r: scaleout_figure("scaleout_claim", s["scaleout_cases"], r),
    ),
)

FIGURES: tuple[str, ...] = tuple(name for name, _, _ in _TABLE)
"""Figure names, in report order (``--only`` takes a comma-separated subset)."""

LABELS: dict[str, str] = {name: label for name, label, _ in _TABLE}
"""The figure numbers docs/BENCHMARKS.md uses."""


def run_benchmarks(
    *, quick: bool = False, repeat: int = 5, only: Sequence[str] = FIGURES, full: bool = False
) -> dict[str, Any]:
    """Run the selected figures and return the JSON-able report.

    Args:
        quick: tiny sizes and one sample each (a smoke test, not a measurement).
        full: add the largest sizes (:data:`FULL_SIZES`); ignored with ``quick``.
        repeat: samples per figure (best of ``repeat``); ignored with ``quick``.
        only: the names of the figures to run (see :data:`FIGURES`).

    Raises:
        ValueError: ``only`` names an unknown figure, or ``repeat`` < 1.
    """
    unknown = sorted(set(only) - set(FIGURES))
    if unknown:
        raise ValueError(
            f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}"
        )
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    sizes = dict(SIZES["quick" if quick else "full"])
    if full and not quick:
        sizes.update(FULL_SIZES)
    rep = 1 if quick else repeat
    figs: dict[str, Any] = {}
    for name, label, runner in _TABLE:
        if name in only:
            figs[name] = {"id": label, **runner(sizes, rep)}
            compiler.clear_cache()  # each figure starts from a clean heap
            gc.collect()
    return {
        "wftrio_bench": REPORT_VERSION,
        "quick": quick,
        "full": full and not quick,
        "repeat": rep,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "trio": trio.__version__,
        "figures": figs,
    }
