"""``wf.run``: one case in a fresh ``trio.run``, with a watchdog for cases that can never finish.

``run`` owns the whole trio run, so it can tell when its case waits for
something nobody can deliver (see :func:`run`); the substrate it opens is
an ordinary one (``_substrate.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import trio
import trio.testing

from wftrio.errors import CaseCancelled, CaseStuck, OptionError
from wftrio.runtime._case_view import outcome
from wftrio.runtime._sinks import ordered
from wftrio.runtime._substrate import Substrate
from wftrio.runtime._substrate_args import first_leaf
from wftrio.runtime._types import CaseInfo, CaseResult, CaseState
from wftrio.terms import Term

__all__ = ["run"]


def _check_run_options(signals: object, clock: object) -> list[tuple[str, Any]]:
    """``run``'s own ``signals=`` and ``clock=``; the signals as a list of pairs.

    Raises:
        OptionError: ``signals`` is not an iterable of ``(name, payload)``
            pairs with a non-empty str name, or ``clock`` is not None or a
            ``trio.abc.Clock``.
    """
    if clock is not None and not isinstance(clock, trio.abc.Clock):
        raise OptionError(f"run(): clock={clock!r}, expected None or a trio.abc.Clock")
    if not ordered(signals):
        raise OptionError(f"run(): signals={signals!r}, expected a list of (name, payload) pairs")
    out: list[tuple[str, Any]] = []
    for pair in signals:
        if not (
            isinstance(pair, tuple | list)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and pair[0] != ""
        ):
            raise OptionError(
                f"run(): signals holds {pair!r}, expected a (name, payload) pair "
                "with a non-empty str name"
            )
        out.append((pair[0], pair[1]))
    return out


def run(
    term: Term | str,
    ctx: Mapping[str, Any] | None = None,
    *,
    signals: Sequence[tuple[str, Any]] = (),
    clock: trio.abc.Clock | None = None,
    **options: Any,
) -> CaseResult:
    """Run one case to completion in a fresh ``trio.run`` and return its result.

    ``run`` owns the whole trio run, so it can tell when the case waits for
    something that can never come: once every task is blocked, a case
    waiting on signals with no timer and no effect pending, or waiting on
    effects when nothing in the run can wake anything (no deadline, no I/O,
    no worker thread), is stuck.  It is then cancelled and ``run`` raises
    :class:`~wftrio.errors.CaseStuck` naming the signals or effects it
    waits for (with a real clock as with ``MockClock``): it never hangs.

    Args:
        term: the workflow, or a name registered with ``wf.workflow`` /
            ``wf.register`` (``version=`` picks one; default the newest).
        ctx: the initial ctx.
        signals: ``(name, payload)`` pairs sent to the case right after it starts.
        clock: a trio clock for ``trio.run`` (e.g. ``trio.testing.MockClock``).
        **options: case options, as for ``new_case`` (``case_id=`` too).

    Raises:
        CaseFailed: the case ended FAILED.
        CaseCancelled: the case ended CANCELLED (e.g. its ``timeout=``).
        CaseStuck: the case waits for signals or effects nobody can deliver.
        OptionError: bad ``signals=`` or ``clock=`` (or a bad case option).
    """
    pairs = _check_run_options(signals, clock)

    async def one_case(sub: Substrate, idle_io: int) -> CaseResult:
        case_id = await sub.new_case(term, ctx, **options)
        for name, payload in pairs:
            await sub.signal(case_id, name, payload)
        stuck: list[CaseStuck] = []
        case = sub._get(case_id)
        if not case.state.final:  # else (ended in its first burst): no watchdog
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_watch_stuck, sub, case_id, idle_io, stuck)
                await sub.wait_state(case_id)  # final (raises nothing)
                nursery.cancel_scope.cancel()
        try:
            return outcome(case)  # sub.wait's result, without its checkpoint: final by now
        except CaseCancelled as exc:
            if not stuck:
                raise
            stuck[0].result = exc.result
            raise stuck[0] from None

    async def main() -> CaseResult:
        # trio's own tasks have taken their first step once this returns: the
        # I/O waits counted now are theirs (the run's wakeup socket, ...)
        await trio.lowlevel.checkpoint()
        idle_io = _io_waits()
        if idle_io == 0:  # pragma: no cover - not registered yet: wait until they block
            await trio.testing.wait_all_tasks_blocked()
            idle_io = _io_waits()
        # a substrate on a MemoryStore whose only nursery is this one (no
        # sink, no store to open or close: Substrate._open_one_shot); the
        # case's errors are raised outside it, unwrapped, as from
        # ``async with open_substrate()``
        sub = Substrate(retain_finished=1)
        failed: Exception | None = None
        result: CaseResult | None = None
        try:
            async with trio.open_nursery() as nursery:
                sub._open_one_shot(nursery)
                try:
                    result = await one_case(sub, idle_io)
                except Exception as exc:
                    failed = exc
                finally:
                    sub._close_one_shot()
        except BaseExceptionGroup as group:
            # KeyboardInterrupt / SystemExit from user code in the case:
            # re-raised unwrapped, as trio.run does
            stop = first_leaf(group, (KeyboardInterrupt, SystemExit))
            if stop is None:
                raise
            raise stop from None
        if failed is not None:
            raise failed
        assert result is not None
        return result

    return trio.run(main, clock=clock)


def _io_waits() -> int:
    io = trio.lowlevel.current_statistics().io_statistics
    return sum(
        getattr(io, name, 0) or 0
        for name in (
            "tasks_waiting_read",
            "tasks_waiting_write",
            "tasks_waiting",
            "tasks_waiting_overlapped",
        )
    )


async def _watch_stuck(sub: Substrate, case_id: str, idle_io: int, out: list[CaseStuck]) -> None:
    """``run``'s watchdog: cancel the case once it waits for what cannot come."""
    while True:
        await trio.testing.wait_all_tasks_blocked()
        info = sub.status(case_id)
        if info.state.final:
            return
        stats = trio.lowlevel.current_statistics()
        idle = (
            stats.seconds_to_next_deadline == math.inf
            and stats.run_sync_soon_queue_size == 0
            and _io_waits() <= idle_io
            and trio.to_thread.current_default_thread_limiter().statistics().borrowed_tokens == 0
        )
        # a waiting case's timers and timeout are deadlines, its effects
        # deadlines, I/O or threads: with none of them, only a signal could
        # move it, and run sends no more
        if idle and info.state in (CaseState.WAITING_SIGNAL, CaseState.WAITING_EFFECT):
            out.append(_stuck(info))
            await sub.cancel(case_id)
            return
        # something can still move: check again once it has (a deadline
        # passes, or I/O / a thread wakes a task)
        delay = stats.seconds_to_next_deadline
        await trio.sleep(delay if delay < math.inf else 0.05)


def _stuck(info: CaseInfo) -> CaseStuck:
    effects = info.effect_names
    what = [f"signal {n!r}" for n in info.waiting_signals]
    what += [f"effect {n!r}" for n in effects]
    waits = " and ".join(what) or "nothing it can name"
    hint = (
        " (pass signals=[(name, payload), ...] to wf.run, or run the case on a substrate "
        "and send them with sub.signal)"
        if info.waiting_signals
        else ""
    )
    return CaseStuck(
        f"wf.run: case {info.case_id!r} waits for {waits}, which nobody can deliver; "
        f"it was cancelled{hint}",
        tuple(info.waiting_signals) + effects,
    )
