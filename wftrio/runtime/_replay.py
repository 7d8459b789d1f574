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
"""

from __future__ import annotations

import trio

from wftrio.engine import StartEffect, StartTimer
from wftrio.runtime._messages import Message
from wftrio.trace import InputEvent

__all__ = ["ReplayFeed"]


class ReplayFeed:
    """The not-yet-fed inputs of a replayed case, and its case clock.

    Attributes:
        inputs: recorded inputs, in consumption order.
        pos: index of the next input to feed.
        base_rec: recorded case time of the last input fed (0.0 at start).
        base_trio: trio time at which it was fed (the case start at first).
        deferred: effect / timer starts held back until the log is
            exhausted, keyed ``("effect", eid)`` / ``("timer", tid)``, with
            the case time they were requested at.
        held: inbox messages (signals, region cancellations) held back
            until the log is exhausted.
        paced: whether each input waits for its recorded time (``False``
            for a durable case resuming: fed at once).
    """

    __slots__ = ("base_rec", "base_trio", "deferred", "held", "inputs", "paced", "pos")

    def __init__(self, inputs: tuple[InputEvent, ...], paced: bool = True) -> None:
        self.inputs = inputs
        self.paced = paced
        self.pos = 0
        self.base_rec = 0.0
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
        """The trio time at which the next input is due (now, when not paced)."""
        if not self.paced:
            return trio.current_time()
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
