"""Consistency checks of a reducer's execution state, for tests.

:func:`check_invariants` inspects an :class:`~wftrio.engine.ExecState`
between steps (after ``run``, or after any ``feed_*`` / ``cancel*`` call)
and raises :class:`InvariantViolation` listing everything inconsistent.
The invariants are the engine's own (:mod:`wftrio.engine.consistency`,
which also guards snapshot restore): every live token registered, in its
region and either runnable or waiting with every registration its wait
names; no orphaned waiter, effect or timer entry; live regions reachable,
alive, indexed and holding something; join, loop and mi counters in range
and ``fired`` agreeing with them; a blocked case waiting on something and a
finished one holding nothing.
"""

from __future__ import annotations

from wftrio.engine import ExecState
from wftrio.engine.consistency import CHECKED, NOT_CHECKED, violations
from wftrio.errors import InvariantViolation

__all__ = [
    "CHECKED",
    "NOT_CHECKED",
    "InvariantViolation",
    "check_invariants",
    "invariant_violations",
]


def invariant_violations(st: ExecState) -> list[str]:
    """Return a description of every invariant ``st`` breaks (empty when consistent)."""
    return [message for _field, message in violations(st)]


def check_invariants(st: ExecState) -> None:
    """Check the consistency of ``st`` (see the module docstring).

    Call it between steps: after ``run``, or after any input.  It is a
    test helper: it walks the whole state, so it costs O(size of the state).

    Raises:
        InvariantViolation: listing every broken invariant.
    """
    bad = invariant_violations(st)
    if bad:
        raise InvariantViolation(f"{st!r} breaks {len(bad)} invariant(s):\n  " + "\n  ".join(bad))
