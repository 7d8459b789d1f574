"""What a case's inbox carries: one record type per kind of request, defined once.

The substrate's API (``signal``, ``cancel``, ``cancel_region``) and the
case's own child tasks (effect outcomes and retries, timer firings) put
these records in the case's :class:`~wftrio.runtime._inbox.Inbox`; the case
runner takes them in arrival order and feeds each to the reducer
(``Case.handle``, a ``match`` on the record's class).

They are ``NamedTuple`` s (``@final``: the runner dispatches on the exact
type, and mypy checks that it handles every one): immutable, typed field
by field, read by name.  Building one costs ~0.2 µs more than a bare
tuple, and dispatching it ~0.05 µs more than an int tag (measured; a
signal's round trip through a case is ~30 µs), and the waiting-case memory
of ``python -m wftrio.bench --only waiting`` does not move.  A waiting case holds none of them.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any, NamedTuple, TypeAlias, final

from wftrio.errors import EscapedBaseException

__all__ = [
    "CancelCase",
    "CancelRegion",
    "EffectOutcome",
    "EffectEscaped",
    "EffectRetry",
    "Message",
    "Signal",
    "TimerFired",
    "count_signals",
    "any_internal",
    "in_feed_order",
    "is_internal",
]


@final
class Signal(NamedTuple):
    """``sub.signal(case, name, payload, transient=...)``."""

    name: str
    payload: Any
    transient: bool
    req: int | None = None  # its request id in a durable store


@final
class EffectOutcome(NamedTuple):
    """An effect task's final outcome (from ``_effects.run_effect``).

    ``result`` is the function's or handler's return value when ``error``
    is ``None``; ``attempts`` counts every attempt made (the ones before a
    resume included); ``started`` / ``ended`` are case time; ``outcome`` is
    ``"ok"``, ``"error"`` or ``"timed_out"``.
    """

    eid: int
    result: Any
    error: BaseException | None
    attempts: int
    started: float
    ended: float
    outcome: str


@final
class EffectEscaped(NamedTuple):
    """A ``BaseException`` that is not the case's own cancellation escaped effect ``eid``.

    ``error`` is an :class:`~wftrio.errors.EscapedBaseException` whose
    ``__cause__`` is what escaped; the case records it as the effect's
    error and fails.
    """

    eid: int
    error: EscapedBaseException
    attempts: int
    started: float
    ended: float


@final
class EffectRetry(NamedTuple):
    """Attempt ``attempt`` of effect ``eid`` failed with ``error``; the next follows ``delay`` s."""

    eid: int
    attempt: int
    error: BaseException
    delay: float


@final
class TimerFired(NamedTuple):
    """Timer ``tid`` (an ``after`` alternative) is due.

    ``due``: among timers firing at one instant, the ones with a lower
    ``due`` are fed first (0.0 for all but a resumed durable case's overdue
    timers, which carry their wall-clock deadlines).
    """

    tid: int
    due: float = 0.0


@final
class CancelCase(NamedTuple):
    """``sub.cancel(case)``, requested at trio time ``requested_at``."""

    requested_at: float
    req: int | None = None  # its request id in a durable store


@final
class CancelRegion(NamedTuple):
    """``sub.cancel_region(case, scope_id)``."""

    scope_id: str
    req: int | None = None  # its request id in a durable store


Message: TypeAlias = (
    Signal | EffectOutcome | EffectEscaped | EffectRetry | TimerFired | CancelCase | CancelRegion
)
"""Anything a case's inbox carries."""


#: what the case's own effect tasks and timers send: their order within one
#: batch is whatever order trio happened to run those tasks in
_INTERNAL = frozenset({EffectOutcome, EffectRetry, EffectEscaped, TimerFired})


def is_internal(msg: Message) -> bool:
    """Whether ``msg`` comes from the case's own effect tasks or timers (not the world)."""
    return type(msg) in _INTERNAL


def any_internal(batch: list[Message]) -> bool:
    """Whether any message of ``batch`` is internal (:func:`is_internal`), at C speed."""
    return not _INTERNAL.isdisjoint(map(type, batch))


def _issue_order(msg: Message) -> tuple[int, float, int]:
    # timers after effects, each in the order the case issued them (overdue
    # timers of a resumed durable case first by their deadlines)
    if type(msg) is TimerFired:
        return (1, msg.due, msg.tid)
    return (0, 0.0, msg.eid)  # type: ignore[union-attr]


def in_feed_order(batch: list[Message]) -> list[Message]:
    """The order to feed one batch in: deterministic whatever trio's scheduling.

    Messages the world sends (signals, cancellations) keep their arrival
    order.  Each run of consecutive messages from the case's own effect tasks
    and timers (which finished at the same scheduling instant, e.g. effects
    sleeping for the same time under a virtual clock) is fed in the order the
    case issued them (by effect id, then timer id), not in the order trio ran
    their tasks, so a ``Seeded`` case is reproducible run after run.
    """
    out: list[Message] = []
    for internal, run in groupby(batch, key=is_internal):
        group = list(run)
        out.extend(sorted(group, key=_issue_order) if internal else group)
    return out


def count_signals(msgs: list[Message]) -> int:
    """How many of ``msgs`` are signals (undelivered when a closed inbox drops them)."""
    return sum(1 for m in msgs if type(m) is Signal)
