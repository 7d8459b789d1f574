"""Drive a bare reducer (``ExecState``) with a seeded random outside world.

The runtime answers what a case blocks on with real signals, effects and
timers.  For tests of the pure core, :class:`Driver` plays that part instead,
from a seeded :class:`Environment`: it runs the state in random bursts and,
between bursts, feeds the signals the case waits on (persistent, sometimes
before anyone waits, sometimes transient), fires timers in deadline order,
completes or fails effects (sometimes delivering a result after the effect
was withdrawn), and occasionally cancels a live region or the whole case.
Everything goes through the reducer's public input methods, so each input is
recorded in the trace and a run replays with ``Replay(replay_log(trace))``.

Example::

    st = ExecState(wf.compile(term), scheduler=wf.Seeded(7))
    result = drive(st, Environment(seed=7), check=check_invariants)
    assert result.status in FINAL
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from wftrio.engine import (
    FINAL,
    CancelEffect,
    CancelTimer,
    ExecState,
    StartEffect,
    StartTimer,
    Status,
)
from wftrio.errors import EffectSuspended, NoHandler
from wftrio.runtime._workflow import region_names, signal_names
from wftrio.testing.strategies import InjectedFault

__all__ = ["DriveResult", "Driver", "EffectSuspended", "Environment", "drive"]


def run_effect_inline(cmd: StartEffect) -> Mapping[str, Any] | None:
    """Run ``await cmd.fn(cmd.ctx)`` to completion without an event loop.

    Works for effect functions that return without suspending (as the ones
    :func:`wftrio.testing.strategies.terms` generates).  An effect calling
    trio (outside a trio run) raises ``RuntimeError``, which fails the effect
    like any other error: pass ``Environment(effect_result=...)`` for those.

    Raises:
        EffectSuspended: the coroutine suspended (it awaits real I/O or time).
        Exception: whatever the effect function raises.
    """
    if cmd.fn is None:
        raise NoHandler(
            f"effect {cmd.name!r} is an Effect spec of kind {cmd.kind!r}; a bare driver has no "
            "effect handler: pass Environment(effect_result=...) to answer it"
        )
    coro = cmd.fn(cmd.ctx)
    try:
        coro.send(None)
    except StopIteration as stop:
        result: Mapping[str, Any] | None = stop.value
        return result
    coro.close()
    raise EffectSuspended(
        f"effect {cmd.name!r} suspended; a bare driver cannot run it. Pass "
        "Environment(effect_result=...) to supply its results."
    )


@attrs.frozen
class Environment:
    """A seeded random outside world for :class:`Driver`.

    Probabilities are per decision point; all randomness comes from
    ``random.Random(seed)``, so the same environment, term, ctx and scheduler
    give the same run.

    Attributes:
        seed: seed of the environment's random generator.
        max_burst: a burst runs ``1..max_burst`` steps.
        interject: chance of an input between two bursts while the case can
            still make progress on its own.
        early_signal: chance that an input is a signal nobody waits for yet
            (a name the term uses, queued for later).
        transient: chance that such an unsolicited signal is transient
            (dropped, since nobody waits).
        fail_effect: chance that an effect fails instead of completing.
        late_effect: chance of delivering the result of a withdrawn effect
            (the reducer must ignore it).
        cancel_region: chance of cancelling a region (a live one, or
            sometimes one of the term's ids that is not live).
        cancel_case: chance of cancelling the whole case.
        effect_result: computes an effect's result; default runs the effect
            function inline (:func:`run_effect_inline`).  Raising fails it.
    """

    seed: int = 0
    max_burst: int = 32
    interject: float = 0.2
    early_signal: float = 0.15
    transient: float = 0.3
    fail_effect: float = 0.1
    late_effect: float = 0.05
    cancel_region: float = 0.05
    cancel_case: float = 0.01
    effect_result: Callable[[StartEffect], Mapping[str, Any] | None] | None = None


@attrs.frozen
class DriveResult:
    """What a drive did.

    Attributes:
        status: the case status when the drive stopped.
        steps: the case's step count then.
        actions: the inputs the environment fed, in order, as readable strings.
        hit_step_limit: the drive stopped at ``max_steps`` with the case unfinished.
        stuck: the drive stopped because the case stayed blocked whatever
            the environment fed it.
    """

    status: Status
    steps: int
    actions: tuple[str, ...]
    hit_step_limit: bool
    stuck: bool = False


class Driver:
    """Runs one :class:`~wftrio.engine.ExecState`, answering it from an :class:`Environment`.

    Args:
        st: the case state to drive (the driver consumes its outbox).
        env: the environment (default ``Environment()``).
        check: called with ``st`` after every burst and every input, e.g.
            :func:`wftrio.testing.check_invariants`.
    """

    def __init__(
        self,
        st: ExecState,
        env: Environment | None = None,
        *,
        check: Callable[[ExecState], None] | None = None,
    ) -> None:
        self.st = st
        self.env = env if env is not None else Environment()
        self.check = check
        self.rng = random.Random(self.env.seed)
        self.now = 0.0
        #: effects started and not yet answered or withdrawn
        self.effects: dict[int, StartEffect] = {}
        #: effects withdrawn before an answer (a late result may still be fed)
        self.withdrawn: list[int] = []
        #: pending timers: tid -> deadline on the driver's virtual clock
        self.timers: dict[int, float] = {}
        self.actions: list[str] = []
        # the workflow's and those of the workflows it calls (WCP-22)
        self.signal_names = sorted(signal_names(st.program.term))
        self.region_ids = sorted(region_names(st.program.term))

    # -- bookkeeping ---------------------------------------------------------

    def sync(self) -> None:
        """Consume the state's outbox into the driver's effect and timer tables."""
        for cmd in self.st.take_outbox():
            if isinstance(cmd, StartEffect):
                self.effects[cmd.eid] = cmd
            elif isinstance(cmd, CancelEffect):
                if self.effects.pop(cmd.eid, None) is not None:
                    self.withdrawn.append(cmd.eid)
            elif isinstance(cmd, StartTimer):
                self.timers[cmd.tid] = self.now + cmd.seconds
            elif isinstance(cmd, CancelTimer):
                self.timers.pop(cmd.tid, None)

    def _checked(self) -> None:
        self.sync()
        if self.check is not None:
            self.check(self.st)

    # -- inputs --------------------------------------------------------------

    def _feed_waited_signal(self) -> bool:
        waited = self.st.blocked_on()["signals"]
        if not waited:
            return False
        name = self.rng.choice(waited)
        payload = self.rng.randrange(100)
        self.st.feed_signal(name, payload)
        self.actions.append(f"signal {name!r} {payload}")
        return True

    def _feed_early_signal(self) -> bool:
        if not self.signal_names:
            return False
        name = self.rng.choice(self.signal_names)
        payload = self.rng.randrange(100)
        transient = self.rng.random() < self.env.transient
        self.st.feed_signal(name, payload, transient=transient)
        self.actions.append(f"{'transient' if transient else 'early'} signal {name!r} {payload}")
        return True

    def _answer_effect(self) -> bool:
        if not self.effects:
            return False
        eid = self.rng.choice(sorted(self.effects))
        cmd = self.effects.pop(eid)
        if self.rng.random() < self.env.fail_effect:
            self.st.feed_effect(eid, error=InjectedFault(f"effect {cmd.name!r} failed"))
            self.actions.append(f"fail effect {eid} {cmd.name!r}")
            return True
        compute = self.env.effect_result or run_effect_inline
        try:
            result = compute(cmd)
        except EffectSuspended:
            raise
        except Exception as exc:
            self.st.feed_effect(eid, error=exc)
            self.actions.append(f"effect {eid} {cmd.name!r} raised {type(exc).__name__}")
            return True
        self.st.feed_effect(eid, result)
        self.actions.append(f"complete effect {eid} {cmd.name!r}")
        return True

    def _late_effect(self) -> bool:
        if not self.withdrawn:
            return False
        eid = self.withdrawn.pop(self.rng.randrange(len(self.withdrawn)))
        accepted = self.st.feed_effect(eid, {})
        if accepted:
            raise AssertionError(f"the reducer accepted a result for withdrawn effect {eid}")
        self.actions.append(f"late result for withdrawn effect {eid}")
        return True

    def _fire_timer(self) -> bool:
        if not self.timers:
            return False
        tid = min(self.timers, key=lambda t: (self.timers[t], t))
        self.now = max(self.now, self.timers.pop(tid))
        self.st.fire_timer(tid)
        self.actions.append(f"timer {tid} at {self.now:g}s")
        return True

    def _cancel_region(self) -> bool:
        live = self.st.live_regions()
        if live and self.rng.random() < 0.8:
            sid = self.rng.choice(live)
        elif self.region_ids:
            sid = self.rng.choice(self.region_ids)
        else:
            return False
        n = self.st.cancel_region(sid)
        self.actions.append(f"cancel region {sid!r} ({n} live)")
        return True

    def _cancel_case(self) -> bool:
        self.st.cancel()
        self.actions.append("cancel case")
        return True

    def act(self) -> str | None:
        """Feed one input chosen by the environment; return its description.

        Mostly an input that lets the case progress (a signal it waits for,
        an effect's answer, the earliest timer); sometimes an unsolicited
        signal, a late effect result, a region or case cancellation.
        Returns None when there was nothing to feed.
        """
        env, rng = self.env, self.rng
        r = rng.random()
        done = False
        if r < env.cancel_case:
            done = self._cancel_case()
        elif r < env.cancel_case + env.cancel_region:
            done = self._cancel_region()
        if not done and rng.random() < env.late_effect:
            done = self._late_effect()
        if not done and rng.random() < env.early_signal:
            done = self._feed_early_signal()
        if not done:
            answers = [self._feed_waited_signal, self._answer_effect, self._fire_timer]
            rng.shuffle(answers)
            done = any(a() for a in answers)
        if not done:
            return None
        self._checked()
        return self.actions[-1]

    # -- running -------------------------------------------------------------

    def burst(self) -> Status:
        """Run one burst of ``1..max_burst`` steps; then maybe (or, if blocked, surely) an input."""
        st = self.st
        status = st.run(self.rng.randint(1, self.env.max_burst))
        self._checked()
        if status in FINAL:
            return status
        if status is Status.BLOCKED or self.rng.random() < self.env.interject:
            self.act()
        return st.status

    def run(self, max_steps: int = 10_000, *, max_idle: int = 100) -> DriveResult:
        """Drive the case until it finishes, is stuck, or reaches ``max_steps`` steps.

        The case is stuck when it stays blocked, without taking a step,
        through ``max_idle`` bursts in a row: the inputs the environment
        knows do not unblock it.
        """
        st = self.st
        self._checked()
        idle = 0
        while st.status not in FINAL and st.steps < max_steps and idle < max_idle:
            steps = st.steps
            self.burst()
            idle = idle + 1 if st.steps == steps and st.status is Status.BLOCKED else 0
        return DriveResult(
            status=st.status,
            steps=st.steps,
            actions=tuple(self.actions),
            hit_step_limit=st.status not in FINAL and st.steps >= max_steps,
            stuck=idle >= max_idle,
        )


def drive(
    st: ExecState,
    env: Environment | None = None,
    *,
    max_steps: int = 10_000,
    check: Callable[[ExecState], None] | None = None,
) -> DriveResult:
    """Drive ``st`` with ``env`` until it finishes or ``max_steps`` steps have run.

    Shorthand for ``Driver(st, env, check=check).run(max_steps)``; the
    trace is in ``st.events``.
    """
    return Driver(st, env, check=check).run(max_steps)
