"""Testing support for wftrio workflows and for wftrio itself.

* :mod:`wftrio.testing.strategies`: hypothesis strategies, above all
  :func:`terms` (random well-formed workflow terms).
* :class:`Driver` / :func:`drive`: run a bare reducer state to completion
  against a seeded random outside world (:class:`Environment`) that feeds
  signals, fires timers, answers effects and cancels regions or the case.
* :func:`check_invariants`: consistency checks of an execution state.

Needs ``hypothesis`` (wftrio's ``test`` extra).
"""

from __future__ import annotations

from wftrio.errors import EffectSuspended, InvariantViolation
from wftrio.testing.driver import Driver, DriveResult, Environment, drive
from wftrio.testing.invariants import check_invariants
from wftrio.testing.strategies import InvalidArgument, scheduler_seeds, schedulers, terms

__all__ = [
    "DriveResult",
    "Driver",
    "EffectSuspended",
    "Environment",
    "InvalidArgument",
    "InvariantViolation",
    "check_invariants",
    "drive",
    "scheduler_seeds",
    "schedulers",
    "terms",
]
