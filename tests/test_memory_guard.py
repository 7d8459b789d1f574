"""Memory guard: what a case waiting on a signal costs, against a trio task blocked on an Event.

Measured as a ratio in the same process with tracemalloc
(``wftrio.bench.measure_waiting_cases``: bytes allocated while n cases wait,
over n, next to n bare tasks blocked on ``trio.Event.wait`` measured the same
way).  It is a ratio of bytes, not a time, so it is stable enough to assert;
later work that makes a waiting case heavier fails here.

* At every level a waiting case now meets the target, at most 2x: a case
  waiting on signals alone keeps no trio task (its inbox is parked and the
  next message starts its runner again; ``Case.run``).  Measured
  2026-12-05: ~2,600 B per case at the default level ``"full"``, 1.47x
  at 10,000 cases (2.43x before, when each case kept its blocked runner
  task, ~1.7 KB of it).
"""

from __future__ import annotations

import pytest

from wftrio.bench import measure_waiting_cases

CASES = 2_000


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trace_level", "bound"),
    [pytest.param("none", 2.0, id="level-none"), pytest.param(None, 2.0, id="default-level")],
)
def test_a_waiting_case_costs_at_most_its_bound(trace_level: str | None, bound: float) -> None:
    res = measure_waiting_cases(CASES, trace_level=trace_level)
    assert res["cases"] == CASES
    assert res["bytes_per_bare_task"] > 1_000  # the baseline measured something real
    assert res["memory_ratio"] <= bound, (
        f"{res['bytes_per_case']:,} B per waiting case against "
        f"{res['bytes_per_bare_task']:,} B per blocked trio task"
    )
