"""Values the runtime hands out (case states, results, status, statistics),
its own errors, and the parsing of case options.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

import attrs

from wftrio.algebra.checks import is_number
from wftrio.effects import Handler, as_handler
from wftrio.engine import materialise
from wftrio.errors import (
    CaseStillRunning,
    EffectSpecError,
    GovernanceError,
    OptionError,
    SubstrateClosed,
)
from wftrio.governance import Budget, BudgetUsage, as_allow, as_budget
from wftrio.receipts import Receipt, receipts
from wftrio.scheduling import Deterministic, Replay, Seeded, make_scheduler
from wftrio.terms import Term
from wftrio.trace import LEVELS, TraceEvent

__all__ = [
    "FINAL_STATES",
    "CaseInfo",
    "CaseOptions",
    "CaseResult",
    "CaseState",
    "CaseStillRunning",
    "OptionError",
    "SubstrateClosed",
    "SubstrateStats",
    "parse_case_options",
]


class CaseState(enum.StrEnum):
    """Where a case runner stands (plain strings: ``CaseState.DONE == "done"``).

    ``INITIALIZING`` until the runner has built the case's execution state;
    ``RUNNING`` while it reduces; ``WAITING_EFFECT`` while every live token
    waits and at least one waits on an effect; ``WAITING_SIGNAL`` while every
    live token waits on signals or timers; then one of the final states
    ``DONE``, ``FAILED`` or ``CANCELLED``.
    """

    INITIALIZING = "initializing"
    RUNNING = "running"
    WAITING_EFFECT = "waiting_effect"
    WAITING_SIGNAL = "waiting_signal"
    CANCELLED = "cancelled"
    DONE = "done"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """Whether the case has finished (DONE, FAILED or CANCELLED)."""
        return self in FINAL_STATES


FINAL_STATES: frozenset[CaseState] = frozenset(
    {CaseState.DONE, CaseState.FAILED, CaseState.CANCELLED}
)


def _built(events: list[TraceEvent]) -> list[TraceEvent]:
    """``events`` with any deferred receipt built, in place."""
    materialise(events)
    return events


@attrs.frozen(repr=False)
class CaseResult:
    """What a finished case left behind.

    Attributes:
        case_id: the case.
        state: ``DONE``, ``FAILED`` or ``CANCELLED``.
        ctx: the case ctx when it finished (a copy).
        trace: the recorded trace events (empty at trace level ``"none"``): a copy,
            so changing it cannot change the case's own trace (``sub.events``).
        error: the exception that failed the case (``FAILED`` only).
        reason: why a cancelled case was cancelled: ``"cancel"`` (``sub.cancel``),
            ``"timeout"`` (the case's ``timeout=``), ``"shutdown"`` (the
            substrate closed) or ``"aborted"`` (an exception from outside).
        steps: reduction steps taken.
    """

    case_id: str
    state: CaseState
    ctx: dict[str, Any]
    # may hold receipt records whose request hash is computed when the trace is
    # read (wftrio.engine.materialise): read it through ``trace``
    _trace: list[TraceEvent] = attrs.field(
        alias="trace",
        eq=attrs.cmp_using(eq=lambda a, b: _built(a) == _built(b)),
    )
    error: BaseException | None = None
    reason: str | None = None
    steps: int = 0
    _trace_built: bool = attrs.field(init=False, default=False, eq=False)

    @property
    def trace(self) -> list[TraceEvent]:
        """The recorded trace events (see the class docstring).

        Copied when first read: until then ``_trace`` may be the finished
        case's own list (which no longer changes; the runner hands it over
        uncopied), and the copy is what keeps the case's trace safe from
        changes to this one.  Built once, then the same list every read.
        """
        if not self._trace_built:
            trace = list(self._trace)
            _built(trace)
            object.__setattr__(self, "_trace", trace)
            object.__setattr__(self, "_trace_built", True)  # a cache: built once
        return self._trace

    def __repr__(self) -> str:
        names = ("case_id", "state", "ctx", "trace", "error", "reason", "steps")
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"CaseResult({fields})"

    def receipts(self, *, steps: bool = True) -> list[Receipt]:
        """The case's receipts, from its trace (see :func:`wftrio.receipts.receipts`)."""
        return receipts(self.trace, steps=steps)


# CaseResult's slots, set directly: what its attrs ``__init__`` does through
# ``object.__setattr__`` by name (a frozen class), ~25% faster (one per case)
_RESULT_SLOTS = tuple(
    CaseResult.__dict__[n].__set__
    for n in ("case_id", "state", "ctx", "_trace", "error", "reason", "steps", "_trace_built")
)
_set_id, _set_state, _set_ctx, _set_trace, _set_error, _set_reason, _set_steps, _set_built = (
    _RESULT_SLOTS
)
_new_object = object.__new__


def new_result(
    case_id: str,
    state: CaseState,
    ctx: dict[str, Any],
    trace: list[TraceEvent],
    error: BaseException | None,
    reason: str | None,
    steps: int,
) -> CaseResult:
    """``CaseResult(case_id, state, ctx, trace, error, reason, steps)``, built faster.

    The same object as the constructor's (tests/test_runtime_first_burst.py
    compares them); for the runner, once per finished case.
    """
    res: CaseResult = _new_object(CaseResult)
    _set_id(res, case_id)
    _set_state(res, state)
    _set_ctx(res, ctx)
    _set_trace(res, trace)
    _set_error(res, error)
    _set_reason(res, reason)
    _set_steps(res, steps)
    _set_built(res, False)
    return res


@attrs.frozen
class CaseInfo:
    """A snapshot of one case, as ``sub.status(case_id)`` returns it.

    Attributes:
        case_id: the case.
        state: the runner state.
        steps: reduction steps taken so far.
        effects_in_flight: effects requested whose result the case has not
            consumed yet.
        effect_tasks: effect tasks still alive (includes cancelled effects
            whose cleanup is running).
        timers: timers pending (``after`` alternatives waiting).
        pending_signals: signals received but not consumed yet, by name.
        waiting_signals: signal names some token waits for.
        live_regions: ids of the regions with a live activation.
        inbox: requests queued in the case's inbox.
        started_at: trio time the case was initialised.
        finished_at: trio time it finished, or ``None``.
        reason: why it was cancelled (see :class:`CaseResult`), or ``None``.
        error: the exception that failed it, or ``None``.
        trace_level: the case's current trace level.
        events: number of trace events the case keeps in memory (at most
            its ``keep_events=``).
        events_dropped: trace events recorded but dropped from memory to
            respect ``keep_events=`` (the oldest first; sinks received them).
        undelivered_signals: signals accepted by ``signal`` while the case
            was finishing, so never offered to it.
        budget: what the case used of its effect budget (effects started,
            seconds of finished effects, declared cost) and its limits
            (``budget.budget`` is ``None`` when the case has no budget).
        effect_names: task names of the case's effect tasks still alive, in
            start order.
        sink_errors: events of this case a trace sink could not write (each
            lost for that sink only; the sink stays enabled).
        sink_error: a ``sink_error`` note describing the last of them, or ``None``.
        workflow: the registered workflow name the case runs (``new_case``
            given a name), or ``None`` (given a term).
        workflow_version: the version of it the case runs, or ``None``.
        ctx: the case ctx now (its final ctx once finished): a shallow copy.
        term: the workflow term the case runs (also once it finished: a
            case started from a bare term keeps a reference to it until it
            is forgotten).
    """

    case_id: str
    state: CaseState
    steps: int
    effects_in_flight: int
    effect_tasks: int
    timers: int
    pending_signals: dict[str, int]
    waiting_signals: tuple[str, ...]
    live_regions: tuple[str, ...]
    inbox: int
    started_at: float | None
    finished_at: float | None
    reason: str | None
    error: BaseException | None
    trace_level: str
    events: int
    undelivered_signals: int
    budget: BudgetUsage = BudgetUsage(0, 0.0, 0.0, None)
    effect_names: tuple[str, ...] = ()
    sink_errors: int = 0
    sink_error: str | None = None
    events_dropped: int = 0
    workflow: str | None = None
    workflow_version: int | None = None
    ctx: dict[str, Any] = attrs.Factory(dict)
    term: Term | None = attrs.field(default=None, repr=False, eq=False)


@attrs.frozen
class SubstrateStats:
    """Substrate-wide telemetry, as ``sub.stats()`` returns it.

    Rates are per second of wall-clock time since the substrate opened
    (``wall_elapsed``), so they stay meaningful under trio's MockClock;
    latencies are measured on trio's clock (what cases see).

    Attributes:
        live_cases: cases not finished yet.
        retained_cases: finished cases still known (``status``/``wait`` work).
        cases_started: cases ever started.
        cases_done: cases finished DONE.
        cases_failed: cases finished FAILED.
        cases_cancelled: cases finished CANCELLED.
        steps: reduction steps taken by all cases.
        effects_started: effect tasks started.
        effects_completed: effect results the cases consumed.
        effects_cancelled: effects cancelled (withdrawn while in flight).
        effect_retries: failed effect attempts that were retried.
        signals: signals accepted by ``signal``.
        wall_elapsed: wall-clock seconds since the substrate opened.
        steps_per_sec: ``steps / wall_elapsed``.
        effects_per_sec: ``effects_completed / wall_elapsed``.
        signals_per_sec: ``signals / wall_elapsed``.
        effect_cancel_latency_mean: mean trio seconds from a cancelled
            effect's withdrawal to its task's exit (its cleanup included).
        effect_cancel_latency_max: the largest such latency.
        case_cancel_latency_mean: mean trio seconds from ``sub.cancel`` to the
            case being recorded CANCELLED (children torn down).
        case_cancel_latency_max: the largest such latency.
        sink_batches: event batches the trace-sink task delivered.
        sink_events: events the trace-sink task delivered.
        sinks_disabled: sinks disabled because they raised (other than
            for one event they could not write).
        sink_errors: events a sink could not write (each lost for that sink only).
    """

    live_cases: int
    retained_cases: int
    cases_started: int
    cases_done: int
    cases_failed: int
    cases_cancelled: int
    steps: int
    effects_started: int
    effects_completed: int
    effects_cancelled: int
    signals: int
    wall_elapsed: float
    steps_per_sec: float
    effects_per_sec: float
    signals_per_sec: float
    effect_cancel_latency_mean: float
    effect_cancel_latency_max: float
    case_cancel_latency_mean: float
    case_cancel_latency_max: float
    sink_batches: int
    sink_events: int
    sinks_disabled: int
    effect_retries: int = 0
    sink_errors: int = 0


# ---------------------------------------------------------------------------
# options


@attrs.frozen
class CaseOptions:
    """The per-case options (also the substrate's defaults for them).

    ``effect_handler``, ``budget`` and ``allow`` hold normalised values
    (see :func:`normalise_effect_options`).  ``validate``: check the workflow
    with :func:`wftrio.validation.validate` (once per Program) before starting a case.
    ``keep_events``: how many of its latest trace events a case keeps in
    memory (``None``: all); sinks receive every event regardless.
    ``max_pending_signals``: how many persistent signals the case may hold
    unconsumed before ``signal`` refuses more (``None``: no bound).
    ``validate_budget``: seconds the validation at ``new_case`` may explore
    (``None``: no limit; see :func:`wftrio.validation.check_program`).
    """

    scheduler: object = "deterministic"
    step_quanta: int = 1000
    timeout: float | None = None
    trace_level: str = "full"
    effect_handler: Handler | None = None
    budget: Budget | None = None
    allow: frozenset[str] | None = None
    validate: bool = True
    keep_events: int | None = 1000
    max_pending_signals: int | None = 1000
    validate_budget: float | None = 0.05


CASE_OPTION_NAMES = frozenset(
    {
        "scheduler",
        "step_quanta",
        "timeout",
        "trace_level",
        "effect_handler",
        "budget",
        "allow",
        "validate",
        "keep_events",
        "max_pending_signals",
        "validate_budget",
    }
)


def normalise_effect_options(given: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Normalise the ``effect_handler=``, ``budget=`` and ``allow=`` options in ``given``.

    Raises:
        OptionError: a handler that is neither an object with an async
            ``handle(effect, ctx)`` nor a mapping of kind -> async callable; a
            budget that is not a ``wf.Budget`` (or mapping of its limits); an
            allowlist that is not a collection of effect kinds.
    """
    out = dict(given)
    try:
        if out.get("effect_handler") is not None:
            out["effect_handler"] = as_handler(out["effect_handler"], f"{where}: effect_handler")
        if "budget" in out:
            out["budget"] = as_budget(out["budget"], f"{where}: budget")
        if "allow" in out:
            out["allow"] = as_allow(out["allow"], f"{where}: allow")
    except (EffectSpecError, GovernanceError) as exc:
        raise OptionError(str(exc)) from exc
    return out


def parse_case_options(defaults: CaseOptions, given: Mapping[str, Any], where: str) -> CaseOptions:
    """Validate ``given`` case options over ``defaults``.

    Raises:
        OptionError: an unknown option name or an invalid value.
        SchedulerError: ``scheduler=`` is not a known policy.
    """
    for name in given:
        if name not in CASE_OPTION_NAMES:
            raise OptionError(
                f"{where}: unknown option {name!r}; expected one of {sorted(CASE_OPTION_NAMES)}"
            )
    if not given:
        return defaults  # frozen, already checked: shared by every case that adds nothing
    opts = attrs.evolve(defaults, **normalise_effect_options(given, where))
    check_case_options(opts, where)
    return opts


def check_case_options(opts: CaseOptions, where: str) -> None:
    """Raise OptionError / SchedulerError if ``opts`` holds an invalid value."""
    s = opts.scheduler
    if not (s == "deterministic" or isinstance(s, Deterministic | Seeded | Replay)):
        make_scheduler(s)  # raises SchedulerError with the expected values
    q = opts.step_quanta
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise OptionError(f"{where}: step_quanta={q!r}, expected an int >= 1")
    t = opts.timeout
    if t is not None and (
        isinstance(t, bool) or not isinstance(t, int | float) or math.isnan(t) or t <= 0
    ):
        raise OptionError(f"{where}: timeout={t!r}, expected None or a number of seconds > 0")
    if opts.trace_level not in LEVELS:
        raise OptionError(
            f"{where}: trace_level={opts.trace_level!r}, expected 'none', 'min' or 'full'"
        )
    if not isinstance(opts.validate, bool):
        raise OptionError(f"{where}: validate={opts.validate!r}, expected a bool")
    k = opts.keep_events
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
        raise OptionError(f"{where}: keep_events={k!r}, expected None or an int >= 0")
    m = opts.max_pending_signals
    if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
        raise OptionError(f"{where}: max_pending_signals={m!r}, expected None or an int >= 1")
    vb = opts.validate_budget
    if vb is not None and (not is_number(vb) or not vb > 0):
        raise OptionError(f"{where}: validate_budget={vb!r}, expected None or seconds > 0")
