"""Property: a durable case stopped at a random point and resumed from its
SQLite file ends with the same trace (events minus times) as a run that was
never stopped.

Terms come from ``wftrio.testing.strategies.terms()`` (effects, signals,
timers, regions, ``mi``, loops, joins).  Kill points are simulated in
process, not by a subprocess per example (about 0.5 s each would allow only
a few dozen examples): at a random one of the driver's actions in the
uninterrupted run, after a random number of scheduler checkpoints (so the
case may be mid-burst, with effects in flight or timers armed), the
substrate is closed, which stores nothing more for the live case, and a
new one is opened on the same file, which resumes it.  The SIGKILL of a
real process, where the tail of queued bursts is lost too, is
``tests/test_store_crash.py``'s job.

Both runs are driven identically, on a ``MockClock`` only the driver moves:
whenever every task is blocked, the driver cancels the case's first live
region (at the actions drawn for it), or sends the first signal (by name)
the case waits for, else moves virtual time on by a second for its timers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import trio
import trio.testing
from hypothesis import event, given, settings
from hypothesis import strategies as st

import wftrio as wf
from wftrio.testing.strategies import terms

MAX_ACTIONS = 40
FINAL = (wf.CaseState.DONE, wf.CaseState.FAILED, wf.CaseState.CANCELLED)
# effect times, and what derives from the case's causal root (a salt drawn
# per run: the two runs compared have different ones)
VOLATILE = ("started", "ended", "key", "request")

Outcome = tuple[str, list[tuple[Any, ...]]]


def comparable(ev: wf.TraceEvent, root: str) -> tuple[Any, ...]:
    """An event minus its times, its case's root replaced by ``ROOT``."""
    data = {k: v for k, v in ev.data.items() if k not in VOLATILE}
    text = json.dumps(data, sort_keys=True, default=repr).replace(root, "ROOT")
    return (ev.seq, ev.kind, ev.name, ev.token, ev.scope, text)


class Driver:
    """Plays the outside world the same way in every run of a case."""

    def __init__(self, clock: trio.testing.MockClock, cancels: frozenset[int]) -> None:
        self.clock = clock
        self.cancels = cancels  # the actions that cancel the first live region
        self.action = 0
        self.sent = 0
        self.outcome: Outcome | None = None

    async def run(self, sub: wf.Substrate, until: int) -> None:
        """Act until the case ends or is stuck (``outcome`` set) or ``until`` actions."""
        while self.action < until:
            await trio.testing.wait_all_tasks_blocked()
            info = sub.status("case")
            if info.state in FINAL or self.action == MAX_ACTIONS:
                break
            if self.action in self.cancels and info.live_regions:
                await sub.cancel_region("case", sorted(info.live_regions)[0])
            elif info.waiting_signals:
                await sub.signal("case", sorted(info.waiting_signals)[0], self.sent)
                self.sent += 1
            elif info.timers:
                self.clock.jump(1.0)  # virtual time: the timers due fire
            elif info.effects_in_flight:
                pass  # they settle by the next time every task is blocked
            else:
                break  # it waits for nothing the driver sends
            self.action += 1
        else:
            return
        events = sub.events("case")
        root = str(events[0].data["root"])
        self.outcome = (
            str(sub.status("case").state.value),
            [comparable(e, root) for e in events],
        )


async def drive(
    db: Path,
    term: wf.Term,
    kill: tuple[int, int] | None,
    cancels: frozenset[int],
    clock: trio.testing.MockClock,
) -> tuple[Outcome, int]:
    """Run the case on a store at ``db``; with ``kill=(action, checkpoints)``,
    close the substrate that many checkpoints after that action and go on
    in a new one on the same file."""
    reg = wf.Registry()
    reg.register("p", term)
    opts: dict[str, Any] = {"registry": reg, "keep_events": None}
    d = Driver(clock, cancels)
    async with wf.open_substrate(path=db, **opts) as sub:
        await sub.new_case("p", {}, case_id="case")
        await d.run(sub, MAX_ACTIONS + 1 if kill is None else kill[0])
        if kill is not None and d.outcome is None:
            for _ in range(kill[1]):
                await trio.lowlevel.checkpoint()  # the case may be mid-burst now
            if sub.status("case").state in FINAL:
                await d.run(sub, MAX_ACTIONS + 1)  # records the outcome
    if kill is not None:
        event("resumed" if d.outcome is None else "ended before the stop")
    if d.outcome is None:
        async with wf.open_substrate(path=db, **opts) as sub:
            assert sub.unresumed == {}, sub.unresumed
            assert sub.case_ids() == ["case"]
            await d.run(sub, MAX_ACTIONS + 1)
    assert d.outcome is not None
    return d.outcome, d.action


def run(
    term: wf.Term, kill: tuple[int, int] | None, cancels: frozenset[int]
) -> tuple[Outcome, int]:
    """The case's outcome, and the number of actions the driver took."""
    with tempfile.TemporaryDirectory() as tmp:
        # time moves only when the driver jumps it: no race between a timer
        # and the store's writer thread
        clock = trio.testing.MockClock()
        db = Path(tmp) / "cases.db"
        return trio.run(drive, db, term, kill, cancels, clock, clock=clock)


@settings(max_examples=100)
@given(
    terms(effects=True, max_leaves=16),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=0, max_value=4),
    st.frozensets(st.integers(min_value=0, max_value=8), max_size=3),
)
def test_a_case_stopped_anywhere_and_resumed_ends_with_the_uninterrupted_trace(
    term: wf.Term, where: float, checkpoints: int, cancels: frozenset[int]
) -> None:
    want, actions = run(term, None, cancels)
    # the stop falls within the actions the uninterrupted run took
    kill = (min(actions, int(where * (actions + 1))), checkpoints)
    got, _ = run(term, kill, cancels)
    assert got == want
