"""ExecState: one case's execution state and the pure reducer over it.

The reducer is synchronous and imports no trio.  ``run(max_steps)`` takes up
to ``max_steps`` steps and returns the case status; everything the outside world
must do (start an effect, start or cancel a timer, cancel an effect) is
queued in ``outbox``; everything the outside world tells the case (signal,
effect result, timer firing, region cancellation, case cancellation) goes in
through a ``feed_*`` / ``cancel*`` method, which records it in the trace with
the step count it was consumed at so a replay can feed it back at the same
point.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from wftrio.compiler.program import DeferOps, Program, WaitSignalOps
from wftrio.engine import _effect_outcome, _effects, _run_loop, _withdraw
from wftrio.engine._ops import link
from wftrio.engine._recording import Recording, _record_nothing, scope_of
from wftrio.engine.frozen import FrozenDict, freeze, frozen_copy
from wftrio.engine.objects import EMPTY, CtxLayer, Frame, RegionInst, Token
from wftrio.engine.protocol import (
    FINAL,
    CancelEffect,
    CancelTimer,
    Command,
    EventKind,
    StartEffect,
    StartTimer,
    Status,
    Wait,
    WaitKind,
    error_info,
)
from wftrio.errors import EngineError, RecordedError, TaskError
from wftrio.governance import BudgetUsage
from wftrio.scheduling import Deterministic, Replay, Scheduler
from wftrio.trace import TraceEvent

if TYPE_CHECKING:
    from wftrio.engine._effects import EffectMeta
    from wftrio.engine._snapshot import StateSnapshot
    from wftrio.governance import Budget, Governor

__all__ = [
    "FINAL",
    "CancelEffect",
    "CancelTimer",
    "Command",
    "EngineError",
    "ExecState",
    "RecordedError",
    "StartEffect",
    "StartTimer",
    "Status",
    "TaskError",
    "error_info",
    "scope_of",
    "signal_alt",
]


_NO_USAGE = BudgetUsage(0, 0.0, 0.0, None)
"""The usage of a case that never had a governor (no effect, no budget)."""

_DEQUE_AT = _effects.DEQUE_AT
"""``make_ready`` turns the ready stack into a deque once it holds this many tokens."""


def signal_alt(tok: Token, name: str) -> int:
    """The alternative with which ``tok`` waits for signal ``name`` (-1: it does not)."""
    wait = tok.wait
    if wait is None:
        return -1
    if wait.kind == WaitKind.SIGNAL:
        return 0 if wait.name == name else -1
    if wait.kind == WaitKind.DEFER:
        for arm in wait.arms:
            if arm.kind == WaitKind.SIGNAL and arm.key == name:
                return arm.alt
    return -1


# Status, FINAL, error_info and the commands live in ``protocol`` (shared with
# the runtime); they are re-exported here.


class ExecState(Recording):
    """The execution state of one case, and the reducer stepping it.

    Args:
        program: the compiled workflow (shared, immutable).
        ctx: the initial case ctx (copied).
        case_id: recorded in trace events.
        scheduler: a policy from ``wftrio.scheduling`` (default deterministic).
        trace_level: ``"none"``, ``"min"`` or ``"full"``.
        clock: returns the current time in seconds; trace times are relative
            to its value when the case starts.  ``None`` records 0.0.
        on_event: called with every recorded event (besides ``events``).
        keep_events: append recorded events to ``events`` (default True).
        allow: the case's allowlist of effect kinds (``None``: any kind).
        budget: the case's effect budget (``wftrio.governance.Budget``).
        causal_root: the id effect causal ids derive from (default: the
            recorded case's id under a ``Replay`` scheduler, else ``case_id``).
        workflow: the registered workflow the case runs, as JSON data
            (``{"name", "version", "fingerprint"}``), recorded in
            ``case_started`` (``data["workflow"]``); ``None`` records nothing.
    """

    # slotted: a substrate may hold many thousands of waiting cases
    __slots__ = (
        "__weakref__",
        "_next_id",
        "code",
        "current",
        "defer_keys",
        "effect_meta",
        "effects",
        "epoch",
        "error",
        "governor",
        "outbox",
        "preemptive",
        "program",
        "ready",
        "regions",
        "root",
        "root_id",
        "scheduler",
        "signals",
        "status",
        "steps",
        "timers",
        "tokens",
        "waiters",
    )

    def __init__(
        self,
        program: Program,
        ctx: Mapping[str, Any] | None = None,
        *,
        case_id: str = "case",
        scheduler: Scheduler | None = None,
        trace_level: str = "full",
        clock: Callable[[], float] | None = None,
        on_event: Callable[[TraceEvent], None] | None = None,
        keep_events: bool = True,
        allow: frozenset[str] | None = None,
        budget: Budget | None = None,
        causal_root: str | None = None,
        workflow: Mapping[str, Any] | None = None,
        _restoring: bool = False,
    ) -> None:
        self.program = program
        self.code = link(program)
        self.case_id = case_id
        self.scheduler: Scheduler = scheduler if scheduler is not None else Deterministic()
        if causal_root is None and isinstance(self.scheduler, Replay):
            causal_root = self.scheduler.log.root
        # causal ids derive from the root: the case id, or the recorded case's in a replay
        self.root_id: str = causal_root if causal_root is not None else case_id
        self.effect_meta: dict[int, EffectMeta] | None = None
        self.defer_keys = False  # the host derives StartEffect.key (None in commands)
        self.governor: Governor | None = None
        if allow is not None or budget is not None:
            from wftrio.governance import Governor

            self.governor = Governor(allow, budget)
        self.preemptive = self.scheduler.preemptive
        self.clock = clock
        self.t0 = clock() if clock is not None else 0.0
        self.on_event = on_event
        self.keep_events = keep_events
        # TraceEvents, and FusedRuns (engine/_fused.py) until ``events`` is read
        self._events = []
        self._lazy = 0  # 1: _events holds a PendingReceipt, 2: also a FusedRun
        # the ctx digest the PendingReceipts recorded last wait for (record_compact)
        self._unhashed = None
        self._record = _record_nothing  # set_level binds it
        self.outbox: list[Command] = []
        self.set_level(trace_level)
        # identity counters (deterministic: replay gets the same ids)
        self._next_id = 1
        self.seq = 0
        self.steps = 0
        # bumped each time the reduction blocks: the host starts the effects
        # requested before it (EffectMeta.epoch; a cancelled receipt's attempts)
        self.epoch = 0
        self.status = Status.RUNNING
        self.error: BaseException | None = None
        # values are frozen once, here and at every merge: reads stay free and
        # no task can change the ctx behind the reducer's back (SEMANTICS.md)
        self.root = CtxLayer(0, frozen_copy(ctx) if ctx is not None else {})
        # live tokens, runnable tokens, and what blocked tokens wait on
        self.tokens: dict[int, Token] = {}
        # a stack (top at the end); a list until make_ready first finds it long
        # (an empty deque costs ~760 B, a list 56 B: most cases never need one)
        self.ready: list[Token] | deque[Token] = []
        self.current: Token | None = None
        # rarely used by a waiting case: the shared read-only EMPTY until the
        # first insertion swaps in a real dict (64 B each per case)
        self.signals: dict[str, deque[Any]] = EMPTY
        # signal name -> its waiting tokens: the token itself while it is the
        # only one (its alternative is read off its wait), else a dict token ->
        # alternative in arrival order; a name without waiters has no entry
        self.waiters: dict[str, Token | dict[Token, int]] = {}
        self.effects: dict[int, Token] = EMPTY
        self.timers: dict[int, tuple[Token, int]] = EMPTY
        self.regions: dict[str, dict[RegionInst, None]] = EMPTY
        if not _restoring:
            if self.tracing:
                sched = self.scheduler.name
                started: dict[str, Any]
                if (
                    workflow is None
                    and type(sched) is str
                    and type(self.root_id) is str
                    and type(self.preemptive) is bool
                ):
                    # atomic values: frozen as built (no freeze_items pass)
                    started = FrozenDict(
                        scheduler=sched, preemptive=self.preemptive, root=self.root_id
                    )
                else:
                    started = {
                        "scheduler": sched,
                        "preemptive": self.preemptive,
                        "root": self.root_id,
                    }
                    if workflow is not None:
                        started["workflow"] = dict(workflow)
                self.emit(EventKind.CASE_STARTED, None, None, started)
            self.current = self.spawn(program.entry, None, None, self.root)

    # -- public read-only views ---------------------------------------------

    @property
    def ctx(self) -> dict[str, Any]:
        """The case ctx (the live dict; do not mutate it)."""
        return self.root.data

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def blocked_on(self) -> dict[str, list[Any]]:
        """What the live tokens wait for: effect ids, signal names, timer ids."""
        return {
            "effects": sorted(self.effects),
            "signals": sorted(self.waiters),
            "timers": sorted(self.timers),
        }

    def live_regions(self) -> list[str]:
        """Scope ids of the user regions with a live activation."""
        return sorted(sid for sid, insts in self.regions.items() if insts)

    def pending_signals(self) -> dict[str, int]:
        """Signals received but not yet consumed, by name."""
        return {n: len(q) for n, q in self.signals.items() if q}

    def budget_usage(self) -> BudgetUsage:
        """What the case used of its effect budget (effects, time, cost) and the limits."""
        g = self.governor
        if g is None:
            return _NO_USAGE  # frozen: one instance serves every case
        return g.usage()

    def effect_attempts(self, eid: int) -> int:
        """Attempts of pending effect ``eid`` reported failed and retried so far."""
        meta = self.effect_meta.get(eid) if self.effect_meta else None
        return meta.attempts if meta is not None else 0

    def take_outbox(self) -> list[Command]:
        """Return and clear the queued commands."""
        out, self.outbox = self.outbox, []
        return out

    # -- tokens --------------------------------------------------------------

    def new_id(self) -> int:
        """Issue the next object id (tokens, frames, regions, scopes, effects, timers).

        Ids are issued in order from 1, so a replay issues the same ones.
        """
        i = self._next_id
        self._next_id = i + 1
        return i

    def issued(self, i: int) -> bool:
        """Whether id ``i`` was issued by :meth:`new_id` (in this state's history)."""
        return 0 < i < self._next_id

    def spawn(
        self, pc: int, frame: Frame | None, region: RegionInst | None, scope: CtxLayer
    ) -> Token:
        """Create a live token (not yet ready: the caller places it)."""
        tok = Token(self.new_id(), pc, frame, region, scope)
        self.tokens[tok.id] = tok
        if region is not None:
            region.tokens[tok] = None
        return tok

    def kill(self, tok: Token) -> None:
        """A token reached its end (join arrival, END, absorbed)."""
        tok.alive = False
        del self.tokens[tok.id]
        r = tok.region
        if r is not None:
            del r.tokens[tok]
            if r.exited and not r.tokens and not r.children:
                self.close_region(r)
        if self.current is tok:
            self.current = None

    def make_ready(self, tok: Token) -> None:
        """Make a woken token runnable.

        It goes to the bottom of the ready stack: tokens woken by inputs run
        in the order the inputs arrived, after the work already in hand.
        """
        tok.wait = None
        ready = self.ready
        if type(ready) is list and len(ready) >= _DEQUE_AT:
            # list.insert(0, ...) moves every entry: O(ready) per wake-up, quadratic
            # when a burst of inputs wakes many tokens before the next run
            self.ready = ready = deque(ready)
        ready.insert(0, tok)  # on a deque: appendleft, O(1)

    def block(self, tok: Token, wait: Wait) -> None:
        """Block ``tok`` on ``wait`` (its registrations are already made)."""
        tok.wait = wait
        if self.current is tok:
            self.current = None

    def choose(self, n: int, what: str, tok: Token | None, path: str | None = None) -> int:
        """Ask the scheduler to pick among ``n >= 2`` options, recording the pick."""
        i = self.scheduler.pick(n, what)
        if self.tracing:
            self.emit(
                EventKind.CHOICE, path, tok, {"by": "scheduler", "what": what, "n": n, "picked": i}
            )
        return i

    # -- the reducer ---------------------------------------------------------

    run = _run_loop.run  # the reducer loop (engine/_run_loop.py)

    def finish(self) -> None:
        """No live token is left: the case is DONE (implicit termination)."""
        self.status = Status.DONE
        self.emit(EventKind.CASE_COMPLETED, None, None, FrozenDict(steps=self.steps))

    # -- failure and cancellation -------------------------------------------

    def fail(
        self,
        tok: Token | None,
        exc: BaseException,
        task: str | None = None,
        *,
        where: str | None = None,
    ) -> None:
        """End the case FAILED with ``exc``.

        A task failure (``task`` given) records ``task_failed`` first; a
        failure of the workflow itself (``where`` = node path) only
        ``case_failed``.
        """
        if self.status in FINAL:
            return
        info = error_info(exc)
        if task is not None:
            self.emit(EventKind.TASK_FAILED, task, tok, dict(info))
        self.error = exc
        self.withdraw_all()
        self.status = Status.FAILED
        self.emit(EventKind.CASE_FAILED, task if task is not None else where, tok, info)

    def cancel(self, reason: str = "cancel") -> bool:
        """Cancel the whole case: withdraw every token; the case ends CANCELLED.

        ``reason`` (``"cancel"``, ``"timeout"``, ``"shutdown"``, ...) is
        recorded in the ``case_cancelled`` event, so a replay ends with the
        same reason.  Returns False (and records nothing) when the case
        already finished.
        """
        if self.status in FINAL:
            return False
        self.withdraw_all()
        self.status = Status.CANCELLED
        self.emit(EventKind.CASE_CANCELLED, None, None, {"at_step": self.steps, "reason": reason})
        return True

    def cancel_region(self, scope_id: str) -> int:
        """Cancel every live activation of region ``scope_id``; their number.

        Each activation's tokens (and nested regions, pending effects,
        signal waits and timers) are withdrawn in time proportional to its
        size; then its ``compensate`` term runs, and control continues after
        the region as if it had completed (0 records ``region_cancel_ignored``).
        """
        return _withdraw.cancel_region(self, scope_id)

    def withdraw_region(self, inst: RegionInst) -> None:
        """Withdraw a region activation and everything nested in it."""
        _withdraw.withdraw_region(self, inst)

    def close_region(self, r: RegionInst) -> None:
        """Close exited activation ``r`` whose last late token died (cascading up)."""
        _withdraw.close_region(self, r)

    def withdraw_all(self) -> None:
        """Withdraw every live token and region activation (the case is ending).

        Pending effects and timers are cancelled and signal waits dropped;
        the ready stack empties.  The caller sets the final status.
        """
        _withdraw.withdraw_all(self)

    # -- signal waiters -------------------------------------------------------

    def add_waiter(self, name: str, tok: Token, alt: int) -> None:
        """Register ``tok`` (its alternative ``alt``) as the newest waiter for ``name``.

        A lone waiter is stored as the token itself: a dict for one entry
        cost ~220 B more per waiting case (measured).  Several are an
        ``OrderedDict`` token -> alternative in arrival order: waking the
        oldest of a plain dict (``next(iter(d))`` after deleting from its
        front) scans every deleted slot before it, ~18 us per signal with
        32,000 waiters; an ``OrderedDict`` finds it through its linked list.
        """
        ws = self.waiters.get(name)
        if ws is None:
            self.waiters[name] = tok
        elif isinstance(ws, dict):
            # a token waits once per name, with the first alternative naming it
            ws.setdefault(tok, alt)
        elif ws is not tok:
            # ordered by a linked list: taking the oldest waiter stays O(1) however
            # many were taken before (a dict scans past its deleted slots)
            self.waiters[name] = OrderedDict(((ws, signal_alt(ws, name)), (tok, alt)))

    def drop_waiter(self, name: str, tok: Token) -> None:
        """Unregister ``tok`` as a waiter for signal ``name``."""
        ws = self.waiters.get(name)
        if ws is tok:
            del self.waiters[name]
        elif isinstance(ws, dict):
            ws.pop(tok, None)
            if not ws:
                del self.waiters[name]

    def signal_waiters(self, name: str) -> list[tuple[Token, int]]:
        """The tokens waiting for signal ``name`` with their alternatives, oldest first."""
        ws = self.waiters.get(name)
        if ws is None:
            return []
        if isinstance(ws, dict):
            return list(ws.items())
        return [(ws, signal_alt(ws, name))]

    # -- external inputs -----------------------------------------------------

    def feed_signal(self, name: str, payload: Any = None, *, transient: bool = False) -> bool:
        """Deliver signal ``name``.

        Persistent signals (the default) wake the oldest waiter, or queue in
        arrival order until one waits.  A ``transient`` signal nobody waits
        for is dropped (and the trace says so).  Returns True when the signal
        was consumed or queued, False when it was dropped or the case has
        finished.
        """
        if self.status in FINAL:
            return False
        payload = freeze(payload)  # it may be stored in the ctx, and it is recorded
        ws = self.waiters.get(name)
        if ws is None and transient:
            self.emit(
                EventKind.SIGNAL_DROPPED, name, None, {"payload": payload, "at_step": self.steps}
            )
            return False
        self.emit(
            EventKind.SIGNAL_RECEIVED,
            name,
            None,
            {"payload": payload, "transient": transient, "at_step": self.steps},
        )
        if ws is not None:
            if isinstance(ws, dict):
                if type(ws) is dict:
                    # a plain dict (a restored or copied state): once O(n), then O(1)
                    ws = self.waiters[name] = OrderedDict(ws)
                tok = next(iter(ws))
            else:
                tok = ws
            self.deliver_signal(tok, name, payload)
        else:
            if self.signals is EMPTY:
                self.signals = {}
            self.signals.setdefault(name, deque()).append(payload)
        return True

    def deliver_signal(self, tok: Token, name: str, payload: Any) -> None:
        """Hand a signal to a token blocked on it (wait_signal or defer)."""
        wait = tok.wait
        assert wait is not None
        instr = self.program.instrs[tok.pc]
        ops = instr.ops
        if wait.kind == WaitKind.SIGNAL:
            assert isinstance(ops, WaitSignalOps)
            _withdraw.unwait(self, tok, wait, None)
            if ops.store_as is not None:
                scope = tok.scope
                scope.snap = None
                scope.data[ops.store_as] = payload
            tok.pc = instr.next
        else:
            assert wait.kind == WaitKind.DEFER
            assert isinstance(ops, DeferOps)
            alt = next(a.alt for a in wait.arms if a.kind == WaitKind.SIGNAL and a.key == name)
            # keep=None: the winner's own waiter entry must go too (it has no timer)
            _withdraw.unwait(self, tok, wait, None)
            tok.pc = ops.entries[alt]
            if self.tracing:
                self.emit(EventKind.CHOICE, instr.path, tok, {"by": "signal", "picked": alt})
        self.emit(EventKind.SIGNAL_CONSUMED, name, tok, {"payload": payload})
        self.make_ready(tok)
        self.status = Status.RUNNING

    def take_signal(self, name: str) -> tuple[bool, Any]:
        """Consume the oldest queued signal ``name``, if any."""
        q = self.signals.get(name)
        if q:
            return True, q.popleft()
        return False, None

    def feed_effect(
        self,
        eid: int,
        result: Mapping[str, Any] | None = None,
        error: BaseException | None = None,
        *,
        attempts: int = 1,
        started: float | None = None,
        ended: float | None = None,
        outcome: str | None = None,
    ) -> bool:
        """Deliver the outcome of effect ``eid``.

        ``result`` (a Mapping of ctx updates, or None) is merged atomically;
        ``error`` fails the task: its ``on_error`` term runs if it has one,
        otherwise the case fails.  A result for an effect that was withdrawn
        (region or case cancelled) is ignored: returns False.

        ``attempts`` (how many were made), ``started`` and ``ended`` (case
        times of the first attempt's start and of the outcome; default: the
        request time and now) and ``outcome`` (``"error"`` or
        ``"timed_out"`` for an error; default from the error's type) go
        into the recorded input and the effect's receipt.
        """
        return _effect_outcome.complete(self, eid, result, error, attempts, started, ended, outcome)

    feed_effect_outcome = _effect_outcome.complete
    """``feed_effect(eid, result, error, attempts, started, ended, outcome)``, positionally.

    For a host feeding many outcomes (the runtime's ``EffectOutcome``
    messages have these fields in this order): one call fewer per outcome.
    """

    def feed_effect_retry(
        self, eid: int, attempt: int, error: BaseException, delay: float = 0.0
    ) -> bool:
        """The runtime retries effect ``eid``: attempt ``attempt`` failed with ``error``.

        Recorded as the input ``effect_retry`` (the receipt of an effect
        cancelled later counts its attempts from these).  Returns False if
        the effect was withdrawn or the case has finished.
        """
        return _effects.retried(self, eid, attempt, error, delay)

    def fire_timer(self, tid: int) -> bool:
        """Timer ``tid`` expired.  Returns False if it was withdrawn meanwhile."""
        if self.status in FINAL:
            return False
        entry = self.timers.pop(tid, None)
        if entry is None:
            return False
        tok, alt = entry
        instr = self.program.instrs[tok.pc]
        ops = instr.ops
        assert tok.wait is not None
        assert isinstance(ops, DeferOps)
        self.emit(EventKind.TIMER_FIRED, instr.path, tok, {"tid": tid, "at_step": self.steps})
        _withdraw.unwait(self, tok, tok.wait, alt)
        tok.pc = ops.entries[alt]
        if self.tracing:
            self.emit(EventKind.CHOICE, instr.path, tok, {"by": "timer", "picked": alt})
        self.make_ready(tok)
        self.status = Status.RUNNING
        return True

    def __repr__(self) -> str:
        return (
            f"<ExecState {self.case_id!r} {self.status} steps={self.steps} "
            f"tokens={len(self.tokens)}>"
        )

    # -- snapshots -------------------------------------------------------------

    @property
    def next_id(self) -> int:
        """The next id the state hands out (tokens, frames, regions, effects, timers)."""
        return self._next_id

    def snapshot(self) -> StateSnapshot:
        """Take a JSON-able snapshot of this state (between steps; drain the outbox first).

        The same as :func:`wftrio.engine.snapshot`, which says what a
        snapshot holds.

        Raises:
            SerializationError: a ctx value is not a JSON value (names the key).
        """
        from wftrio.engine._snapshot import snapshot

        return snapshot(self)

    @classmethod
    def restore(
        cls,
        program: Program,
        snap: StateSnapshot,
        *,
        case_id: str | None = None,
        scheduler: Scheduler | None = None,
        trace_level: str | None = None,
        clock: Callable[[], float] | None = None,
        on_event: Callable[[TraceEvent], None] | None = None,
        keep_events: bool = True,
        allow: frozenset[str] | None = None,
        budget: Budget | None = None,
    ) -> ExecState:
        """Rebuild the state ``snap`` was taken of; it continues exactly as that one would.

        The same as :func:`wftrio.engine.restore` (see there for the arguments).

        Raises:
            ProgramMismatch: ``program`` is not the one the snapshot was taken from.
            SerializationError: the snapshot is inconsistent (names the field).
        """
        from wftrio.engine._snapshot import restore

        return restore(
            program,
            snap,
            case_id=case_id,
            scheduler=scheduler,
            trace_level=trace_level,
            clock=clock,
            on_event=on_event,
            keep_events=keep_events,
            allow=allow,
            budget=budget,
        )

    @classmethod
    def from_parts(
        cls,
        program: Program,
        *,
        case_id: str,
        scheduler: Scheduler,
        trace_level: str,
        clock: Callable[[], float] | None,
        on_event: Callable[[TraceEvent], None] | None,
        keep_events: bool,
        causal_root: str,
        root: CtxLayer,
        next_id: int,
        seq: int,
        steps: int,
        status: Status,
        error: BaseException | None,
        t0: float,
        epoch: int = 0,
        tokens: dict[int, Token],
        ready: list[Token] | deque[Token],
        current: Token | None,
        regions: dict[str, dict[RegionInst, None]],
        signals: dict[str, deque[Any]],
        waiters: dict[str, Token | dict[Token, int]],
        effects: dict[int, Token],
        timers: dict[int, tuple[Token, int]],
        effect_meta: dict[int, EffectMeta] | None,
        governor: Governor | None,
    ) -> ExecState:
        """Assemble a state from an object graph built elsewhere (the one way to rebuild one).

        :func:`wftrio.engine.restore` builds the graph from a snapshot and
        checks it, then calls this; nothing else sets a state's fields from
        outside.  The arguments are the state's fields (see
        :data:`wftrio.engine.schema.SCHEMA`); empty tables may be given as
        empty dicts, which are replaced by the shared ``EMPTY``.  Records no
        event and queues no command.
        """
        st = cls(
            program,
            None,
            case_id=case_id,
            scheduler=scheduler,
            trace_level=trace_level,
            clock=clock,
            on_event=on_event,
            keep_events=keep_events,
            causal_root=causal_root,
            _restoring=True,
        )
        st.root = root
        st._next_id = next_id
        st.seq = seq
        st.steps = steps
        st.epoch = epoch
        st.status = status
        st.error = error
        st.t0 = t0
        st.tokens = tokens
        st.ready = ready
        st.current = current
        st.regions = regions if regions else EMPTY
        st.signals = signals if signals else EMPTY
        st.waiters = waiters
        st.effects = effects if effects else EMPTY
        st.timers = timers if timers else EMPTY
        st.effect_meta = effect_meta if effect_meta else None
        st.governor = governor
        return st
