"""Governance of effects: allowlists, budgets, and the errors they raise.

* **Allowlists.**  ``region(..., allow={...})`` names the effect kinds an
  effect inside the region may have; the case option ``allow=`` does the
  same for the whole case.  An effect must be allowed by the case and by
  every region around it.  A disallowed effect never runs: it leaves a
  receipt with outcome ``"disallowed"`` and fails its task with a
  :class:`GuardViolation`.
* **Budgets.**  The case option ``budget=Budget(max_effects=, max_time=,
  max_cost=)`` bounds the number of effects started, the total time of the
  finished ones and the sum of their declared costs.  An effect that would
  exceed the budget never runs: it leaves a receipt with outcome
  ``"over_budget"`` and fails its task with :class:`BudgetExceeded`.
  ``sub.status(case_id).budget`` shows what was used.
* **Approvals** are a pattern, :func:`wftrio.patterns.approval`, decided by
  the signal :func:`approval_signal` carrying :func:`approve` or
  :func:`reject`; each decision leaves a receipt naming who made it.  These
  helpers live in :mod:`wftrio.algebra.approval` (below every layer that
  uses them) and are re-exported here.

The checks run in the reducer, when an effect is requested, so they are as
deterministic as the rest of a case: a replay refuses exactly what the
recorded run refused.  This module imports no trio.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

# approval points are part of the algebra (the pattern needs them); re-exported here
from wftrio.algebra.approval import approval_functions, approval_signal, approve, reject
from wftrio.algebra.checks import is_int
from wftrio.errors import (
    ApprovalRejected,
    BudgetExceeded,
    GovernanceError,
    GuardViolation,
)

__all__ = [
    "ApprovalRejected",
    "Budget",
    "BudgetExceeded",
    "BudgetUsage",
    "GovernanceError",
    "Governor",
    "GuardViolation",
    "approval_functions",
    "approval_signal",
    "approve",
    "as_allow",
    "as_budget",
    "reject",
]


def _limit(name: str, value: object, *, integer: bool) -> Any:
    if value is None:
        return None
    if integer:
        if not is_int(value) or value < 0:
            raise GovernanceError(f"Budget({name}={value!r}): must be None or an int >= 0")
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value < 0
    ):
        raise GovernanceError(f"Budget({name}={value!r}): must be None or a number >= 0")
    return float(value)


def _max_effects(v: object) -> int | None:
    return _limit("max_effects", v, integer=True)  # type: ignore[no-any-return]


def _max_time(v: object) -> float | None:
    return _limit("max_time", v, integer=False)  # type: ignore[no-any-return]


def _max_cost(v: object) -> float | None:
    return _limit("max_cost", v, integer=False)  # type: ignore[no-any-return]


@attrs.frozen
class Budget:
    """A case's effect budget (the ``budget=`` option).  ``None`` means unbounded.

    Attributes:
        max_effects: effects that may be started (refused ones do not count).
        max_time: total seconds (trio time) of the finished effects, each
            from its request to its outcome; an effect is refused once the
            total has reached the limit (effects in flight may overshoot it).
        max_cost: total declared cost (``task(cost=)`` / ``Effect(cost=)``).

    Raises:
        GovernanceError: a limit is negative or of the wrong type.
    """

    max_effects: int | None = attrs.field(default=None, converter=_max_effects)
    max_time: float | None = attrs.field(default=None, converter=_max_time)
    max_cost: float | None = attrs.field(default=None, converter=_max_cost)


@attrs.frozen
class BudgetUsage:
    """What a case used of its budget (``sub.status(case_id).budget``).

    Attributes:
        effects: effects started.
        time: seconds of finished effects.
        cost: declared cost of the started effects.
        budget: the limits (``None``: the case has no budget).
    """

    effects: int
    time: float
    cost: float
    budget: Budget | None = None

    @property
    def remaining(self) -> dict[str, float | None]:
        """What is left of each limit (``None`` where unbounded)."""
        b = self.budget or Budget()
        return {
            "effects": None if b.max_effects is None else b.max_effects - self.effects,
            "time": None if b.max_time is None else max(0.0, b.max_time - self.time),
            "cost": None if b.max_cost is None else b.max_cost - self.cost,
        }


def as_budget(value: object, where: str = "budget") -> Budget | None:
    """Normalise a ``budget=`` option: a :class:`Budget`, a mapping of its fields, or None.

    Raises:
        GovernanceError: anything else, or a bad limit.
    """
    if value is None or isinstance(value, Budget):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"max_effects", "max_time", "max_cost"}
        if unknown:
            raise GovernanceError(
                f"{where}: unknown budget limit(s) {sorted(map(str, unknown))}; expected "
                "max_effects, max_time, max_cost"
            )
        return Budget(**value)
    raise GovernanceError(f"{where}={value!r}: expected wf.Budget(...), a mapping or None")


def as_allow(value: object, where: str = "allow") -> frozenset[str] | None:
    """Normalise an ``allow=`` option: a collection of effect kinds, or None.

    Raises:
        GovernanceError: a string (not a collection of them) or a non-string kind.
    """
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise GovernanceError(f"{where}={value!r}: expected a set of effect kinds (strings)")
    kinds = frozenset(value)
    for k in kinds:
        if not isinstance(k, str) or not k:
            raise GovernanceError(f"{where}: effect kinds must be non-empty strings, got {k!r}")
    return kinds


class Governor:
    """The governance state of one case (part of its reducer state).

    ``allow`` and ``budget`` are the case's options; ``effects``, ``time``
    and ``cost`` what it used.  Invariant: ``effects`` counts exactly the
    admitted effects, ``cost`` their costs, ``time`` the durations of those
    that finished with a recorded outcome (ok, error, timed out).
    """

    __slots__ = ("allow", "budget", "cost", "effects", "time")

    def __init__(self, allow: frozenset[str] | None = None, budget: Budget | None = None) -> None:
        self.allow = allow
        self.budget = budget
        self.effects = 0
        self.time = 0.0
        self.cost = 0.0

    def admit(
        self,
        kind: str,
        task: str,
        cost: float,
        regions: Sequence[tuple[str, frozenset[str]]],
    ) -> GuardViolation | BudgetExceeded | None:
        """Admit an effect (charging count and cost) or return why it is refused.

        ``regions`` are the ``(scope_id, allow)`` of the regions around the
        effect that have an allowlist, innermost first.
        """
        for scope, allowed in regions:
            if kind not in allowed:
                return GuardViolation(kind, task, scope, allowed)
        if self.allow is not None and kind not in self.allow:
            return GuardViolation(kind, task, None, self.allow)
        b = self.budget
        if b is not None:
            if b.max_effects is not None and self.effects + 1 > b.max_effects:
                return BudgetExceeded("effects", b.max_effects, self.effects, 1, kind, task)
            if b.max_time is not None and self.time >= b.max_time:
                return BudgetExceeded("time", b.max_time, self.time, None, kind, task)
            if b.max_cost is not None and self.cost + cost > b.max_cost:
                return BudgetExceeded("cost", b.max_cost, self.cost, cost, kind, task)
        self.effects += 1
        self.cost += cost
        return None

    def charge_time(self, seconds: float) -> None:
        """Charge a finished effect's duration."""
        if seconds > 0:
            self.time += seconds

    def usage(self) -> BudgetUsage:
        """What was used so far, with the limits."""
        return BudgetUsage(self.effects, self.time, self.cost, self.budget)

    def __repr__(self) -> str:
        return f"<Governor effects={self.effects} time={self.time:g} cost={self.cost:g}>"
