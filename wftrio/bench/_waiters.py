"""Figure 10: many tokens of one case waiting on one signal name, woken one by one.

The case is ``par`` of n ``wait_signal("go")``.  Each sample starts from a
freshly blocked case (untimed) and wakes every waiter: ``feed_signal("go")``
then ``run()``, n times.  The figure is the cost per signal with many
waiters against the same with few; anything the engine does in time
proportional to the other waiters (rescanning a dict's deleted slots, an
insertion at the front of a list) makes the ratio grow with n.  The notes
add the burst variant: all n signals fed before one ``run()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from wftrio import compiler
from wftrio.bench._report import figure
from wftrio.bench._timing import ratio, timed
from wftrio.bench._workloads import blocked_case, check
from wftrio.engine import ExecState, Status
from wftrio.engine.program import Program
from wftrio.terms import par, wait_signal

__all__ = ["bench_many_waiters"]


def _one_by_one(st: ExecState, n: int) -> None:
    for _ in range(n):
        st.feed_signal("go")
        st.run()


def _burst(st: ExecState, n: int) -> None:
    for _ in range(n):
        st.feed_signal("go")
    st.run()


def _wake_all(prog: Program, n: int, how: Callable[[ExecState, int], None]) -> float:
    box: list[ExecState] = []

    def setup() -> None:
        box[:] = [blocked_case(prog)]  # untimed, and freed before the next sample

    dt = timed(lambda: how(box[0], n), setup)
    check(box[0].status is Status.DONE, f"the waiters case ended {box[0].status}")
    return dt


def bench_many_waiters(small: int, large: int, repeat: int) -> dict[str, Any]:
    """Figure 10: per-signal cost with ``large`` vs ``small`` waiters on one name."""
    progs = {n: compiler.compile(par(*([wait_signal("go")] * n))) for n in (small, large)}
    best: dict[tuple[int, str], float] = {}
    for _ in range(max(3, repeat)):
        for n in (small, large):
            for name, how in (("turn", _one_by_one), ("burst", _burst)):
                t = _wake_all(progs[n], n, how) / n
                best[n, name] = min(best.get((n, name), math.inf), t)
    return figure(
        f"{large:,} vs {small:,} tokens waiting on one signal name, each woken in turn: per signal",
        best[large, "turn"] * 1e6,
        best[small, "turn"] * 1e6,
        "us/signal",
        "<= 1.5",
        ratio(best[large, "turn"], best[small, "turn"]) <= 1.5,
        small=small,
        large=large,
        burst_small_us=best[small, "burst"] * 1e6,
        burst_large_us=best[large, "burst"] * 1e6,
        burst_ratio=ratio(best[large, "burst"], best[small, "burst"]),
    )
