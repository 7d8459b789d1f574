"""wftrio's own benchmark: ``python -m wftrio.bench`` (or ``wftrio bench``).

Every figure is a ratio against a baseline measured in the same run, so the
numbers mean much the same on any machine.  docs/BENCHMARKS.md lists the
figures, their targets, what each baseline does and what was measured.

The package is maintainer tooling, layered above the runtime:

``_timing``     the harness: best of N, garbage collector off, samples interleaved
``_workloads``  the pure task functions and terms the engine figures run
``_sequence``   figures 1 and 6: a ``seq`` of pure tasks, untraced and traced
``_joins``      figures 2, 2b, 3, 3b: ``par`` and discriminators, against trio
                nurseries (different work) and against plain calls (equal work)
``_scaling``    figures 4, 5a, 5b, 12c: costs that must not grow with the rest
``_waiting``    figures 7, 12, 12b: concurrent cases waiting on a signal, on the runtime
``_effect``     figures 9, 9b, 9c: a ``par`` of effects on a substrate against a raw nursery
``_waiters``    figure 10: many tokens waiting on one signal name
``_latency``    figures 11, 11b: one small case end to end; ``wf.run`` against ``trio.run``
``_validate``   figure 8: states explored by ``wf.validate``
``_suite``      the figures in report order, their sizes, :func:`run_benchmarks`
``_report``     figure records, the text table, JSON, ``--compare``
``_profile``    ``--profile``: one engine workload under cProfile
``_cli``        :func:`main`
"""

from __future__ import annotations

from wftrio.bench._cli import main
from wftrio.bench._profile import profile
from wftrio.bench._report import compare, format_compare, format_table, load_baseline
from wftrio.bench._suite import FIGURES, FULL_SIZES, LABELS, SIZES, run_benchmarks
from wftrio.bench._waiting import measure_waiting_cases, waiting_case_term

__all__ = [
    "FIGURES",
    "FULL_SIZES",
    "LABELS",
    "SIZES",
    "compare",
    "format_compare",
    "format_table",
    "load_baseline",
    "main",
    "measure_waiting_cases",
    "profile",
    "run_benchmarks",
    "waiting_case_term",
]
