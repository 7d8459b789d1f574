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

Both check what they are given when they are built, so a case never starts
with a policy that cannot be reproduced (a seed that is not an ``int``) or
a log no case could have recorded (:func:`replay_log_problems`): a replay
would otherwise wait for a step behind the case or a time that never comes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeAlias

import attrs

from wftrio.errors import ReplayDivergence, SchedulerError
from wftrio.trace import INPUT_KINDS, InputEvent, ReplayLog

__all__ = [
    "MAX_CASE_TIME",
    "Deterministic",
    "Replay",
    "ReplayDivergence",
    "Scheduler",
    "SchedulerSpec",
    "Seeded",
    "make_scheduler",
    "replay_log_problems",
]

MAX_CASE_TIME = 1e9
"""The latest case time (seconds after the start, about 31 years) an input may be due at.

Later times never come in practice, and near ``1e300`` adding a second to
a float clock no longer changes it: a replay waiting for such a time would
wait for ever.
"""


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

    Raises:
        SchedulerError: ``seed`` is not an ``int`` (a ``bool``, ``None``, a
            float, a string...): the seed is recorded with the case, and
            only an int seeds the same sequence in every process and
            version (``None`` would seed from the OS, a str by its hash).
    """

    seed: int = attrs.field(validator=lambda _, __, v: _check_seed(v))
    preemptive: bool = attrs.field(
        default=True, kw_only=True, validator=lambda _, __, v: _check_bool("Seeded", v)
    )
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
        SchedulerError: ``log`` is not a :class:`~wftrio.trace.ReplayLog`.
        ReplayDivergence: at once, a log no case could have recorded (see
            :func:`replay_log_problems`); from ``pick``, the replay asks
            for a choice the log does not hold, or one out of range.
    """

    log: ReplayLog = attrs.field(validator=lambda _, __, v: _check_log(v))
    # past the log's last choice, pick as Deterministic does (a resumed
    # durable case goes on live after its stored choices) instead of failing
    then_deterministic: bool = attrs.field(
        default=False, kw_only=True, validator=lambda _, __, v: _check_then(v)
    )
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
            if self.then_deterministic:
                return 0
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
        return Replay(self.log, then_deterministic=self.then_deterministic)

    def state(self) -> int:
        """How many of the log's choices the replay has fed back so far."""
        return self._pos

    @classmethod
    def from_state(cls, log: ReplayLog, pos: int) -> Replay:
        """A replay of ``log`` that continues after its first ``pos`` choices.

        Raises:
            SchedulerError: ``pos`` is not between 0 and the number of
                choices, or ``log`` is malformed (see :class:`Replay`).
        """
        try:
            replay = cls(log)
        except ReplayDivergence as exc:
            raise SchedulerError(f"Replay.from_state: {exc}") from exc
        if type(pos) is not int or not 0 <= pos <= len(log.choices):
            raise SchedulerError(
                f"Replay.from_state: position {pos!r} is outside the log's "
                f"{len(log.choices)} choices"
            )
        replay._pos = pos
        return replay


def _check_seed(seed: object) -> None:
    if type(seed) is not int:
        raise SchedulerError(
            f"Seeded(seed={seed!r}): seed must be an int (not {type(seed).__name__}), so the "
            "run can be reproduced"
        )


def _check_then(value: object) -> None:
    if type(value) is not bool:
        raise SchedulerError(
            f"Replay(then_deterministic={value!r}): then_deterministic must be a bool"
        )


def _check_bool(where: str, value: object) -> None:
    if type(value) is not bool:
        raise SchedulerError(f"{where}(preemptive={value!r}): preemptive must be a bool")


def _check_log(log: object) -> None:
    if not isinstance(log, ReplayLog):
        raise SchedulerError(
            f"Replay(log={log!r:.60}): log must be a wf.ReplayLog (from wf.replay_log(trace) "
            f"or wftrio.serialize.loads_log), not {type(log).__name__}"
        )
    problems = replay_log_problems(log)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ReplayDivergence(
            "Replay(log): no case could have recorded this log: "
            + "; ".join(f"{path}: {msg}" for path, msg in problems[:3])
            + more
        )


def _is_int(v: object) -> bool:
    return type(v) is int


def _is_time(v: object) -> bool:
    return type(v) in (int, float) and math.isfinite(v) and 0 <= v <= MAX_CASE_TIME  # type: ignore[arg-type, operator]


def replay_log_problems(log: ReplayLog) -> list[tuple[str, str]]:
    """What in ``log`` no recorded case could have produced, as ``(field, problem)`` pairs.

    A replay feeds each input when the case reaches the input's step and
    case time, so a log is replayable only if its inputs come at steps from
    0 that never go back, at finite case times from 0 to
    :data:`MAX_CASE_TIME` that never go back, and of a kind a case records
    (:data:`~wftrio.trace.INPUT_KINDS`); its choices are ints >= 0.  Fields
    are named like ``inputs[3].at_step``; an empty list means the log is
    well formed (a replay may still diverge from a changed workflow).
    """
    out: list[tuple[str, str]] = []
    if type(log.preemptive) is not bool:
        out.append(("preemptive", f"{log.preemptive!r} is not a bool"))
    if not isinstance(log.scheduler, str):
        out.append(("scheduler", f"{log.scheduler!r} is not a str"))
    if log.root is not None and not isinstance(log.root, str):
        out.append(("root", f"{log.root!r} is not a str or None"))
    choices: Any = log.choices
    if not isinstance(choices, tuple | list):
        out.append(("choices", f"{type(choices).__name__} is not a sequence of ints"))
        choices = ()
    for i, c in enumerate(choices):
        if not _is_int(c) or c < 0:
            out.append((f"choices[{i}]", f"a choice is an int >= 0, not {c!r}"))
    inputs: Any = log.inputs
    if not isinstance(inputs, tuple | list):
        out.append(("inputs", f"{type(inputs).__name__} is not a sequence of inputs"))
        inputs = ()
    step, time = 0, 0.0
    for n, inp in enumerate(inputs):
        p = f"inputs[{n}]"
        if not isinstance(inp, InputEvent):
            out.append((p, f"{type(inp).__name__} is not an InputEvent"))
            continue
        name = inp.name if isinstance(inp.name, str) else None
        what = f"input {n} ({inp.kind}{f' {name!r}' if name else ''})"
        if inp.kind not in INPUT_KINDS:
            out.append((f"{p}.kind", f"{inp.kind!r} is not an input kind a case records"))
        if inp.name is not None and not isinstance(inp.name, str):
            out.append((f"{p}.name", f"{inp.name!r} is not a str or None"))
        if not isinstance(inp.data, Mapping):
            out.append((f"{p}.data", f"{type(inp.data).__name__} is not a mapping"))
        if not _is_int(inp.at_step):
            out.append((f"{p}.at_step", f"{inp.at_step!r} is not an int"))
        elif inp.at_step < step:
            behind = "of the input before it" if n else "where a case starts"
            out.append(
                (
                    f"{p}.at_step",
                    f"{what} is recorded at step {inp.at_step}, behind step {step} {behind}",
                )
            )
        else:
            step = inp.at_step
        if not _is_time(inp.time):
            out.append(
                (
                    f"{p}.time",
                    f"{what} is recorded at time {inp.time!r}, which never comes "
                    f"(expected 0 to {MAX_CASE_TIME:.0e} seconds)",
                )
            )
        elif inp.time < time:
            out.append(
                (
                    f"{p}.time",
                    f"{what} is recorded at time {inp.time!r}, behind time {time!r} of the "
                    "input before it",
                )
            )
        else:
            time = float(inp.time)
    return out


SchedulerSpec: TypeAlias = "Literal['deterministic'] | Deterministic | Seeded | Replay"


_DETERMINISTIC = Deterministic()


def make_scheduler(spec: object) -> Scheduler:
    """Turn a ``scheduler=`` option into a fresh policy object for one case.

    The default is spelled ``"deterministic"``; ``None`` is refused like any
    other value that names no policy (it would read as "no scheduler").

    Raises:
        SchedulerError: the option is not a known policy.
    """
    if type(spec) is str and spec == "deterministic":
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
