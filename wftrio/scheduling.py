"""Scheduler policies: which enabled token steps next, which default wins.

* ``"deterministic"`` (:class:`Deterministic`): program order.  The reducer
  runs one token until it blocks, forks or ends; a fork's branches run in
  the order they are written (depth first).  Among several unconditioned
  ``xor`` alternatives the first is taken.
* :class:`Seeded` ``(seed)``: before every step the scheduler picks one of
  the enabled tokens at random (and a random default among unconditioned
  ``xor`` alternatives).  Every pick among two or more is recorded in the
  trace as a ``choice`` event.
* :class:`Replay` ``(log)``: feeds back the recorded picks (and, through the
  driver, the recorded external inputs) of a :class:`~wftrio.trace.ReplayLog`.
"""

from __future__ import annotations

import random
from typing import Literal, Protocol, TypeAlias

import attrs

from wftrio.errors import ReplayDivergence, SchedulerError
from wftrio.trace import ReplayLog

__all__ = [
    "Deterministic",
    "Replay",
    "ReplayDivergence",
    "Scheduler",
    "SchedulerSpec",
    "Seeded",
    "make_scheduler",
]


class Scheduler(Protocol):
    """What the reducer asks a scheduler policy."""

    #: re-pick among all enabled tokens before every step
    preemptive: bool
    #: short name recorded in ``case_started``
    name: str

    def pick(self, n: int, what: str) -> int:
        """Return an index in ``range(n)`` (``n >= 2``); ``what`` says what for."""
        ...


class Deterministic:
    """Program order: run a token until it blocks; the first default wins."""

    __slots__ = ()
    preemptive = False
    name = "deterministic"

    def pick(self, n: int, what: str) -> int:
        return 0

    def __repr__(self) -> str:
        return "Deterministic()"


@attrs.define(eq=False)
class Seeded:
    """Random picks from ``random.Random(seed)``; every pick is recorded.

    A ``Seeded`` object holds its generator's state, so give each case its
    own (the runtime copies the one you pass in options).
    """

    seed: int
    preemptive: bool = attrs.field(default=True, kw_only=True)
    name: str = attrs.field(default="seeded", init=False)
    _rng: random.Random = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def pick(self, n: int, what: str) -> int:
        return self._rng.randrange(n)

    def fresh(self) -> Seeded:
        """A new policy with the same seed, at the start of its sequence."""
        return Seeded(self.seed, preemptive=self.preemptive)

    def state(self) -> tuple[int, tuple[int, ...], float | None]:
        """Where the policy stands in its sequence: its generator's state.

        The value of :meth:`random.Random.getstate`; :meth:`from_state`
        continues from it (a snapshot records it).
        """
        version, internal, gauss = self._rng.getstate()
        return version, tuple(internal), gauss

    @classmethod
    def from_state(
        cls,
        seed: int,
        state: tuple[int, tuple[int, ...], float | None],
        *,
        preemptive: bool = True,
    ) -> Seeded:
        """A policy for ``seed`` that continues from ``state`` (from :meth:`state`).

        Raises:
            SchedulerError: ``state`` is not a generator state.
        """
        seeded = cls(seed, preemptive=preemptive)
        try:
            version, internal, gauss = state
            seeded._rng.setstate((version, tuple(internal), gauss))
        except (TypeError, ValueError) as exc:
            raise SchedulerError(f"Seeded.from_state: not a random.Random state: {exc}") from exc
        return seeded


@attrs.define(eq=False)
class Replay:
    """Feed back the choices recorded in ``log``.

    Raises:
        ReplayDivergence: (from ``pick``) the replay asks for a choice the
            log does not hold, or one out of range.
    """

    log: ReplayLog
    name: str = attrs.field(default="replay", init=False)
    _pos: int = attrs.field(default=0, init=False, repr=False)
    preemptive: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.preemptive = self.log.preemptive
        # the recorded policy's name, so the replayed case_started event is identical
        self.name = self.log.scheduler

    def pick(self, n: int, what: str) -> int:
        choices = self.log.choices
        if self._pos >= len(choices):
            raise ReplayDivergence(
                f"replay needs choice #{self._pos} ({what} among {n}) but the log holds only "
                f"{len(choices)}; the workflow or its inputs changed since the recording"
            )
        picked = choices[self._pos]
        self._pos += 1
        if not 0 <= picked < n:
            raise ReplayDivergence(
                f"replay choice #{self._pos - 1} picked {picked} but only {n} options exist "
                f"({what}); the workflow changed since the recording"
            )
        return picked

    def fresh(self) -> Replay:
        """A new replay of the same log, from its start."""
        return Replay(self.log)

    def state(self) -> int:
        """How many of the log's choices the replay has fed back so far."""
        return self._pos

    @classmethod
    def from_state(cls, log: ReplayLog, pos: int) -> Replay:
        """A replay of ``log`` that continues after its first ``pos`` choices.

        Raises:
            SchedulerError: ``pos`` is not between 0 and the number of choices.
        """
        if type(pos) is not int or not 0 <= pos <= len(log.choices):
            raise SchedulerError(
                f"Replay.from_state: position {pos!r} is outside the log's "
                f"{len(log.choices)} choices"
            )
        replay = cls(log)
        replay._pos = pos
        return replay


SchedulerSpec: TypeAlias = "Literal['deterministic'] | Deterministic | Seeded | Replay"


_DETERMINISTIC = Deterministic()


def make_scheduler(spec: object) -> Scheduler:
    """Turn a ``scheduler=`` option into a fresh policy object for one case.

    Raises:
        TypeError: (as ``WftrioError``) the option is not a known policy.
    """
    if spec is None or spec == "deterministic":
        return _DETERMINISTIC  # stateless: one instance serves every case
    if isinstance(spec, Deterministic):
        return spec
    if isinstance(spec, Seeded):
        return spec.fresh()
    if isinstance(spec, Replay):
        return spec.fresh()
    raise SchedulerError(
        f"scheduler={spec!r}: expected 'deterministic', wf.Seeded(seed) or wf.Replay(log)"
    )
