"""Memory guard: a case waiting on a signal costs at most 2x a trio task blocked on an Event.

DESIGN.md's target, measured as a ratio in the same process with tracemalloc
(``wftrio.bench.measure_waiting_cases``: bytes allocated while n cases wait,
over n, next to n bare tasks blocked on ``trio.Event.wait`` measured the same
way).  It is a ratio of bytes, not a time, so it is stable enough to assert;
later work that makes a waiting case heavier fails here.
"""

from __future__ import annotations

import pytest

from wftrio.bench import measure_waiting_cases

CASES = 2_000

DEFAULT_LEVEL_GAP = (
    "at the default trace level (full) a waiting case keeps 4 trace events "
    "(case_started, case_state x2, signal_waiting: 448 B of tuples) with their data "
    "dicts and the events list, ~1,300 B: ~4,700 B per case, 2.6x (measured "
    "2026-12-04; level none: 3,380 B, 1.87x). Remove this xfail when the default "
    "level fits (strict: it fails once it does)."
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "trace_level",
    [
        pytest.param(
            None, id="default-level", marks=pytest.mark.xfail(strict=True, reason=DEFAULT_LEVEL_GAP)
        ),
        pytest.param("none", id="level-none"),
    ],
)
def test_a_waiting_case_costs_at_most_twice_a_blocked_trio_task(trace_level: str | None) -> None:
    res = measure_waiting_cases(CASES, trace_level=trace_level)
    assert res["cases"] == CASES
    assert res["bytes_per_bare_task"] > 1_000  # the baseline measured something real
    assert res["memory_ratio"] <= 2, (
        f"{res['bytes_per_case']:,} B per waiting case against "
        f"{res['bytes_per_bare_task']:,} B per blocked trio task"
    )
