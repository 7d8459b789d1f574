"""Sweep: how many random pure compositions hit a validation bound (not a test).

Draws terms from ``wftrio.testing.strategies.terms`` without signals, timers,
effects or ``terminate()`` (up to 20 leaves, width 4, the strategy of
``test_random_pure_compositions_validate_without_error``), validates each with
the default bounds (and a per-term time cap, so one stubborn term does not
stall the sweep) and prints the rate of terms that hit a bound, with the worst
ones.  By default (``all``) it draws every pure constructor, the MI
patterns' ``until`` / condition joins / ``cancel_rest`` included: the
property test's exact strategy.  With ``plain`` as the fourth argument it
leaves those options out (the property test's strategy until regions were
let into blocks; ``test`` is an older name for it).  Figures in
docs/VALIDATION.md ("Random pure compositions").

    PYTHONPATH=$PWD python tests/sweep_pure.py [N] [SEED] [CAP_SECONDS] [all|plain]
"""

from __future__ import annotations

import sys
import time

from hypothesis import HealthCheck, given, seed, settings

from wftrio.compiler import compile as compile_term
from wftrio.testing.strategies import terms
from wftrio.validation._api import Options, _analyze

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 0
CAP = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
STRATEGY = sys.argv[4] if len(sys.argv) > 4 else "all"
if STRATEGY == "test":
    STRATEGY = "plain"
if STRATEGY not in ("all", "plain"):
    raise SystemExit(f"strategy must be 'all' or 'plain', not {STRATEGY!r}")

random_pure = terms(
    signals=False,
    timers=False,
    effects=False,
    terminate=False,
    max_leaves=20,
    max_width=4,
    mi_patterns=STRATEGY == "all",
)

drawn: list[tuple[float, int, dict[str, int], str]] = []


@seed(SEED)
@settings(
    max_examples=N,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(term=random_pure)
def _one(term: object) -> None:
    program = compile_term(term)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    rep = _analyze(program.term, program, Options(), budget_s=CAP)
    dt = time.perf_counter() - t0
    drawn.append((dt, rep.states, dict(rep.bounds_hit), repr(term)))


if __name__ == "__main__":
    t0 = time.perf_counter()
    _one()
    bad = [d for d in drawn if d[2]]
    times = sorted(d[0] for d in drawn)
    print(
        f"{len(drawn)} terms (seed {SEED}, {STRATEGY}) in {time.perf_counter() - t0:.0f} s: "
        f"{len(bad)} hit a bound ({100 * len(bad) / max(1, len(drawn)):.2f} %); "
        f"median {1000 * times[len(times) // 2]:.2f} ms, slowest {times[-1]:.2f} s"
    )
    for dt, states, hit, text in sorted(drawn, reverse=True)[:8]:
        print(f"  {dt:7.3f} s {states:6d} states {hit or ''}\n    {text[:600]}")
