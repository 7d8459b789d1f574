"""Figure 8: how many states ``wf.validate`` explores, with and without reduction."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from wftrio import compiler
from wftrio.bench._report import figure
from wftrio.bench._workloads import incrementer
from wftrio.terms import Term, mi, par, seq, task, wait_signal
from wftrio.validation.explore import Bounds, explore

__all__ = ["bench_validate", "validation_families"]


def validation_families(k: int) -> dict[str, list[Term]]:
    """Growing terms: a ``par`` of ``1..k`` branches of (task, effect, signal wait),
    and an ``mi`` of ``1..k`` instances of the same body."""

    async def effect(ctx: Mapping[str, Any]) -> None:
        return None

    def branch_(i: int) -> Term:
        return seq(task(f"t{i}", incrementer("a")), task(f"e{i}", effect), wait_signal(f"s{i}"))

    return {
        "par": [par(*(branch_(i) for i in range(n))) for n in range(1, k + 1)],
        "mi": [mi(branch_(0), count=n) for n in range(1, k + 1)],
    }


def bench_validate(k: int, max_states: int = 20_000) -> dict[str, Any]:
    """Figure 8: exploration cost of ``wf.validate`` on growing terms.

    For every term of the two :func:`validation_families` the state space is
    explored with partial-order and symmetry reduction and without (the
    full interleaving graph, capped at ``max_states``); the figure reports
    states and times of both, and its ratio is reduced / full states for
    the largest ``par`` term.  No target: it shows how far the reductions
    push the bounds.
    """
    bounds = Bounds(max_states=max_states, max_depth=10_000, max_tokens=10_000)
    families: dict[str, list[dict[str, Any]]] = {}
    for fam, terms in validation_families(k).items():
        rows: list[dict[str, Any]] = []
        for n, term in enumerate(terms, 1):
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
    return figure(
        f"validate: states explored, par of {k} branches (task, effect, wait), reduced / full",
        float(last["states_reduced"]),
        float(last["states_full"]),
        "states",
        "reported",
        None,
        families=families,
        us_per_state=last["us_per_state"],
    )
