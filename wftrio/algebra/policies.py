"""Policies attached to terms: a task's :class:`Retry`, a join's :class:`First`.

Policies are frozen values like the terms that carry them; they validate
their fields on construction and raise
:class:`~wftrio.errors.TermTypeError` naming the argument.
"""

from __future__ import annotations

import math
import sys
from typing import Literal, TypeAlias

import attrs

from wftrio.algebra.checks import check_int, check_number, is_int
from wftrio.errors import TermTypeError

__all__ = ["First", "JoinPolicy", "Retry", "first"]


_LOG_MAX = math.log(sys.float_info.max) - 1e-9  # exp() of it is a finite float


def _exc_types(value: object) -> tuple[type[Exception], ...]:
    items = value if isinstance(value, tuple) else (value,)
    for x in items:
        if not (isinstance(x, type) and issubclass(x, Exception)):
            raise TermTypeError(
                f"Retry(on={value!r}): expected an Exception subclass or a tuple of them "
                "(never BaseException: cancellation must not be retried)"
            )
    if not items:
        raise TermTypeError("Retry(on=()): give at least one exception type")
    return items


@attrs.frozen(repr=False)
class Retry:
    """Retry policy of a task's effect: ``task(name, fn, retry=Retry(3, 0.5))``.

    An effect attempt that raises one of ``on`` (a timed-out attempt raises
    ``wftrio.EffectTimeout``, an ``Exception``) is tried again after
    ``backoff * factor ** (n - 1)`` seconds of trio time (``n`` = attempts
    made so far; capped at ``max_backoff``), until ``attempts`` attempts
    were made.  No jitter: the delays are part of the deterministic record.

    Attributes:
        attempts: total attempts, the first included (>= 1).
        backoff: delay before the second attempt, in seconds (>= 0).
        factor: multiplier of the delay per further attempt (>= 1).
        max_backoff: upper bound of one delay (``None``: unbounded).
        on: exception types that are retried (default: every ``Exception``).

    Raises:
        TermTypeError: an argument is out of range or of the wrong type.
    """

    attempts: int = 3
    backoff: float = 0.0
    factor: float = 2.0
    max_backoff: float | None = None
    on: tuple[type[Exception], ...] = attrs.field(default=(Exception,), converter=_exc_types)

    def __attrs_post_init__(self) -> None:
        a = self.attempts
        if not is_int(a) or a < 1:
            raise TermTypeError(f"Retry(attempts={a!r}): must be an int >= 1")
        # floats, so that the delays recorded in traces do not depend on how they were written
        b = check_number("Retry", "backoff", self.backoff, low=0.0, strict=False)
        object.__setattr__(self, "backoff", b)
        f = check_number("Retry", "factor", self.factor, low=1.0, strict=False)
        object.__setattr__(self, "factor", f)
        if self.max_backoff is not None:
            m = check_number("Retry", "max_backoff", self.max_backoff, low=0.0, strict=False)
            object.__setattr__(self, "max_backoff", m)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Defined for every attempt count: ``max_backoff`` caps the delay
        before the power is taken, so a huge ``attempt`` never overflows;
        without ``max_backoff`` a delay too large for a float is ``inf``.

        Raises:
            TermTypeError: ``attempt`` is not an int >= 1.
        """
        if not is_int(attempt) or attempt < 1:
            raise TermTypeError(f"Retry.delay(attempt={attempt!r}): must be an int >= 1")
        cap = self.max_backoff
        b, f, e = self.backoff, self.factor, attempt - 1
        if b == 0.0 or e == 0 or f == 1.0:
            d = b
        elif cap == 0.0:
            return 0.0
        else:
            # compare exponents (in log space) first, so factor ** e is taken only when
            # the delay stays below the cap, or below a float's range without one
            top = _LOG_MAX if cap is None else math.log(cap)
            if e > (top - math.log(b)) / math.log(f):
                return cap if cap is not None else math.inf
            try:
                d = b * f**e
            except OverflowError:  # f ** e alone overflows although b * f ** e fits
                d = math.exp(min(math.log(b) + e * math.log(f), _LOG_MAX))
        return d if cap is None else min(d, cap)

    def retries(self, exc: BaseException) -> bool:
        """Whether an attempt that raised ``exc`` is retried (attempts permitting)."""
        return isinstance(exc, self.on)

    def __repr__(self) -> str:
        parts = [repr(self.attempts), repr(self.backoff)]
        if self.factor != 2.0:
            parts.append(f"factor={self.factor!r}")
        if self.max_backoff is not None:
            parts.append(f"max_backoff={self.max_backoff!r}")
        if self.on != (Exception,):
            names = ", ".join(t.__qualname__ for t in self.on)
            parts.append(f"on=({names}{',' if len(self.on) == 1 else ''})")
        return f"Retry({', '.join(parts)})"


@attrs.frozen(repr=False)
class First:
    """Join policy: fire after the first ``n`` branches arrive (see :func:`first`).

    Raises:
        TermTypeError: ``n`` is not an int >= 1, ``cancel_rest`` or
            ``blocking`` not a bool, or both set.
    """

    n: int = 1
    cancel_rest: bool = False
    blocking: bool = False

    def __attrs_post_init__(self) -> None:
        check_int("first", "n", self.n, low=1)
        if not isinstance(self.cancel_rest, bool):
            raise TermTypeError(f"first(cancel_rest={self.cancel_rest!r}): must be a bool")
        if not isinstance(self.blocking, bool):
            raise TermTypeError(f"first(blocking={self.blocking!r}): must be a bool")
        if self.blocking and self.cancel_rest:
            raise TermTypeError(
                f"first({self.n}, cancel_rest=True, blocking=True): give one of them; a "
                "cancelling join withdraws the late branches, so there is nothing to block on"
            )

    def __repr__(self) -> str:
        extra = ", cancel_rest=True" if self.cancel_rest else ""
        if self.blocking:
            extra += ", blocking=True"
        return f"first({self.n}{extra})"


JoinPolicy: TypeAlias = "Literal['all', 'sync_merge'] | First"


def first(n: int = 1, cancel_rest: bool = False, *, blocking: bool = False) -> First:
    """Join policy firing once ``n`` branches have arrived.

    ``first(1)`` is the discriminator (WCP-9), ``first(1, cancel_rest=True)``
    the cancelling discriminator (WCP-29), ``first(n)`` the partial
    (N-out-of-M) join (WCP-30).  Late branches finish and are absorbed unless
    ``cancel_rest`` withdraws them when the join fires.

    ``blocking=True`` makes the join block until reset: ``first(1,
    blocking=True)`` is the blocking discriminator (WCP-28), ``first(n,
    blocking=True)`` the blocking partial join (WCP-31).  When the join is
    reached again (a loop around it) before every branch of its previous
    activation has arrived, the new activation's arrivals are held, neither
    counted nor passed on, until the previous activation resets (its last
    branch arrives, or its remaining branches are withdrawn); then they
    count, in the order they came.  The late branches are never cancelled.

    Raises:
        TermTypeError: ``n`` is not an int >= 1, ``cancel_rest`` or
            ``blocking`` not a bool, or both set.
    """
    return First(n, cancel_rest, blocking)
