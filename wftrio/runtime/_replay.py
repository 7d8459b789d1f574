"""Feeding a recorded case's inputs back at their recorded steps and times.

A case started with ``scheduler=wf.Replay(log)`` runs on the real reducer,
but its external inputs come from ``log.inputs`` instead of the world: the
runner runs the case exactly up to each input's recorded step count, waits
until its recorded case time, and feeds it (see
``wftrio.engine.replay.feed_input``).  No effect function is called and no
timer is started while recorded inputs remain; once the log is exhausted
the case goes on live (effects and timers it is still waiting for are
started then, signals sent meanwhile are delivered then).

A durable case resuming from its store is replayed unpaced: each input is
fed as soon as the case reaches its step (the case clock still jumps to
its recorded time), so a case that waited three days for a signal resumes
at once rather than in three days.

Trace times: the case clock of a replayed case reads the recorded time of
the last input fed plus the trio time elapsed since it was fed.  Under
trio's ``MockClock`` no time passes between an input and the steps it
triggers, so every event gets exactly its recorded time (no floating-point
drift from subtracting a different start time).

A resumed durable case is fed its committed inputs ``fast``: each as soon
as the case reaches its recorded step, with no wait for its recorded time
(that time has passed already; a case that waited three days for a signal
resumes at once).  Its case clock still reads each input's recorded time
when it is fed, so the replayed events carry their recorded times.

The runner's replay steps (:func:`replay_next`, :func:`end_replay`) and the
arming of timers (:func:`arm_timer`, wall-clock deadlines for a durable
case) live here too, as functions of the case.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio

from wftrio.engine import FINAL, StartEffect, StartTimer, Status
from wftrio.engine.replay import feed_input
from wftrio.runtime._messages import Message
from wftrio.runtime._types import CaseState
from wftrio.trace import EventKind, InputEvent

if TYPE_CHECKING:
    from wftrio.runtime._runner import Case

__all__ = ["ReplayFeed", "arm_timer", "end_replay", "replay_next"]


class ReplayFeed:
    """The not-yet-fed inputs of a replayed case, and its case clock.

    Attributes:
        inputs: recorded inputs, in consumption order.
        pos: index of the next input to feed.
        base_rec: recorded case time of the last input fed (at start 0.0,
            or a restored snapshot's case time).
        base_trio: trio time at which it was fed (the case start at first).
        deferred: effect / timer starts held back until the log is
            exhausted, keyed ``("effect", eid)`` / ``("timer", tid)``, with
            the case time they were requested at.
        held: inbox messages (signals, region cancellations) held back
            until the log is exhausted.
        fast: feed each input as soon as its step comes (a resumed case).
    """

    __slots__ = ("base_rec", "base_trio", "deferred", "fast", "held", "inputs", "pos")

    def __init__(
        self, inputs: tuple[InputEvent, ...], *, fast: bool = False, base_rec: float = 0.0
    ) -> None:
        self.inputs = inputs
        self.pos = 0
        self.fast = fast
        self.base_rec = base_rec
        self.base_trio = trio.current_time()
        self.deferred: dict[tuple[str, int], tuple[StartEffect | StartTimer, float]] = {}
        self.held: list[Message] = []

    def clock(self) -> float:
        """The replayed case's clock (see the module docstring)."""
        return self.base_rec + (trio.current_time() - self.base_trio)

    @property
    def pending(self) -> bool:
        """Whether recorded inputs remain."""
        return self.pos < len(self.inputs)

    def next_step(self) -> int:
        """The step count the next input was recorded at (requires ``pending``)."""
        return self.inputs[self.pos].at_step

    def deadline(self) -> float:
        """The trio time at which the next input is due (``-inf`` when ``fast``)."""
        if self.fast:
            return -math.inf
        ev = self.inputs[self.pos]
        return self.base_trio + (ev.time - self.base_rec)

    def take_next(self) -> InputEvent:
        """Pop the next input and move the clock base to its recorded time.

        Inputs recorded at the same step may have been consumed at different
        times (e.g. two signals queued while the case waited), so each one
        is fed at its own time.
        """
        ev = self.inputs[self.pos]
        self.pos += 1
        self.base_rec = ev.time
        self.base_trio = trio.current_time()
        return ev

    def __repr__(self) -> str:
        return f"<ReplayFeed {self.pos}/{len(self.inputs)} inputs fed>"


# -- a replayed case's runner steps (the runner calls these) ------------------


async def replay_next(case: Case, rp: ReplayFeed, status: Status) -> None:
    """Feed the next recorded input at its recorded time."""
    st = case.st
    assert st is not None
    if status is Status.BLOCKED:
        case._set_state(CaseState.WAITING_EFFECT if st.effects else CaseState.WAITING_SIGNAL)
    await case._flush()
    deadline = rp.deadline()
    if trio.current_time() >= deadline:
        await trio.lowlevel.checkpoint()
    while trio.current_time() < deadline and st.status not in FINAL:
        with trio.move_on_at(deadline):
            case._handle(await case.inbox.receive())  # holds all but cancel
    if st.status in FINAL:
        return
    ev = rp.take_next()
    if ev.kind == EventKind.CASE_CANCELLED:
        # the recorded cancellation's reason, not "cancel" by default
        case.reason = str(ev.data.get("reason", "cancel"))
    try:
        feed_input(st, ev)
        case._dispatch(st.take_outbox())
    except Exception as exc:
        case._fail(exc)
        return
    if not rp.pending:
        end_replay(case, rp)
    # several inputs consumed at one step came in one batch: the state
    # changes once, after the last of them (as in the recorded run)
    if st.status is Status.RUNNING and not (rp.pending and rp.next_step() == st.steps):
        case._set_state(CaseState.RUNNING)


def end_replay(case: Case, rp: ReplayFeed) -> None:
    """The log is exhausted: go on live (start what was held back)."""
    case.replay = None
    st = case.st
    assert st is not None
    for cmd, requested in rp.deferred.values():
        # only what the case still waits for: recorded results stood in for the rest
        if isinstance(cmd, StartEffect):
            if cmd.eid in st.effects:
                case._kids().start_effect(
                    cmd, st.effect_attempts(cmd.eid), hold=st.status is Status.RUNNING
                )
        elif cmd.tid in st.timers:
            arm_timer(case, cmd.tid, max(0.0, requested + cmd.seconds - rp.clock()))
    rp.deferred.clear()
    res = case.resumed
    if res is not None:
        case.resumed = None
        if res.scope is not None and res.timeout_left is not None:
            # the case's timeout counts from its creation, on the store's clock
            res.scope.deadline = trio.current_time() + max(0.0, res.timeout_left)
    if rp.held:
        held, rp.held = rp.held, []
        case._handle(held)


def arm_timer(case: Case, tid: int, seconds: float) -> None:
    """Start timer ``tid``, due in ``seconds`` (a durable case's: at its wall-clock deadline).

    A durable case's timer is due at a wall-clock instant on the store's
    clock, stored with the burst that armed it; armed again at resume, it
    keeps that instant.  One whose instant has passed (the process was
    down) fires at once, ordered among the timers firing with it by
    that instant.
    """
    kids = case._kids()
    now = trio.current_time()
    log = case.durable
    if log is None:
        kids.start_timer(tid, now + seconds)
        return
    wall, left = log.timer_deadline(tid, seconds)
    if left > 0:
        kids.start_timer(tid, now + left)
    else:
        kids.start_timer(tid, now, due=wall)
