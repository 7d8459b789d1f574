"""A durable case's link to its store, and resuming the cases a store holds.

The runner hands each committed burst to :meth:`CaseLog.commit` (events as
JSON lines, the ids of the requests the burst consumed, the wall-clock
deadlines of the timers it armed and, every ``snapshot_every`` bursts, a
snapshot of the case, in one transaction); a resumed case restores its
latest snapshot (if any), then replays the events committed after it, and
:class:`CaseLog` skips the ones already stored (a replay emits the same
events with the same ``seq``).  It checks that they are the same: a
re-emitted event whose kind or name differs from the stored one at its
``seq``, or a replay that ends the case before it has emitted every stored
event again, means the code resuming the case is not the code that ran it
(a workflow changed under the same fingerprint, or a wftrio whose trace
differs, e.g. one that records ``mi_chunk`` events where the stored trace
has none).  The case then fails in memory with a
:class:`~wftrio.errors.ReplayDivergence` and nothing more is written for it:
the store keeps it unfinished, with its history, for the code that ran it.
Nothing is written once the substrate is
closing: the cancellation a shutdown imposes on live cases is not their
end, so the store keeps them unfinished and the next substrate resumes them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import trio

from wftrio.engine import ExecState, StartEffect, pending_commands
from wftrio.errors import (
    OptionError,
    ReplayDivergence,
    SchedulerError,
    SerializationError,
    StoreCorrupt,
    StoreError,
    UnknownWorkflow,
    UnstorableValue,
    WftrioError,
    WorkflowVersionMismatch,
)
from wftrio.registry import RegisteredWorkflow
from wftrio.runtime._messages import CancelCase, CancelRegion, Message, Signal
from wftrio.runtime._replay import ReplayFeed
from wftrio.runtime._stored import load_options
from wftrio.runtime._types import CaseOptions, CaseState, parse_case_options
from wftrio.runtime._workflow import region_names, signal_names
from wftrio.scheduling import replay_log_problems
from wftrio.serialize import dumps_snapshot, dumps_trace, loads_snapshot
from wftrio.stores import DurableStore, SQLiteStore, StoredCase, StoredRequest
from wftrio.stores._outside import FROM_INBOX, InboxRow
from wftrio.trace import INPUT_KINDS, InputEvent, ReplayLog, TraceEvent

if TYPE_CHECKING:
    from wftrio.runtime._substrate import Substrate

__all__ = ["CaseLog", "Resumed", "check_json", "resume_cases", "serve_inbox"]

logger = logging.getLogger("wftrio.runtime")

_ABSENT = object()


def check_json(value: Any, what: str) -> None:
    """Refuse a value a durable store cannot keep.

    Raises:
        UnstorableValue: ``value`` is not JSON.
    """
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise UnstorableValue(f"{what} must be JSON to be stored durably: {exc}") from None


class CaseLog:
    """Where a durable case's bursts go.

    Attributes:
        store: the substrate's durable store.
        case_id: the case.
        stored: events already in the store (a resumed case's replay skips them).
        consumed: ids of the requests fed since the last commit.
        broken: an event could not be stored; the case failed, and only its
            final state is stored from then on.
        deliver: a resumed case's requests committed but not consumed, put
            in its inbox once the case has emitted every stored event again
            (fed earlier, they would make a history other than the stored one).
        timers: ``(timer id, wall-clock deadline)`` of the timers armed since
            the last commit.
        deadlines: a resumed case's stored timer deadlines, by timer id (a
            timer armed again keeps the deadline it was first armed with).
        bursts: bursts committed since the last snapshot.
        ctx_seen: a shallow copy of the ctx last stored (``None``: none yet
            by this process), to tell whether a burst changed it without
            serialising it: ctx values are frozen, so a value that is the
            same object is the same value.
        next_seq: events committed so far (this process's count).
        expect: ``(kind, name)`` of the stored events from ``seq`` ``base``
            to ``stored`` (a resumed case's replay must emit the same).
        base: the ``seq`` of the first of them (its snapshot's, or 0).
        diverged: the replay did not emit the stored events (see the module
            docstring): nothing more is written for the case.
        unresumed: where a divergence is noted (the substrate's
            ``unresumed``; ``None`` for a new case, which never diverges).
    """

    __slots__ = (
        "base",
        "broken",
        "bursts",
        "case_id",
        "consumed",
        "ctx_seen",
        "deadlines",
        "deliver",
        "diverged",
        "expect",
        "next_seq",
        "store",
        "stored",
        "timers",
        "unresumed",
    )

    def __init__(
        self,
        store: DurableStore,
        case_id: str,
        stored: int,
        expect: Sequence[tuple[str, str | None]] = (),
        base: int = 0,
    ) -> None:
        self.store = store
        self.case_id = case_id
        self.stored = stored
        self.expect = expect
        self.base = base
        self.diverged: ReplayDivergence | None = None
        self.unresumed: dict[str, Exception] | None = None
        self.consumed: list[int] = []
        self.broken = False
        self.deliver: list[Message] = []
        self.timers: list[tuple[int, float]] = []
        self.deadlines: dict[int, float] = {}
        self.bursts = 0
        self.ctx_seen: dict[str, Any] | None = None
        self.next_seq = stored

    @classmethod
    def resumed(
        cls,
        store: DurableStore,
        stored: StoredCase,
        requests: list[Message],
        unresumed: dict[str, Exception],
    ) -> CaseLog:
        """The log of a stored case resuming: its stored events to replay and check,
        its committed requests to deliver once caught up, its timer deadlines;
        a divergence is noted in ``unresumed`` (the substrate's)."""
        expect = [(ev.kind, ev.name) for ev in stored.events]
        n = stored.snapshot_seq + len(stored.events)
        log = cls(store, stored.case_id, n, expect, stored.snapshot_seq)
        log.deliver = requests
        log.deadlines = dict(stored.timers)
        log.unresumed = unresumed
        return log

    def timer_deadline(self, tid: int, seconds: float) -> tuple[float, float]:
        """Timer ``tid``, armed now for ``seconds``: its wall-clock deadline and time left.

        A timer the store already holds keeps its stored deadline (a resumed
        case arms again what it had armed before the process stopped);
        another one is due ``seconds`` from now on the store's clock, and is
        committed with the burst.
        """
        now = self.store.clock()
        wall = self.deadlines.pop(tid, None)
        if wall is None:
            wall = now + seconds
            self.timers.append((tid, wall))
        return wall, wall - now

    def commit(
        self,
        events: Sequence[TraceEvent],
        state: ExecState | None = None,
        runner: str = "running",
        ctx: Mapping[str, Any] | None = None,
    ) -> StoreError | ReplayDivergence | None:
        """Queue one burst; the error to fail the case with if it cannot be stored.

        ``state``: the case's state after the burst, given when a snapshot
        may be taken of it now (between bursts, outbox drained, not
        replaying); ``runner``: the runner's state then (a restored case
        starts in it, so it emits the ``case_state`` events the original did);
        ``ctx``: the case's ctx after the burst (not while it replays), stored
        with the burst if it changed since it was last stored.
        """
        if self.broken or self.diverged is not None:
            return None
        skip = self.stored
        if skip and events and events[0].seq < skip:
            err = self._check_replayed(events)
            if err is not None:
                return err
            if events[-1].seq + 1 >= skip:
                self.expect = ()  # caught up: nothing more to compare (memory)
        new = [ev for ev in events if ev.seq >= skip] if skip else events
        if not new and not self.consumed and not self.timers:
            return None
        try:
            lines = dumps_trace(new).splitlines()
        except SerializationError as exc:
            self.broken = True
            return UnstorableValue(
                f"case {self.case_id!r}: an event cannot be stored: {exc} (effect results "
                "and signal payloads of a durable case must be JSON)"
            )
        if new:
            self.next_seq = new[-1].seq + 1
        consumed, self.consumed = self.consumed, []
        timers, self.timers = self.timers, []
        self.bursts += 1
        snap = None
        every = self.store.snapshot_every
        if state is not None and every is not None and self.bursts >= every:
            try:
                snap = (state.seq, runner, dumps_snapshot(state.snapshot()), tuple(state.timers))
                self.bursts = 0
            except SerializationError as exc:  # the next burst's events fail the case
                logger.warning("case %r: no snapshot taken: %s", self.case_id, exc)
        self.store.append(
            self.case_id,
            [(ev.seq, ln) for ev, ln in zip(new, lines, strict=True)],
            consumed,
            timers=timers,
            snapshot=snap,
            ctx=self._ctx_row(ctx) if ctx is not None else None,
        )
        return None

    def _check_replayed(self, events: Sequence[TraceEvent]) -> ReplayDivergence | None:
        """Compare the re-emitted events with the stored ones (see the module docstring)."""
        expect, base, skip = self.expect, self.base, self.stored
        for ev in events:
            if ev.seq >= skip:
                break
            i = ev.seq - base
            if 0 <= i < len(expect) and expect[i] != (ev.kind, ev.name):
                kind, name = expect[i]
                return self.diverge(
                    f"its replay emits {ev.kind} {ev.name!r} as event {ev.seq}, where the store "
                    f"holds {kind} {name!r}"
                )
        return None

    def diverge(self, what: str) -> ReplayDivergence:
        """Note that the replay left the stored history: nothing more is written."""
        self.diverged = exc = ReplayDivergence(
            f"stored case {self.case_id!r} cannot resume: {what}. The code resuming it is not "
            "the code that ran it (a changed task or workflow, or another wftrio version); "
            "it stays unfinished in the store, unchanged: resume it with the code that "
            "started it"
        )
        logger.error("%s", exc)
        if self.unresumed is not None:
            self.unresumed[self.case_id] = exc
        return exc

    def short_of(self, seq: int, final: str) -> ReplayDivergence | None:
        """The divergence if a case ending with ``seq`` events has not emitted every stored one.

        ``final``: its final state, whose ``case_state`` event comes next
        (the store may hold it: the process stopped between it and the
        case's final row).
        """
        last = self.stored - 1
        i = last - self.base
        if seq == last and 0 <= i < len(self.expect) and self.expect[i] == ("case_state", final):
            return None
        if self.diverged is None and seq < self.stored:
            return self.diverge(
                f"its replay ends the case after {seq} events, where the store holds {self.stored}"
            )
        return None

    def _ctx_row(self, ctx: Mapping[str, Any], final: bool = False) -> tuple[int, str] | None:
        """``(events committed, JSON)`` of ``ctx`` if it changed since it was last stored."""
        seen = self.ctx_seen
        if not final and seen is not None and len(seen) == len(ctx):
            get = seen.get
            if all(get(k, _ABSENT) is v for k, v in ctx.items()):
                return None
        try:
            # a value JSON cannot hold is shown as its repr (the console does so too)
            text = json.dumps(ctx, default=repr)
        except (TypeError, ValueError) as exc:  # a cycle: readers keep the last one stored
            logger.warning("case %r: its ctx is not stored: %s", self.case_id, exc)
            return None
        self.ctx_seen = dict(ctx)
        return self.next_seq, text

    def finish(self, state: str, ctx: Mapping[str, Any] | None = None) -> None:
        """Queue the case's final state, and its final ctx (nothing if it diverged)."""
        if self.diverged is not None:
            return
        row = self._ctx_row(ctx, final=True) if ctx is not None and not self.broken else None
        self.store.finish(self.case_id, state, row)


def _message(req: StoredRequest, now: float) -> Message:
    if req.kind == "signal":
        assert req.name is not None
        return Signal(req.name, req.payload, req.transient, req.req)
    if req.kind == "cancel":
        return CancelCase(now, req.req)
    assert req.name is not None
    return CancelRegion(req.name, req.req)


class Resumed:
    """What a resumed case starts from, handed to its runner (then dropped).

    Attributes:
        feed: its committed inputs (after its snapshot, if any), fed back
            at once, in order, at their recorded steps: no time passes for a
            replay of what already happened.
        state: the state restored from its latest snapshot, or ``None``
            (the case starts from the beginning and replays everything).
        timeout_left: wall-clock seconds left of its ``timeout=`` (counted
            from its creation on the store's clock), or ``None``.
        runner_state: the runner state the restored case was in at its snapshot.
        scope: the cancel scope of its timeout, set by the runner.
    """

    __slots__ = ("feed", "runner_state", "scope", "state", "timeout_left")

    def __init__(
        self,
        feed: ReplayFeed,
        state: ExecState | None,
        timeout_left: float | None,
        runner_state: CaseState = CaseState.RUNNING,
    ) -> None:
        self.feed = feed
        self.state = state
        self.timeout_left = timeout_left
        self.runner_state = runner_state
        self.scope: trio.CancelScope | None = None


def _inputs(item: StoredCase) -> tuple[InputEvent, ...]:
    """The external inputs among a stored case's events, in order.

    Raises:
        StoreCorrupt: they are not inputs a case records (steps or times
            going back, ...: :func:`~wftrio.scheduling.replay_log_problems`).
    """
    out = tuple(
        InputEvent(ev.kind, ev.data["at_step"], ev.name, ev.time, dict(ev.data))
        for ev in item.events
        if ev.kind in INPUT_KINDS and "at_step" in ev.data
    )
    problems = replay_log_problems(ReplayLog(False, (), out))
    if problems:
        where, what = problems[0]
        raise StoreCorrupt(
            f"stored case {item.case_id!r}: its stored inputs do not replay: {where}: {what}",
            item.case_id,
        )
    return out


def _restore(
    entry: RegisteredWorkflow, item: StoredCase, opts: CaseOptions, text: str
) -> tuple[ExecState, ReplayFeed]:
    """The case's state restored from its snapshot, and the feed of what came after.

    Raises:
        StoreCorrupt: the snapshot is unreadable, inconsistent, of another
            Program or taken under other options (the cause says which).
    """
    try:
        snap = loads_snapshot(text)
        if snap.seq != item.snapshot_seq:
            raise SerializationError(
                f"it continues at event {snap.seq}, its row says {item.snapshot_seq}"
            )
        feed = ReplayFeed(_inputs(item), fast=True, base_rec=snap.elapsed)
        st = ExecState.restore(
            entry.program,
            snap,
            case_id=item.case_id,
            trace_level=item.trace_level,
            clock=feed.clock,
            allow=opts.allow,
            budget=opts.budget,
        )
    except StoreCorrupt:
        raise
    except WftrioError as exc:  # SerializationError, ProgramMismatch, ...
        raise StoreCorrupt(
            f"stored case {item.case_id!r}: its snapshot does not restore: {exc}", item.case_id
        ) from exc
    for cmd in pending_commands(st):
        # started again when the feed is exhausted, as a replay's held-back commands
        key = ("effect", cmd.eid) if isinstance(cmd, StartEffect) else ("timer", cmd.tid)
        feed.deferred[key] = (cmd, feed.clock())
    return st, feed


async def resume_cases(sub: Substrate, found: Sequence[StoredCase | Exception]) -> None:
    """Resume every unfinished stored case; note the ones that cannot be in ``sub.unresumed``.

    A case resumes on the registered workflow version it started on (its
    Program fingerprint checked), with the options it was started with
    (its effect handler is the substrate's): restored from its latest
    snapshot, if it has one, then through a replay of the events committed
    after it; then the requests committed but not consumed are delivered.
    """
    store = sub.durable_store
    assert store is not None
    for item in found:
        if isinstance(item, Exception):
            sub.unresumed[getattr(item, "case_id", "?")] = item
            continue
        try:
            entry = sub.registry.check(item.workflow, item.version, item.fingerprint)
            given = load_options(item.options, item.case_id)
            given["validate"] = False  # checked when the case was created
            try:
                opts = parse_case_options(sub.defaults, given, f"stored case {item.case_id!r}")
            except (OptionError, SchedulerError) as exc:
                raise StoreCorrupt(
                    f"stored case {item.case_id!r}: its options are not valid: {exc}",
                    item.case_id,
                ) from exc
            runner = CaseState.RUNNING
            if item.snapshot is not None:
                state, feed = _restore(entry, item, opts, item.snapshot)
                try:
                    runner = CaseState(item.snapshot_runner)
                except ValueError:
                    runner = CaseState.INITIALIZING  # refused just below
                if runner.final or runner is CaseState.INITIALIZING:
                    raise StoreCorrupt(
                        f"stored case {item.case_id!r}: its snapshot's runner state "
                        f"{item.snapshot_runner!r} is not one wftrio writes",
                        item.case_id,
                    )
            else:
                state, feed = None, ReplayFeed(_inputs(item), fast=True)
        except (WorkflowVersionMismatch, UnknownWorkflow, StoreCorrupt) as exc:
            logger.error("stored case %r cannot resume: %s", item.case_id, exc)
            sub.unresumed[item.case_id] = exc
            continue
        left = None
        if opts.timeout is not None:
            left = item.created + opts.timeout - store.clock()
        now = trio.current_time()
        await sub.resume_case(
            entry,
            item,
            opts,
            [_message(r, now) for r in item.pending],
            Resumed(feed, state, left, runner),
        )


def serve_inbox(sub: Substrate, store: SQLiteStore) -> None:
    """Take the requests other processes post to ``store`` (``wftrio signal`` / ``cancel``).

    Each row is admitted exactly as ``sub.signal`` / ``cancel`` /
    ``cancel_region`` admit a request (same checks, same commit, same
    delivery); the commit of its request deletes the row.  A request the
    substrate refuses is marked refused with the error's message.
    """

    def workflows() -> list[tuple[str, int, str, Any, Any]]:
        return [
            (e.name, e.version, e.fingerprint, signal_names(e.term), region_names(e.term))
            for e in sub.registry
        ]

    async def take(rows: Sequence[InboxRow]) -> None:
        for row in rows:
            if sub.closing:  # the rest wait for the next process
                return
            if row.problem is not None:
                store.refuse(row.id, row.problem)
                continue
            token = FROM_INBOX.set(row.id)
            try:
                if row.kind == "signal":
                    await sub.signal(row.case_id, row.name, row.payload)  # type: ignore[arg-type]
                elif row.kind == "cancel":
                    await sub.cancel(row.case_id)
                else:
                    await sub.cancel_region(row.case_id, row.name)  # type: ignore[arg-type]
            except StoreError as exc:  # not committed: the row waits for the next open
                if isinstance(exc, UnstorableValue):
                    store.refuse(row.id, str(exc))
                else:
                    logger.error("inbox row %d for case %r: %s", row.id, row.case_id, exc)
            except WftrioError as exc:  # UnknownCase, CaseClosed, UnknownSignal, ...
                if sub.closing:  # a case cancelled by the shutdown has not ended
                    return
                why = sub.unresumed.get(row.case_id)
                store.refuse(row.id, str(exc) if why is None else f"case not resumed: {why}")
            finally:
                FROM_INBOX.reset(token)

    store.serve_inbox(take, workflows)
