"""The substrate: supervision tree, public API, and the sync one-shot ``run``.

::

    open_substrate()            one root nursery
    ├── trace-sink task         fans in events from every case
    └── case nursery            one runner task per case (crash-contained)
        └── case runner         see _runner; its children see _children

Shutdown: leaving the ``async with`` block cancels every case still live
(they end CANCELLED with reason ``"shutdown"``, their effects' cleanup runs)
unless the substrate was opened with ``shutdown="drain"``, in which case a
block left normally first waits for them.  ``await sub.drain()`` waits for
every live case inside the block.  When the block exits, no task of the
substrate is left.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Literal

import trio
import trio.testing

from wftrio.effects import run_root
from wftrio.engine import materialise
from wftrio.engine.program import Program
from wftrio.errors import (
    CaseClosed,
    CaseStillRunning,
    DuplicateCase,
    OptionError,
    SubstrateClosed,
    UnknownCase,
    UnknownRegion,
)
from wftrio.receipts import Receipt, receipts
from wftrio.registry import RegisteredWorkflow, Registry, default_registry
from wftrio.runtime._case_end import CaseEnd
from wftrio.runtime._case_view import check_signal, info, outcome
from wftrio.runtime._children import Counters
from wftrio.runtime._durable import CaseLog, Resumed, check_json, resume_cases, serve_inbox
from wftrio.runtime._ids import new_ids
from wftrio.runtime._inbox import NO_INBOX, Inbox
from wftrio.runtime._live import LiveCount
from wftrio.runtime._messages import CancelCase, CancelRegion, Message, Signal
from wftrio.runtime._new_case import start_case
from wftrio.runtime._pgserve import serve_postgres
from wftrio.runtime._runner import Case, run_clock
from wftrio.runtime._sinks import SinkHub, TraceSink, as_sink, check_sinks
from wftrio.runtime._stats import substrate_stats
from wftrio.runtime._substrate_args import (
    CASE_FIELDS,
    case_defaults,
    case_state,
    check_ctx,
    check_substrate_args,
    choose_store,
    first_leaf,
    seconds,
)
from wftrio.runtime._types import (
    FINAL_STATES,
    CaseInfo,
    CaseOptions,
    CaseResult,
    CaseState,
    SubstrateStats,
    parse_case_options,
)
from wftrio.stores import DurableStore, MemoryStore, SQLiteStore, Store, StoredCase
from wftrio.stores._postgres import PostgresStore
from wftrio.terms import Term
from wftrio.trace import LEVELS, TraceEvent

__all__ = ["Substrate", "open_substrate"]


class Substrate:
    """A supervision tree of cases; use as ``async with open_substrate() as sub``.

    Args:
        step_quanta: default reduction steps per burst (between checkpoints).
        trace_level: default trace level of new cases (``"full"``).
        scheduler: default scheduler of new cases (``"deterministic"``).
        timeout: default case timeout in seconds (``None``: no timeout).
        retain_finished: how many finished cases stay known (oldest dropped
            first); ``None`` keeps them all until ``forget``.
        sinks: trace sinks receiving every case's events, in a list or None (objects with
            ``write(events)``, or callables called per event).
        sink_buffer: capacity, in batches, of the channel to the sink task.
        inbox_capacity: messages a case's inbox holds before ``signal``
            waits (backpressure).
        shutdown: ``"cancel"`` (default) cancels live cases when the block
            exits; ``"drain"`` waits for them when the block exits normally.
        effect_handler: default handler of ``Effect`` specs: an object with an
            async ``handle(effect, ctx)`` method or a mapping of effect kind ->
            async callable ``(effect, ctx)`` (docs/EFFECTS.md).
        budget: default ``wf.Budget`` of new cases (``None``: unbounded).
        allow: default allowlist of effect kinds of new cases (``None``: any).
        validate: validate the workflow of every new case (default True; see
            ``new_case``).
        keep_events: default number of its latest trace events a case keeps
            in memory (``None``: all); sinks receive every event.
        max_pending_signals: default bound on the persistent signals a case
            holds unconsumed (``None``: no bound); see ``signal``.
        validate_budget: seconds that validation may explore (default 0.05;
            ``None``: no limit); past it a WF200 warning, and the case starts.
        registry: the :class:`~wftrio.registry.Registry` ``new_case`` finds
            workflows given by name in (default: the one ``wf.workflow`` and
            ``wf.register`` fill).
        store: where cases are kept: ``wf.MemoryStore()`` (the default
            without ``path``) or a durable ``wf.SQLiteStore(path)``, whose
            unfinished cases are resumed when the substrate opens
            (docs/DURABILITY.md).
        path: shortcut for ``store=wf.SQLiteStore(path)``.

    Raises:
        OptionError: an invalid option.
    """

    def __init__(
        self,
        *,
        step_quanta: int = 1000,
        trace_level: str = "full",
        scheduler: object = "deterministic",
        timeout: float | None = None,
        retain_finished: int | None = 10_000,
        sinks: Iterable[object] | None = (),
        sink_buffer: int = 1024,
        inbox_capacity: int = 64,
        shutdown: Literal["cancel", "drain"] = "cancel",
        effect_handler: Any = None,
        budget: Any = None,
        allow: Any = None,
        validate: bool = True,
        keep_events: int | None = 1000,
        max_pending_signals: int | None = 1000,
        validate_budget: float | None = 0.05,
        registry: Registry | None = None,
        store: Store | None = None,
        path: str | os.PathLike[str] | None = None,
        **unknown: Any,
    ) -> None:
        # anything left is an unknown option: raise for it
        if unknown:
            parse_case_options(CaseOptions(), unknown, "open_substrate()")
        given = (
            scheduler,
            step_quanta,
            timeout,
            trace_level,
            effect_handler,
            budget,
            allow,
            validate,
            keep_events,
            max_pending_signals,
            validate_budget,
        )
        self.defaults = case_defaults(given, _DEFAULT_ARGS)
        check_substrate_args(retain_finished, shutdown, inbox_capacity, sink_buffer, registry)
        self.registry = registry if registry is not None else default_registry
        store = choose_store(store, path)
        self.store: Store = store
        self._durable: DurableStore | None = None if isinstance(store, MemoryStore) else store
        # many workers over one database: requests for cases other workers run
        self._remote = store if isinstance(store, PostgresStore) else None
        self.durable_store = self._durable  # what resume reads (None on a MemoryStore)
        # stored cases that could not resume, by id, with the typed reason
        self.unresumed: dict[str, Exception] = {}
        self.retain_finished = retain_finished
        self.inbox_capacity = inbox_capacity
        self.shutdown = shutdown
        self.hub = SinkHub(check_sinks(sinks), sink_buffer)
        self.counters = Counters()
        self.closing = False
        self.parked_context: Any = None  # shared by parked cases holding the same vars (Parking)
        self._opened = False
        self._stack: AsyncExitStack | None = None
        self._nursery: trio.Nursery | None = None
        self._cases: dict[str, Case] = {}
        self._finished: dict[str, None] = {}  # finished case ids, oldest first
        self._live = LiveCount()
        self._started = 0
        self._ended = {CaseState.DONE: 0, CaseState.FAILED: 0, CaseState.CANCELLED: 0}
        self._wall0 = 0.0
        # the run's clock (``trio.current_time`` in one call), bound when opened
        self.now: Callable[[], float] = trio.current_time
        # the last bare term started, its Program and the validation budget it
        # passed at (verdicts are per Program and budget): no lookups to start it again
        self._last: tuple[Term, Program, tuple[float | None] | None] | None = None
        # that term and Program when it can start on new_case's fast path:
        # validated (or validate=False) with the defaults, no store, no replay
        self._fast: tuple[Term, Program] | None = None

    # -- the supervision tree ------------------------------------------------

    async def __aenter__(self) -> Substrate:
        if self._opened:
            raise SubstrateClosed("a substrate can be entered only once; open a new one")
        self._opened = True
        self.now = run_clock()
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            root = await stack.enter_async_context(trio.open_nursery())
            self.hub.attach(root)
            stack.push_async_callback(self.hub.aclose)
            found = await self.store.open(root)
            stack.push_async_callback(self.store.aclose)  # after the cases have ended
            self._nursery = await stack.enter_async_context(trio.open_nursery())
            if found:
                await resume_cases(self, found)
            if isinstance(self.store, SQLiteStore):  # requests from other processes
                serve_inbox(self, self.store)
            elif self._remote is not None:  # claim cases, take requests (docs/SCALING.md)
                await serve_postgres(self, self._remote)
        except BaseException as exc:
            self.closing = True  # the cases resumed so far are not ended: write nothing
            try:
                suppressed = await stack.__aexit__(type(exc), exc, exc.__traceback__)
            except BaseExceptionGroup as group:
                # e.g. StoreLocked from opening the store: raised as it is
                if group.exceptions == (exc,):
                    raise exc from None
                raise
            if not suppressed:
                raise
        self._stack = stack
        self._wall0 = time.perf_counter()
        return self

    async def __aexit__(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._stack
        assert stack is not None
        assert self._nursery is not None
        try:
            if etype is None and self.shutdown == "drain":
                await self.drain()
        finally:
            self.closing = True
            self._nursery.cancel_scope.cancel()
            for case in list(self._cases.values()):
                case.stop_parked()  # a case waiting without a task (see Case.run)
            # the body's own exception (if any) propagates as it is, not
            # wrapped in the nurseries' exception groups
            try:
                await stack.__aexit__(None, None, None)
            except BaseExceptionGroup as group:
                # KeyboardInterrupt / SystemExit from user code in a case:
                # every case is cancelled by now; re-raise the original,
                # unwrapped, as trio.run does
                stop = first_leaf(group, (KeyboardInterrupt, SystemExit))
                if stop is None:
                    raise
                raise stop from None

    def _open_one_shot(self, nursery: trio.Nursery) -> None:
        """Open this substrate in ``nursery`` alone: ``wf.run``'s lighter supervision tree.

        For a substrate on a ``MemoryStore`` with no sink that nobody but its
        opener can reach (``wf.run``: one case, no ``sub.trace``), the tree of
        :meth:`__aenter__` reduces to the case nursery: a ``MemoryStore`` has
        nothing to open, resume or close, and no sink task can ever be
        needed (none is attached: a sink added anyway would never be fed).
        The opener calls :meth:`_close_one_shot` before leaving ``nursery``,
        and keeps its own exceptions out of it (see ``wf.run``).
        """
        if self._opened:
            raise SubstrateClosed("a substrate can be entered only once; open a new one")
        assert isinstance(self.store, MemoryStore)
        assert not self.hub.sinks
        self._opened = True
        self.now = run_clock()
        self._nursery = nursery
        self._wall0 = time.perf_counter()

    def _close_one_shot(self) -> None:
        """Close a substrate opened by :meth:`_open_one_shot`: cancel the live cases, as
        :meth:`__aexit__` does (they end when the nursery is left)."""
        assert self._nursery is not None
        self.closing = True
        self._nursery.cancel_scope.cancel()
        for case in list(self._cases.values()):
            case.stop_parked()

    async def drain(self) -> None:
        """Wait until no case is live (new cases may start meanwhile)."""
        await self._live.wait_zero()

    def _check_open(self) -> trio.Nursery:
        if self._nursery is None or self.closing:
            raise SubstrateClosed(
                "the substrate is not open: use `async with wf.open_substrate() as sub`"
                if self._nursery is None
                else "the substrate is shutting down"
            )
        return self._nursery

    def _get(self, case_id: str) -> Case:
        try:
            return self._cases[case_id]
        except (KeyError, TypeError):
            raise UnknownCase(f"no case {case_id!r} on this substrate") from None

    def _elsewhere(self, case_id: str) -> PostgresStore | None:
        """The shared store, if the case is not live here (another worker may run it)."""
        case = self._cases.get(case_id) if self._remote is not None else None
        return self._remote if case is None or case.state in FINAL_STATES else None

    def _live_case(self, case_id: str, what: str) -> Case:
        case = self._get(case_id)
        # (NO_INBOX: a case in its first burst, if its own task functions call here)
        if case.state in FINAL_STATES or (case.inbox.closed and case.inbox is not NO_INBOX):
            raise CaseClosed(f"{what}: case {case_id!r} has finished ({case.state.value})")
        return case

    def case_finished(self, case: CaseEnd) -> None:
        """Book a case that has just concluded (called by its runner, once).

        Counts it, and keeps it known while ``retain_finished`` allows
        (dropping the oldest finished cases beyond it).  Not for users.
        """
        live = self._live
        live.value -= 1
        if live.idle is not None and live.value == 0:  # LiveCount.dec, inlined
            live.at_zero()
        self._ended[case.state] += 1
        case_id = case.case_id
        cases = self._cases
        if cases.get(case_id) is not case:
            return
        keep = self.retain_finished
        finished = self._finished
        finished[case_id] = None
        if keep is not None and len(finished) > keep:
            while len(finished) > keep:
                oldest = next(iter(finished))
                del finished[oldest]
                del cases[oldest]

    # -- the API -------------------------------------------------------------

    async def new_case(
        self,
        term: Term | str,
        ctx: Mapping[str, Any] | None = None,
        case_id: str | None = None,
        *,
        version: int | None = None,
        **options: Any,
    ) -> str:
        """Start a case running ``term``; return its id once it is initialised.

        The case's reducer state is built synchronously here, and its
        first burst (up to ``step_quanta`` steps) is taken here too: a case
        of pure tasks that ends in it is final when this returns, with no
        runner task.  Otherwise the runner task is started in the case
        nursery and carries on after this returns (the case is then
        ``RUNNING`` or waiting).  A case with ``timeout=``, a replay or a
        trace sink takes its first burst in its runner.  A checkpoint; if
        cancelled, no case was started.

        Args:
            term: the workflow (compiled once, cached per term), or the name
                of a workflow in the substrate's registry (the case's
                ``status`` and ``case_started`` event then name it).
            ctx: the initial case ctx (copied).
            case_id: the id to give it; a unique id is generated when omitted.
            version: with a name, the version to run (default: the newest).
            **options: ``scheduler=``, ``step_quanta=``, ``timeout=``,
                ``trace_level=``, ``effect_handler=``, ``budget=``, ``allow=``,
                ``validate=``, ``keep_events=``, ``max_pending_signals=``
                (defaults from the substrate).  With
                ``validate=True`` (the default) the workflow is checked by
                ``wf.validate`` first, once per compiled Program (cached).

        Raises:
            DuplicateCase: ``case_id`` is already known to this substrate.
            TermError: ``term`` is malformed.
            UnknownWorkflow: no workflow of that name (or version) is registered
                in the substrate's registry.
            InvalidWorkflow: ``validate=True`` and the workflow has an
                error-severity issue (``.issues`` lists them all).
            OptionError / SchedulerError: bad options.
            SubstrateClosed: the substrate is not open.
        """
        fast = self._fast
        if (
            fast is None
            or fast[0] is not term
            or options
            or case_id is not None
            or version is not None
        ):
            return await start_case(self, term, ctx, case_id, version, options)
        # the bare term started last, with the substrate's defaults: compiled,
        # validated, no store row to write, no replay (see _fast)
        self._check_open()
        await trio.lowlevel.checkpoint_if_cancelled()
        if ctx is not None:
            check_ctx(ctx)
        case_id, token = new_ids()
        while case_id in self._cases:  # pragma: no cover - 2**-122
            case_id, token = new_ids()
        self._launch(Case(self, case_id, fast[1], ctx, self.defaults, run_root(case_id, token)))
        await trio.lowlevel.cancel_shielded_checkpoint()
        return case_id

    def _launch(self, case: Case) -> None:
        nursery = self._check_open()
        self._cases[case.case_id] = case
        self._live.value += 1  # LiveCount.inc, inlined (a call per case)
        self._started += 1
        case.start(nursery)

    async def resume_case(
        self,
        entry: RegisteredWorkflow,
        stored: StoredCase,
        opts: CaseOptions,
        requests: list[Message],
        resumed: Resumed,
    ) -> Case:
        """Start a stored case again (from ``resumed``: its snapshot and inputs); not for users.

        ``requests`` (committed, not consumed) reach its inbox once it has
        emitted its stored events again.

        Raises:
            DuplicateCase: the substrate already has a case of that id.
        """
        assert self._durable is not None
        if stored.case_id in self._cases:
            raise DuplicateCase(f"case {stored.case_id!r} already exists on this substrate")
        case = Case(self, stored.case_id, entry.program, stored.ctx, opts, stored.root, entry)
        case.resumed = resumed
        case.durable = CaseLog.resumed(self._durable, stored, requests, self.unresumed)
        case.inbox = Inbox(self.inbox_capacity)
        if not stored.events:
            case.deliver_requests()
        self._launch(case)
        await trio.lowlevel.checkpoint()
        return case

    async def signal(
        self, case_id: str, name: str, payload: Any = None, *, transient: bool = False
    ) -> None:
        """Send signal ``name`` (with ``payload``) to a case.

        Persistent by default: kept, in order per name, until a
        ``wait_signal`` or ``on_signal`` consumes it.  ``transient=True``
        drops it if no token waits for it when the case takes it (the trace
        records ``signal_dropped``).  Returns once the case's inbox accepted
        it; waits while the inbox is full.  Always a checkpoint.  On a
        durable store the signal is committed first, with a request id that
        the burst consuming it marks consumed: once this returns, a process
        resuming the case delivers it exactly once.

        A persistent signal must be one the workflow can consume (a
        ``wait_signal`` or ``on_signal`` name in it), and is refused while
        the case already holds ``max_pending_signals=`` signals unconsumed
        and no token waits for ``name``.

        Raises:
            UnknownCase: no such case.
            CaseClosed: the case has finished.
            UnknownSignal: a persistent signal no step of the workflow waits for.
            SignalQueueFull: the case holds ``max_pending_signals`` unconsumed
                signals already.
            OptionError: ``name`` is not a non-empty str.
        """
        if not isinstance(name, str):
            raise OptionError(f"signal(): name must be a str, got {type(name).__name__}")
        if name == "":
            raise OptionError("signal(): name must be a non-empty str (no wait_signal has '')")
        if (remote := self._elsewhere(case_id)) is not None:  # another worker's case
            self._check_open()
            await remote.post(case_id, "signal", name, payload, transient)
            return
        case = self._live_case(case_id, "signal")
        if not transient:
            check_signal(case, name)
        req = None
        if case.durable is not None:
            check_json(payload, "signal(): the payload")
            req = await case.durable.store.request(case_id, "signal", name, payload, transient)
        try:
            await case.inbox.send(Signal(name, payload, transient, req))
        except trio.ClosedResourceError:
            raise CaseClosed(f"signal: case {case_id!r} finished before taking it") from None
        self.counters.signals += 1

    async def cancel(self, case_id: str) -> None:
        """Ask a case to cancel: its tokens are withdrawn, its effects
        cancelled (their cleanup runs), and it ends CANCELLED.

        Returns once the request is queued (ahead of capacity: a cancel
        never waits behind signals), on a durable store once it is also
        committed; ``wait`` to see the case end.

        Raises:
            UnknownCase: no such case.
            CaseClosed: the case has finished.
        """
        if (remote := self._elsewhere(case_id)) is not None:  # another worker's case
            self._check_open()
            await remote.post(case_id, "cancel", None, None, False)
            return
        case = self._live_case(case_id, "cancel")
        if case.durable is None:
            case.inbox.put(CancelCase(trio.current_time()))
            await trio.lowlevel.checkpoint()
            return
        at = trio.current_time()
        req = await case.durable.store.request(case_id, "cancel", None, None, False)
        case.inbox.put(CancelCase(at, req))

    async def cancel_region(self, case_id: str, scope_id: str) -> None:
        """Cancel every live activation of region ``scope_id`` in a case.

        In-flight effects in it (and in nested regions) receive
        ``trio.Cancelled`` and run their cleanup; their results are never
        applied; the region's ``compensate`` runs and the case goes on after
        the region.  A region the workflow has but with no live activation
        is recorded as ``region_cancel_ignored`` (a no-op).

        Raises:
            UnknownCase: no such case.
            CaseClosed: the case has finished.
            UnknownRegion: the case's workflow has no region ``scope_id``
                (the message lists the ones it has).
            OptionError: ``scope_id`` is not a str.
        """
        if not isinstance(scope_id, str):
            raise OptionError(f"cancel_region(): scope_id must be a str, got {scope_id!r}")
        if (remote := self._elsewhere(case_id)) is not None:  # another worker's case
            self._check_open()
            await remote.post(case_id, "cancel_region", scope_id, None, False)
            return
        case = self._live_case(case_id, "cancel_region")
        known = case.region_ids()
        if scope_id not in known:
            raise UnknownRegion(
                f"cancel_region(): scope_id={scope_id!r}: case {case_id!r} has no such "
                f"region; its workflow has {', '.join(map(repr, sorted(known))) or 'no regions'}"
            )
        req = None
        if case.durable is not None:
            req = await case.durable.store.request(case_id, "cancel_region", scope_id, None, False)
        try:
            await case.inbox.send(CancelRegion(scope_id, req))
        except trio.ClosedResourceError:
            raise CaseClosed(f"cancel_region: case {case_id!r} has finished") from None

    # the API contract fixes wait(case_id, timeout=None)
    async def wait(self, case_id: str, timeout: float | None = None) -> CaseResult:  # noqa: ASYNC109
        """Wait for a case to finish and return its result.

        Raises:
            UnknownCase: no such case.
            CaseFailed: it ended FAILED (``.cause`` is the error).
            CaseCancelled: it ended CANCELLED.
            trio.TooSlowError: ``timeout`` seconds passed first.
            OptionError: ``timeout`` is not None or a finite number >= 0.
        """
        if timeout is not None and not seconds(timeout):
            raise OptionError(
                f"wait(): timeout={timeout!r}, expected None or a finite number of seconds >= 0"
            )
        try:
            case = self._cases[case_id]  # _get, inlined
        except (KeyError, TypeError):
            raise UnknownCase(f"no case {case_id!r} on this substrate") from None
        res = case.result
        if res is not None:  # Case.wait_final, inlined for a finished case
            await trio.lowlevel.checkpoint()
            if res.state is CaseState.DONE:
                return res  # outcome(case), inlined
        elif timeout is None:
            await case.wait_final()
        else:
            with trio.fail_after(timeout):
                await case.wait_final()
        return outcome(case)

    async def wait_state(self, case_id: str, *states: CaseState | str) -> CaseState:
        """Wait until a case is in one of ``states`` or has finished; return its state.

        ``states`` are :class:`CaseState` members or their values
        (``"waiting_signal"``).  A checkpoint, even if the case is already
        in one of them.

        Raises:
            UnknownCase: no such case.
            OptionError: a state that is not a :class:`CaseState` (the
                message lists the valid ones).
        """
        wanted = frozenset(case_state(s) for s in states) | FINAL_STATES
        case = self._get(case_id)
        if case.state in wanted:
            await trio.lowlevel.checkpoint()
            return case.state
        state: CaseState = await case.watcher().wait_value(lambda s: s in wanted)
        return state

    def status(self, case_id: str) -> CaseInfo:
        """A snapshot of a case: state, steps, effects, signals, regions, times.

        Raises:
            UnknownCase: no such case.
        """
        return info(self._get(case_id))

    def trace(self, case_id: str, level: str, sink: TraceSink | Any = None) -> None:
        """Reconfigure the tracing of a live case.

        Args:
            case_id: the case.
            level: ``"none"``, ``"min"`` or ``"full"`` from its next step on.
            sink: a sink (or callable) receiving this case's events from now
                on besides the substrate's sinks; ``None`` leaves the case's
                sink as it is, ``False`` detaches it.

        Raises:
            UnknownCase: no such case.
            CaseClosed: the case has finished.
            OptionError: bad level, or another level for a durable case.
        """
        if level not in LEVELS:
            raise OptionError(f"trace(): level={level!r}, expected 'none', 'min' or 'full'")
        case = self._live_case(case_id, "trace")
        if sink is False:
            case.set_trace(level, None, True)
        else:
            case.set_trace(level, as_sink(sink) if sink is not None else None, False)

    def events(self, case_id: str) -> list[TraceEvent]:
        """The trace events recorded so far for a case (a new list).

        Raises:
            UnknownCase: no such case.
        """
        case = self._get(case_id)
        if case.events is not None:
            materialise(case.events)  # receipts' deferred request hashes (Case._commit)
        out = list(case.events) if case.events is not None else []
        if case.st is not None and case.st.events:
            out.extend(case.st.events)
        return out

    def receipts(self, case_id: str, *, steps: bool = True) -> list[Receipt]:
        """The receipts of a case so far, in trace order.

        One per effect (every outcome, refusals and cancellations included)
        and per audited step, from its ``receipt`` trace events; with
        ``steps=True`` also one per committed pure step (trace level
        ``"full"``).  A case traced at level ``"none"`` has none.  See
        :func:`wftrio.receipts.receipts`.

        Raises:
            UnknownCase: no such case.
        """
        return receipts(self.events(case_id), steps=steps)

    def forget(self, case_id: str) -> None:
        """Drop a finished case (its id may be reused afterwards).

        Raises:
            UnknownCase: no such case.
            CaseStillRunning: the case has not finished.
        """
        cases = self._cases
        try:
            case = cases[case_id]  # _get, inlined
        except (KeyError, TypeError):
            raise UnknownCase(f"no case {case_id!r} on this substrate") from None
        if case.result is None:
            raise CaseStillRunning(f"forget: case {case_id!r} is {case.state.value}")
        del cases[case_id]
        finished = self._finished
        if case_id in finished:
            del finished[case_id]

    def case_ids(self, *states: CaseState) -> list[str]:
        """Ids of the known cases (those in ``states``, if given), oldest first."""
        if not states:
            return list(self._cases)
        return [cid for cid, c in self._cases.items() if c.state in states]

    def stats(self) -> SubstrateStats:
        """Substrate-wide telemetry (see :class:`SubstrateStats`)."""
        wall = time.perf_counter() - self._wall0 if self._opened else 0.0
        live, retained = self._live.value, len(self._finished)
        return substrate_stats(
            self.counters, self.hub, wall, live, retained, self._started, self._ended
        )

    def __repr__(self) -> str:
        state = "closing" if self.closing else "open" if self._nursery is not None else "new"
        return f"<Substrate {state} live={self._live.value} known={len(self._cases)}>"


# the default objects of Substrate's case options, in CaseOptions' field order
_DEFAULT_ARGS = tuple(
    inspect.signature(Substrate.__init__).parameters[n].default for n in CASE_FIELDS
)


def open_substrate(**options: Any) -> Substrate:
    """Open a substrate: ``async with wf.open_substrate(**options) as sub: ...``.

    See :class:`Substrate` for the options.
    """
    return Substrate(**options)
