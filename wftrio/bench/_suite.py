"""The figures in report order, their sizes, and one run of a selection of them."""

from __future__ import annotations

import gc
import platform
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import trio

from wftrio import compiler
from wftrio.bench._joins import (
    bench_discriminator,
    bench_discriminator_calls,
    bench_par,
    bench_par_calls,
)
from wftrio.bench._report import REPORT_VERSION
from wftrio.bench._scaling import bench_cancel_region, bench_compile, bench_run_per_step
from wftrio.bench._sequence import bench_seq, bench_tracing
from wftrio.bench._validate import bench_validate, bench_validate_scale
from wftrio.bench._waiting import bench_waiting_cases

__all__ = ["FIGURES", "LABELS", "SIZES", "run_benchmarks"]

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
        "validate_seq": 10_000,
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
        "validate_seq": 100,
    },
}
"""Workload sizes for a full run and for ``--quick`` (a smoke test, not a measurement)."""

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
    (
        "validate_scale",
        "8b",
        lambda s, r: bench_validate_scale(s["validate_seq"], (8, 32, 128), r),
    ),
)

FIGURES: tuple[str, ...] = tuple(name for name, _, _ in _TABLE)
"""Figure names, in report order (``--only`` takes a comma-separated subset)."""

LABELS: dict[str, str] = {name: label for name, label, _ in _TABLE}
"""The figure numbers docs/BENCHMARKS.md uses."""


def run_benchmarks(
    *, quick: bool = False, repeat: int = 5, only: Sequence[str] = FIGURES
) -> dict[str, Any]:
    """Run the selected figures and return the JSON-able report.

    Args:
        quick: tiny sizes and one sample each (a smoke test, not a measurement).
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
    sizes = SIZES["quick" if quick else "full"]
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
        "repeat": rep,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "trio": trio.__version__,
        "figures": figs,
    }
