"""The case runner: one task per case, driving the pure reducer.

State machine (every transition is a ``case_state`` trace event whose
``name`` is the new state and ``data["from"]`` the old one)::

    INITIALIZING ──> RUNNING <──> WAITING_EFFECT
                        │  ^──> WAITING_SIGNAL
                        v
              DONE | FAILED | CANCELLED      (from any non-final state)

The runner reduces in bursts of ``step_quanta`` steps and checkpoints
between bursts (never per step).  When every live token waits, it blocks on
its inbox, which carries signals, effect results, timer firings and cancel
requests; it feeds them to the reducer in arrival order, so the trace
records inputs in the order they were consumed (what replay feeds back).
Effects and timers run as children of the runner (see ``_children``).
A case waiting with no child left keeps no task: the runner parks its inbox
and ends, and the next message starts it again (:meth:`Case.run`).
"""

from __future__ import annotations

import contextvars
import logging
import math
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, assert_never

import trio
from trio_util import AsyncValue  # type: ignore[import-untyped]

from wftrio.engine import (
    FINAL,
    CancelEffect,
    CancelTimer,
    Command,
    ExecState,
    StartEffect,
    StartTimer,
    Status,
    feed_effect_outcomes,
)
from wftrio.engine.program import Program
from wftrio.errors import ReplayDivergence
from wftrio.governance import BudgetUsage
from wftrio.registry import RegisteredWorkflow
from wftrio.runtime._case_end import _FROM, CaseEnd
from wftrio.runtime._case_record import CaseNotes
from wftrio.runtime._children import Children
from wftrio.runtime._durable import CaseLog, Resumed
from wftrio.runtime._effects import escaped
from wftrio.runtime._inbox import NO_INBOX, Inbox
from wftrio.runtime._messages import (
    CancelCase,
    CancelRegion,
    EffectEscaped,
    EffectOutcome,
    EffectRetry,
    Message,
    Signal,
    TimerFired,
    any_internal,
    count_signals,
    in_feed_order,
)
from wftrio.runtime._replay import ReplayFeed, arm_timer, end_replay, replay_next
from wftrio.runtime._sinks import SinkSlot
from wftrio.runtime._types import FINAL_STATES, CaseOptions, CaseResult, CaseState
from wftrio.runtime._workflow import region_names
from wftrio.scheduling import Replay, make_scheduler
from wftrio.trace import EventKind, TraceEvent

if TYPE_CHECKING:
    from wftrio.runtime._substrate import Substrate
    from wftrio.terms import Term

__all__ = ["Case", "CaseNotes"]  # CaseNotes: see _case_record

logger = logging.getLogger("wftrio.runtime")


_clock: tuple[Any, Callable[[], float]] | None = None  # the last run's clock, current_time


def run_clock() -> Callable[[], float]:
    """The current trio run's ``clock.current_time``: what ``trio.current_time`` returns.

    One Python call per reading instead of three (``trio.current_time`` goes
    through the run context); bound once per clock, not per case (64 B).
    The pair is swapped as one tuple: runs in other threads never mix clocks.
    """
    global _clock
    clock = trio.lowlevel.current_clock()
    pair = _clock
    if pair is None or pair[0] is not clock:
        pair = _clock = (clock, clock.current_time)
    return pair[1]


_eid = itemgetter(0)  # an EffectOutcome's effect id
_OUTCOMES = frozenset({EffectOutcome})  # a batch of these alone is fed positionally


def _is_final(state: CaseState) -> bool:
    return state in FINAL_STATES


class Case(CaseEnd):
    """One case: the record the substrate's API reads, and its runner task.

    While the case lives, ``st`` is its reducer state; when it finishes the
    runner builds ``result`` and drops ``st`` (a finished case keeps only
    its result, trace and a few numbers).
    """

    # (the fields the end writes are CaseEnd's slots)
    __slots__ = (
        "_cancel_at",
        "_ctx0",
        "_root",
        "_watch",
        "case_id",
        "durable",
        "inbox",
        "opts",
        "resumed",
        "started_at",
        "sub",
        "workflow",
    )

    def __init__(
        self,
        sub: Substrate,
        case_id: str,
        program: Program,
        ctx: Mapping[str, Any] | None,
        opts: CaseOptions,
        root: str | None = None,
        workflow: RegisteredWorkflow | None = None,
    ) -> None:
        self.sub = sub
        self.case_id = case_id
        # the registered workflow the case runs (None: started from a bare term)
        self.workflow = workflow
        self._term: Term | None = None  # a finished bare-term case's term (for its graph)
        # the run's causal root, handed to the ExecState at start (then dropped)
        self._root = root
        self.program = program
        self.opts = opts
        self.level = opts.trace_level
        self.state = CaseState.INITIALIZING
        self._watch: Any = None  # AsyncValue[CaseState], made for the first watcher
        self.inbox = NO_INBOX  # its own made when first needed (see start)
        self.st: ExecState | None = None
        self._ctx0 = ctx
        self.events: list[TraceEvent] | None = None
        self.targets: tuple[SinkSlot, ...] = sub.hub.sinks
        self.notes: CaseNotes | None = None  # made at the first note
        self._unsent: list[TraceEvent] | None = None
        self.kids: Children | None = None
        self.replay: ReplayFeed | None = None
        self.reason: str | None = None
        self.error: BaseException | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.result: CaseResult | None = None
        self._cancel_at: float | None = None
        # (steps, signals held unconsumed or None) once finished
        self._end: tuple[int, dict[str, int] | None] | None = None
        self._budget: BudgetUsage | None = None  # kept when the case finishes
        # the contextvars context of the runner task while the case is parked
        self._context: contextvars.Context | None = None
        self.undelivered = 0
        # the case's link to a durable store (None on a MemoryStore)
        self.durable: CaseLog | None = None
        # a resumed durable case: what it starts from (dropped once it caught up)
        self.resumed: Resumed | None = None

    # -- watching ------------------------------------------------------------

    def watcher(self) -> Any:
        """The ``trio_util.AsyncValue`` mirroring ``state`` (made on first use)."""
        if self._watch is None:
            self._watch = AsyncValue(self.state)
        return self._watch

    async def wait_final(self) -> None:
        """Wait until the case has finished (a checkpoint even if it has)."""
        if self.state in FINAL_STATES:
            await trio.lowlevel.checkpoint()
        else:
            await self.watcher().wait_value(_is_final)

    def _set_state(self, new: CaseState) -> None:
        old = self.state
        if new is old:
            return
        self.state = new
        st = self.st
        if st is not None and st.tracing:
            st.emit(EventKind.CASE_STATE, new._value_, None, _FROM[old])
        if self._watch is not None and new not in FINAL_STATES:
            self._watch.value = new

    # -- the runner task -----------------------------------------------------

    def start(self, nursery: trio.Nursery) -> None:
        """Initialise the case and take its first burst, then start its runner task in ``nursery``.

        Initialisation (building the reducer state) is synchronous, so it
        runs here, in the caller: when this returns the case is RUNNING
        and its runner is scheduled.  (``nursery.start`` would give the
        same guarantee but trio keeps the start's temporary nursery, cancel
        scope and two cancel statuses alive with every task it started:
        ~1.2 KB per case, measured, more than half a bare task.)  An
        exception from initialisation (a reducer bug) ends the case FAILED.

        The first ``step_quanta`` steps are taken here too: a case that
        finishes in them (pure tasks only) ends here, with no runner task
        and no inbox: no spawn, no scheduler round (issue 12's small case).
        Only for a case with no timeout, no replay and no sink (those need
        the runner's awaits); anything else it requested (effects, timers)
        is left in the outbox for the runner task to carry out.
        """
        try:
            st = self._init()
        except Exception as exc:
            if self.started_at is None:  # (read with the ExecState's first reading)
                self.started_at = self.sub.now()
            self.error = exc
            self._conclude()
            return
        if self.state is CaseState.INITIALIZING:  # a restored case is in its stored state
            # _set_state(RUNNING), inlined
            self.state = CaseState.RUNNING
            if st.tracing:
                st.emit(EventKind.CASE_STATE, "running", None, _FROM[CaseState.INITIALIZING])
            if self._watch is not None:  # (a durable case is visible while its row is written)
                self._watch.value = CaseState.RUNNING
        opts = self.opts
        if opts.timeout is None and self.replay is None and not self.targets:
            before = st.steps
            try:
                status = st.run(opts.step_quanta)
            except Exception as exc:
                self._fail(exc)
                status = st.status
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    # re-raised to new_case's caller, as from the runner task to
                    # open_substrate's exit; the case ends cancelled first
                    self._conclude()
                    raise
                self._fail(escaped(exc, "a task"))
                status = st.status
            self.sub.counters.steps += st.steps - before
            if status in FINAL:  # finished in its first burst: no task needed, nor an inbox
                self._conclude()
                return
        if self.inbox is NO_INBOX:
            self.inbox = Inbox(self.sub.inbox_capacity)
        nursery.start_soon(self.run, name=f"wftrio case {self.case_id}")

    async def run(
        self,
        kids: Children | None = None,
        resume: list[Message] | None = None,
        *,
        top: bool = True,
    ) -> None:
        """The case runner task: bursts, inputs and waits, until the case is final.

        As the task (``top``): exceptions from user code, the reducer or
        the runner end the case FAILED; cancellation from outside (substrate
        shutdown) ends it CANCELLED and propagates; the case's timeout ends
        it CANCELLED (:meth:`_run_timed` runs the loop in the timeout's
        cancel scope).  ``kids is None``: no case nursery is open; when
        children must start, the loop opens the case nursery and runs itself
        inside it (``kids`` given, ``top`` False: exceptions propagate to the
        task), which returns when the case is final or when the nursery is
        empty and the case waits (a waiting case keeps no nursery and no
        extra frame).  The task and the loop are one coroutine: a wrapper
        task around the loop kept a second frame alive with every waiting
        case (~340 B, measured).

        A case that waits with no child left (only signals, a cancel or a
        cancelled region can move it) keeps no task at all: the task
        *parks* the inbox and ends (:meth:`_may_park`), and the first
        message sent to it starts a new runner task (:meth:`__call__`) with
        the batch ``receive`` would have returned: ``resume``.  A bare trio
        task blocked on a wait is ~1.7 KB; a waiting case held one more
        than its own state (figure 7).  At shutdown the substrate starts the
        parked cases' runners again, cancelled where they waited
        (:meth:`stop_parked`).
        """
        parked = False
        try:
            if top and self.opts.timeout is not None:
                await self._run_timed()
                return
            st = self.st
            assert st is not None
            counters = self.sub.counters
            quanta = self.opts.step_quanta
            batch = resume
            while True:
                if batch:
                    if any_internal(batch):
                        batch = await self._settle(batch)
                    self._handle(batch)
                    if st.status is Status.RUNNING:
                        self._set_state(CaseState.RUNNING)
                    batch = None
                rp = self.replay
                if rp is not None and not rp.pending:
                    end_replay(self, rp)  # a resumed case with nothing (more) to replay
                    rp = None
                budget = quanta
                if rp is not None and rp.pending:
                    budget = min(budget, rp.next_step() - st.steps)
                before = st.steps
                try:
                    status = st.run(budget) if budget > 0 else st.status
                    self._dispatch(st.take_outbox())
                except Exception as exc:
                    self._fail(exc)
                    status = st.status
                except BaseException as exc:
                    # synchronous code: no trio.Cancelled here is the case's own
                    if isinstance(exc, KeyboardInterrupt | SystemExit):
                        raise
                    self._fail(escaped(exc, "a task"))
                    status = st.status
                counters.steps += st.steps - before
                if status in FINAL:
                    self.undelivered += count_signals(self.inbox.close())
                    return
                if kids is None and self.kids is not None and self.kids.live:
                    await self._in_nursery(self.kids)
                    if st.status in FINAL:
                        return
                    continue
                if rp is not None and rp.pending:
                    if rp.next_step() == st.steps:
                        await replay_next(self, rp, status)
                        continue
                    if status is Status.BLOCKED:
                        self._fail(
                            ReplayDivergence(
                                f"replay: the case blocked at step {st.steps} but the next "
                                f"recorded input ({rp.inputs[rp.pos].kind}) is at step "
                                f"{rp.next_step()}"
                            )
                        )
                        continue
                if status is Status.RUNNING:
                    if self._unsent or (self.targets and st.has_events()):
                        await self._flush()
                    await trio.lowlevel.checkpoint()
                    batch = self.inbox.receive_nowait()
                else:
                    if kids is not None and kids.live == 0:
                        return  # nothing left in the nursery: wait without it
                    self._set_state(
                        CaseState.WAITING_EFFECT if st.effects else CaseState.WAITING_SIGNAL
                    )
                    if self.durable is not None and self._stalled_replay(st):
                        continue  # failed: it would wait forever
                    await self._flush()
                    if st.status in FINAL:  # failed by its commit (unstorable, diverged)
                        continue
                    if top and self._may_park() and self.park():
                        # the next message starts the runner again, in this
                        # task's contextvars (not the sender's)
                        parked = True
                        return
                    batch = await self.inbox.receive()
                    if self.kids is not None and self.kids.unstarted:
                        # what the reduction started has begun before any
                        # input can withdraw it (the cancelled receipts' rule)
                        await self.kids.until_started()
        except Exception as exc:
            if not top:
                raise
            self._fail(exc)
        finally:
            if top and not parked:
                await self._end_task()

    async def _end_task(self) -> None:
        """The end of the runner task: conclude the case if needed, flush its last events."""
        if self.state not in FINAL_STATES:
            self._conclude()
        if self._unsent:
            with trio.CancelScope(shield=True):
                await self._flush()
        self.targets = ()  # a finished case holds no sink

    async def _run_timed(self) -> None:
        """The loop inside the cancel scope of the case's timeout."""
        timeout = self.opts.timeout
        assert timeout is not None
        assert self.started_at is not None
        res = self.resumed
        deadline = self.started_at + timeout
        if res is not None:
            deadline = math.inf  # set once the resumed case has caught up
        with trio.CancelScope(deadline=deadline) as scope:
            if res is not None:
                res.scope = scope
            await self.run(None, top=False)
        st = self.st
        if scope.cancelled_caught and st is not None and st.status not in FINAL:
            self.reason = "timeout"
            st.cancel("timeout")

    def _init(self) -> ExecState:
        """Build the case's reducer state (or take its restored one); return it."""
        opts = self.opts
        spec = opts.scheduler
        clock = trio_clock = self.sub.now
        res = self.resumed
        if res is not None or isinstance(spec, Replay):
            if res is None:
                assert isinstance(spec, Replay)
                self.replay = ReplayFeed(spec.log.inputs)
                clock = self.replay.clock
            else:
                self.replay = res.feed
                clock = res.feed.clock
                if res.state is not None:
                    # restored from its snapshot, in the runner state it was in then
                    st, res.state = res.state, None
                    self.st = st
                    st.defer_keys = True  # StartEffect.key: derived by the effect tasks
                    self.state = res.runner_state
                    self._ctx0 = self._root = None
                    self.started_at = trio_clock()
                    return st
        wf = self.workflow
        st = self.st = ExecState(
            self.program,
            self._ctx0,
            case_id=self.case_id,
            causal_root=self._root,
            scheduler=make_scheduler(spec),
            trace_level=self.level,
            clock=clock,
            allow=opts.allow,
            budget=opts.budget,
            workflow=None
            if wf is None
            else {"name": wf.name, "version": wf.version, "fingerprint": wf.fingerprint},
        )
        st.defer_keys = True  # StartEffect.key: derived by the effect tasks
        if self.replay is not None:  # its clock is case time already, from 0: no offset
            self.started_at = trio_clock()
            st.t0 = 0.0
        else:
            self.started_at = st.t0  # the same clock: one reading for both
        self._ctx0 = self._root = None
        return st

    async def _in_nursery(self, kids: Children) -> None:
        """Run the loop inside the case nursery while children are live."""
        st = self.st
        assert st is not None
        async with trio.open_nursery() as nursery:
            kids.root.open(nursery)
            await self.run(kids, top=False)
            if st.status in FINAL:
                nursery.cancel_scope.cancel()  # withdrawn effects' cleanup, timers
                if not kids.live and self.state not in FINAL_STATES:
                    self._conclude()  # before the exit's schedule point: waiters wake sooner
        kids.root.nursery = None

    # -- inputs --------------------------------------------------------------

    async def _settle(self, batch: list[Message]) -> list[Message]:
        """Let every effect and timer finishing at this instant report, then return all.

        Tasks woken at one instant (effects sleeping until the same virtual
        time) run in whatever order trio picks, and the first report wakes
        this runner before the others have reported.  One shielded
        checkpoint per round lets them all run (nothing is lost to a
        cancellation meanwhile); :func:`~wftrio.runtime._messages.in_feed_order` then orders what
        came.  Costs one checkpoint per batch of effect outcomes, not per
        effect.
        """
        while True:
            kids = self.kids
            if kids is None or not kids.live:
                # no effect task or timer is left to report (a child reports
                # and ends in one step): take what is queued, wait for nothing
                more = self.inbox.receive_nowait()
                return batch + more if more else batch
            await trio.lowlevel.cancel_shielded_checkpoint()
            more = self.inbox.receive_nowait()
            if not more:
                return batch
            batch = batch + more
            if not any_internal(more):
                return batch

    def _handle(self, batch: list[Message]) -> None:
        """Feed a batch of inbox messages to the reducer, in :func:`in_feed_order`."""
        st = self.st
        assert st is not None
        rp = self.replay
        counters = self.sub.counters
        if rp is None and self.durable is None and _OUTCOMES.issuperset(map(type, batch)):
            # the common batch (effects that finished at one instant): fed in
            # issue order (in_feed_order's, for effects alone) in fewer calls
            if len(batch) > 1:
                batch = sorted(batch, key=_eid)
            before = st.steps  # (the batch may take join arrivals: steps of the case)
            counters.effects_completed += feed_effect_outcomes(st, batch, self._fail)
            counters.steps += st.steps - before
            self._dispatch(st.take_outbox())
            return
        if len(batch) > 1:
            batch = in_feed_order(batch)
        for msg in batch:
            if (
                rp is not None
                and rp.pending
                and (type(msg) is not CancelCase or msg.req is not None)
            ):
                # fed once the recorded inputs are exhausted (a stored cancel too)
                rp.held.append(msg)
                continue
            log = self.durable
            req = msg.req if isinstance(msg, Signal | CancelCase | CancelRegion) else None
            if log is not None and req is not None:
                if st.seq < log.stored:  # resumed, still re-emitting its stored events
                    log.deliver.append(msg)  # fed once caught up (see _commit)
                    continue
                log.consumed.append(req)  # committed with the burst it feeds
            try:
                # dispatch on the exact type: `is` tests cost ~0.2 us less than
                # a `match` (measured); mypy still checks it is exhaustive
                if type(msg) is Signal:
                    if st.status in FINAL:
                        self.undelivered += 1
                    else:
                        st.feed_signal(msg.name, msg.payload, transient=msg.transient)
                elif type(msg) is EffectOutcome:
                    if st.feed_effect(
                        msg.eid,
                        msg.result,
                        msg.error,
                        attempts=msg.attempts,
                        started=msg.started,
                        ended=msg.ended,
                        outcome=msg.outcome,
                    ):
                        counters.effects_completed += 1
                elif type(msg) is TimerFired:
                    st.fire_timer(msg.tid)
                elif type(msg) is EffectRetry:
                    st.feed_effect_retry(msg.eid, msg.attempt, msg.error, msg.delay)
                elif type(msg) is CancelCase:
                    if st.status not in FINAL:
                        self.reason = "cancel"
                        self._cancel_at = msg.requested_at
                        st.cancel("cancel")
                elif type(msg) is CancelRegion:
                    scope_id = msg.scope_id
                    insts = st.regions.get(scope_id)
                    rids = [r.id for r in insts if r.alive] if insts else []
                    st.cancel_region(scope_id)
                    self._dispatch(st.take_outbox())
                    if rids and self.kids is not None:
                        self.kids.cancel_regions(rids)
                elif type(msg) is EffectEscaped:
                    # the effect's own receipt records the error; then the
                    # whole case fails (whatever on_error the task has)
                    st.feed_effect(
                        msg.eid,
                        None,
                        msg.error,
                        attempts=msg.attempts,
                        started=msg.started,
                        ended=msg.ended,
                        outcome="error",
                    )
                    self._fail(msg.error)
                else:  # pragma: no cover - mypy checks the chain is exhaustive
                    assert_never(msg)
            except Exception as exc:
                self._fail(exc)
        self._dispatch(st.take_outbox())

    # -- outputs -------------------------------------------------------------

    def _kids(self) -> Children:
        kids = self.kids
        if kids is None:
            inbox = self.inbox
            st = self.st
            assert st is not None
            kids = self.kids = Children(
                inbox.put,
                inbox.wake,
                self.sub.counters,
                self.opts.effect_handler,
                self.case_id,
                st.now,
                st.clock,
                st.t0,
            )
        return kids

    def _dispatch(self, cmds: list[Command]) -> None:
        """Carry out the reducer's commands (start/cancel effects and timers)."""
        st = self.st
        assert st is not None
        if not cmds:
            kids = self.kids
            if kids is not None and kids.held is not None and st.status is not Status.RUNNING:
                kids.settle_held(st.status is Status.BLOCKED)
            return
        rp = self.replay
        if rp is not None and rp.pending:
            # recorded inputs will stand in for these effects and timers
            now = rp.clock()
            for c in cmds:
                if isinstance(c, StartEffect):
                    rp.deferred[("effect", c.eid)] = (c, now)
                elif isinstance(c, StartTimer):
                    rp.deferred[("timer", c.tid)] = (c, now)
                elif isinstance(c, CancelEffect):
                    rp.deferred.pop(("effect", c.eid), None)
                else:
                    rp.deferred.pop(("timer", c.tid), None)
            return
        kids = self._kids()
        # effects start once the reduction blocks (see Children.start_effect)
        hold = st.status is Status.RUNNING
        starts: list[StartEffect] = []  # consecutive effects, started in one call
        for c in cmds:
            if isinstance(c, StartEffect):  # the common command first
                starts.append(c)
                continue
            if starts:
                kids.start_effects(starts, hold=hold)
                starts = []
            if isinstance(c, CancelEffect):
                kids.cancel_effect(c.eid, st.status in FINAL)
            elif isinstance(c, StartTimer):
                arm_timer(self, c.tid, c.seconds)
            elif isinstance(c, CancelTimer):
                kids.cancel_timer(c.tid)
        if starts:
            kids.start_effects(starts, hold=hold)
        if kids.held is not None and not hold:
            kids.settle_held(st.status is Status.BLOCKED)

    def region_ids(self) -> frozenset[str]:
        """The ids of every region of the case's workflow (empty once it finished)."""
        return region_names(self.program.term) if self.program is not None else frozenset()

    def __repr__(self) -> str:
        return f"<Case {self.case_id!r} {self.state.value}>"
