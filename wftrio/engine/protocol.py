"""The typed vocabulary shared by the engine, the runtime and the validator.

Defined once, here:

* :class:`WaitKind` and the wait records a blocked token holds in
  ``Token.wait`` (:class:`EffectWait`, :class:`SignalWait`,
  :class:`DeferWait` of :class:`DeferArm`);
* :class:`~wftrio.trace.EventKind`, the kinds of trace events (re-exported).

The wait records are ``NamedTuple``s: as cheap as the bare tuples they
replace on the reducer's hot path, immutable, and typed field by field.
Pattern logic reads them by name (``wait.kind``, ``wait.name``), never by
position.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, TypeAlias

from wftrio.trace import EventKind

__all__ = [
    "DeferArm",
    "DeferWait",
    "EffectWait",
    "EventKind",
    "SignalWait",
    "Wait",
    "WaitKind",
]


class WaitKind(enum.StrEnum):
    """What a blocked token waits for (also the kind of a deferred-choice arm)."""

    EFFECT = "effect"
    SIGNAL = "signal"
    TIMER = "timer"
    DEFER = "defer"


class EffectWait(NamedTuple):
    """Blocked on effect ``eid`` (a ``StartEffect`` command is out for it)."""

    kind: WaitKind
    eid: int

    @classmethod
    def of(cls, eid: int) -> EffectWait:
        return cls(WaitKind.EFFECT, eid)


class SignalWait(NamedTuple):
    """Blocked in ``wait_signal(name)``: registered as a waiter for ``name``."""

    kind: WaitKind
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

    kind: WaitKind
    key: str | int
    alt: int


class DeferWait(NamedTuple):
    """Blocked in a ``defer``: every alternative armed, the first trigger wins."""

    kind: WaitKind
    arms: tuple[DeferArm, ...]

    @classmethod
    def of(cls, arms: tuple[DeferArm, ...]) -> DeferWait:
        return cls(WaitKind.DEFER, arms)


Wait: TypeAlias = EffectWait | SignalWait | DeferWait
"""What ``Token.wait`` holds while a token is blocked (``None`` when runnable)."""
