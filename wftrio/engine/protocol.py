"""The typed vocabulary shared by the engine, the runtime and the validator.

Defined once, here:

* :class:`WaitKind` and the wait records a blocked token holds in
  ``Token.wait`` (:class:`EffectWait`, :class:`SignalWait`,
  :class:`DeferWait` of :class:`DeferArm`);
* :class:`~wftrio.trace.EventKind`, the kinds of trace events (re-exported);
* :class:`Status`, where a case's reduction stands, and the commands the
  reducer queues for the outside world (:class:`StartEffect`,
  :class:`CancelEffect`, :class:`StartTimer`, :class:`CancelTimer`);
* :func:`error_info`, how an exception is described in trace events.

The wait records are ``NamedTuple``s: as cheap as the bare tuples they
replace on the reducer's hot path, immutable, and typed field by field.
Pattern logic reads them by name (``wait.kind``, ``wait.name``), never by
position.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias

import attrs

from wftrio.errors import RecordedError
from wftrio.trace import EventKind

if TYPE_CHECKING:
    from wftrio.effects import Effect
    from wftrio.terms import Retry

__all__ = [
    "FINAL",
    "CancelEffect",
    "CancelTimer",
    "Command",
    "DeferArm",
    "DeferWait",
    "EffectWait",
    "EventKind",
    "SignalWait",
    "StartEffect",
    "StartTimer",
    "Status",
    "Wait",
    "WaitKind",
    "error_info",
]


class WaitKind(enum.StrEnum):
    """What a blocked token waits for (also the kind of a deferred-choice arm)."""

    EFFECT = "effect"
    SIGNAL = "signal"
    TIMER = "timer"
    DEFER = "defer"


class EffectWait(NamedTuple):
    """Blocked on effect ``eid`` (a ``StartEffect`` command is out for it)."""

    kind: Literal[WaitKind.EFFECT]
    eid: int

    @classmethod
    def of(cls, eid: int) -> EffectWait:
        return cls(WaitKind.EFFECT, eid)


class SignalWait(NamedTuple):
    """Blocked in ``wait_signal(name)``: registered as a waiter for ``name``."""

    kind: Literal[WaitKind.SIGNAL]
    name: str

    @classmethod
    def of(cls, name: str) -> SignalWait:
        return cls(WaitKind.SIGNAL, name)


class DeferArm(NamedTuple):
    """One armed alternative of a deferred choice.

    ``kind`` is :attr:`WaitKind.SIGNAL` (``key`` is the signal name) or
    :attr:`WaitKind.TIMER` (``key`` is the timer id); ``alt`` is the
    alternative's index in the ``defer``.
    """

    kind: Literal[WaitKind.SIGNAL, WaitKind.TIMER]
    key: str | int
    alt: int


class DeferWait(NamedTuple):
    """Blocked in a ``defer``: every alternative armed, the first trigger wins."""

    kind: Literal[WaitKind.DEFER]
    arms: tuple[DeferArm, ...]

    @classmethod
    def of(cls, arms: tuple[DeferArm, ...]) -> DeferWait:
        return cls(WaitKind.DEFER, arms)


Wait: TypeAlias = EffectWait | SignalWait | DeferWait
"""What ``Token.wait`` holds while a token is blocked (``None`` when runnable)."""


class Status(enum.StrEnum):
    """Where a case's reduction stands."""

    RUNNING = "running"  # some token can step
    BLOCKED = "blocked"  # live tokens, all waiting on effects / signals / timers
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({Status.DONE, Status.FAILED, Status.CANCELLED})
"""The statuses a case never leaves."""


def error_info(exc: BaseException) -> dict[str, str]:
    """The JSON-able description of an exception recorded in trace events."""
    if isinstance(exc, RecordedError):
        return {"error_type": exc.type_name, "error": exc.message}
    return {"error_type": type(exc).__qualname__, "error": str(exc)}


# ---------------------------------------------------------------------------
# commands for the outside world


class StartEffect(NamedTuple):
    """Run effect ``eid``, then ``feed_effect(eid, ...)``.

    For an async task function ``fn`` the runtime awaits ``fn(ctx)``; for an
    :class:`~wftrio.effects.Effect` spec (``effect``; ``fn`` is ``None``) it
    awaits the case's effect handler.  ``regions`` are the ids of the region
    activations holding the effect, outermost first (the runtime nests
    cancel scopes along it).  ``causal_id`` and ``key`` identify the effect
    across retries and replays; ``timeout`` (per attempt) and ``retry`` are
    the task's policies.  ``key`` is ``idempotency_key(causal_id)``; it is
    ``None`` only in the commands of a state whose host derives it itself
    (``ExecState.defer_keys``, set by the wftrio runtime).

    A ``NamedTuple`` (built once per effect, on the hot path: half the cost
    of a frozen attrs class), immutable like the other commands.
    """

    eid: int
    name: str
    fn: Callable[..., Any] | None
    ctx: Mapping[str, Any]
    regions: tuple[int, ...]
    token: int
    kind: str = ""
    effect: Effect | None = None
    causal_id: str = ""
    key: str | None = ""
    timeout: float | None = None
    retry: Retry | None = None


@attrs.frozen
class CancelEffect:
    """Effect ``eid`` was withdrawn: cancel it; its result will be ignored."""

    eid: int


@attrs.frozen
class StartTimer:
    """Call ``fire_timer(tid)`` after ``seconds``."""

    tid: int
    seconds: float


@attrs.frozen
class CancelTimer:
    """Timer ``tid`` was withdrawn; firing it is now a no-op."""

    tid: int


Command = StartEffect | CancelEffect | StartTimer | CancelTimer
"""What the reducer queues in ``ExecState.outbox`` for the runtime to carry out."""
