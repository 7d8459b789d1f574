"""Every exception wftrio raises on purpose, under one root, :class:`WftrioError`.

This module is a leaf: it imports nothing from wftrio, so every layer (the
algebra, the compiler, the pure engine, the trio runtime, the surfaces) can
raise these without importing a layer above it.

* Construction mistakes (:class:`TermError`, :class:`OptionError`, ...) also
  subclass ``ValueError`` or ``TypeError`` and name the offending node and
  argument.
* API misuse on a substrate (:class:`UnknownCase`, :class:`DuplicateCase`,
  :class:`CaseClosed`) subclasses ``LookupError`` / ``ValueError`` /
  ``RuntimeError``.
* A case that failed or was cancelled is a *result*: :class:`CaseFailed`
  (with the cause) and :class:`CaseCancelled` are raised by ``wait``.
* :class:`EngineError` is misuse of the reducer's own API (or a broken
  invariant): an internal error, never a case outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

__all__ = [
    "ApiError",
    "InvalidArgument",
    "AbstractFailure",
    "CliError",
    "InjectedFault",
    "ApprovalRejected",
    "BudgetExceeded",
    "CallDepthExceeded",
    "CallError",
    "CaseCancelled",
    "CaseClosed",
    "CaseFailed",
    "CaseStillRunning",
    "CaseStuck",
    "DuplicateCase",
    "DuplicateWorkflow",
    "EffectContextError",
    "EffectSpecError",
    "EffectSuspended",
    "EffectTimeout",
    "EngineError",
    "EscapedBaseException",
    "ExploredFailure",
    "GovernanceError",
    "GuardViolation",
    "InvalidWorkflow",
    "InvariantViolation",
    "NoHandler",
    "OptionError",
    "ProgramMismatch",
    "RecordedError",
    "RegistrationError",
    "RegistrationTypeError",
    "ReplayDivergence",
    "SchedulerError",
    "SerializationError",
    "SignalQueueFull",
    "SinkEventError",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "CaseFenced",
    "SubstrateClosed",
    "TaskError",
    "TermError",
    "TermTypeError",
    "UnregisteredTerm",
    "UnstorableValue",
    "UnknownCase",
    "UnknownRegion",
    "UnknownSignal",
    "UnknownWorkflow",
    "ValidationOptionError",
    "WftrioError",
    "WorkflowVersionMismatch",
]


# ---------------------------------------------------------------------------
# the root and construction mistakes (terms, options)


class WftrioError(Exception):
    """Root of every error wftrio raises on purpose."""


class TermError(WftrioError, ValueError):
    """A term was built with a bad argument; the message names node and argument."""


class TermTypeError(TermError, TypeError):
    """A term argument has the wrong type (e.g. a task fn that is not callable)."""


class SchedulerError(WftrioError, TypeError):
    """The ``scheduler=`` option is not a known policy."""


class EffectSpecError(WftrioError, TypeError):
    """An :class:`Effect` or an effect handler was built with a bad argument."""


class GovernanceError(WftrioError, ValueError):
    """A :class:`Budget` or an allowlist was given a bad value."""


class ValidationOptionError(WftrioError, TypeError):
    """An option passed to :func:`validate` is unknown or has a bad value."""


class OptionError(WftrioError, ValueError):
    """An option passed to ``open_substrate``, ``new_case`` or ``run`` is invalid."""


# ---------------------------------------------------------------------------
# the reducer


class EngineError(WftrioError, RuntimeError):
    """Misuse of the reducer's API (feeding an unknown effect id, ...)."""


class TaskError(WftrioError):
    """Why a case failed when the cause is the workflow itself, not user code.

    E.g. an ``xor`` where no condition held and there is no default, or a
    task returning something that is not a Mapping.
    """


class CallError(TaskError):
    """A ``call`` (WCP-22) could not map its ctx: a key of ``ctx_in`` / ``ctx_out`` is missing."""


class CallDepthExceeded(TaskError, RecursionError):
    """A ``call`` nested deeper than its ``max_depth`` (the recursion bound) ran.

    Attributes:
        name: the workflow the call names.
        max_depth: the bound.
    """

    def __init__(self, name: str, max_depth: int) -> None:
        super().__init__(
            f"call({name!r}): more than max_depth={max_depth} nested calls; "
            "raise max_depth= or make the recursion end sooner"
        )
        self.name = name
        self.max_depth = max_depth

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.name, self.max_depth))


class RecordedError(WftrioError):
    """An effect error as recorded in a trace, fed back by a replay."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message


class ReplayDivergence(WftrioError, RuntimeError):
    """A replayed case asked for something its recorded log does not hold."""


# ---------------------------------------------------------------------------
# effects and governance


class EffectTimeout(WftrioError, TimeoutError):
    """An effect attempt ran longer than its task's ``timeout=``.

    Its receipt's outcome is ``"timed_out"``.  It is an ``Exception``, so a
    ``Retry`` retries it unless ``on=`` excludes it.
    """


class NoHandler(WftrioError, LookupError):
    """An :class:`Effect` was requested but the case has no handler for its kind.

    Never retried: the case's configuration, not the world, is at fault.
    """


class EffectContextError(WftrioError, RuntimeError):
    """:func:`current_effect` was called outside an effect."""


class GuardViolation(WftrioError, PermissionError):
    """An effect's kind is not allowed where it was requested.

    Attributes:
        kind: the refused effect kind.
        task: the requesting task's name.
        scope: the region id whose ``allow=`` refused it, or ``None`` for
            the case's ``allow=`` option.
        allowed: the kinds that scope allows, sorted.
    """

    def __init__(self, kind: str, task: str, scope: str | None, allowed: Iterable[str]) -> None:
        self.kind = kind
        self.task = task
        self.scope = scope
        self.allowed = tuple(sorted(allowed))
        where = f"region {scope!r}" if scope is not None else "this case (allow= option)"
        super().__init__(
            f"effect kind {kind!r} of task {task!r} is not allowed in {where}; "
            f"allowed: {list(self.allowed)}"
        )

    @property
    def info(self) -> dict[str, Any]:
        """The violation as JSON data (the receipt's ``detail``)."""
        return {
            "violation": "allowlist",
            "kind": self.kind,
            "task": self.task,
            "scope": self.scope,
            "allowed": list(self.allowed),
        }


class BudgetExceeded(WftrioError, RuntimeError):
    """An effect would exceed the case's budget.

    Attributes:
        resource: ``"effects"``, ``"time"`` or ``"cost"``.
        limit: the budget's limit for that resource.
        used: what the case had used when the effect was requested.
        requested: what the effect asked for (1 effect, its cost; ``None``
            for time, which is charged when an effect finishes).
        kind: the refused effect's kind.
        task: the requesting task's name.
    """

    def __init__(
        self,
        resource: str,
        limit: float,
        used: float,
        requested: float | None,
        kind: str,
        task: str,
    ) -> None:
        self.resource = resource
        self.limit = limit
        self.used = used
        self.requested = requested
        self.kind = kind
        self.task = task
        asked = f" + {requested:g}" if requested is not None else ""
        super().__init__(
            f"effect {kind!r} of task {task!r} exceeds the case budget: {resource} "
            f"{used:g}{asked} > {limit:g}"
            if requested is not None
            else f"effect {kind!r} of task {task!r} exceeds the case budget: {resource} "
            f"used {used:g} of {limit:g}"
        )

    @property
    def info(self) -> dict[str, Any]:
        """The refusal as JSON data (the receipt's ``detail``)."""
        return {
            "violation": "budget",
            "resource": self.resource,
            "limit": self.limit,
            "used": self.used,
            "requested": self.requested,
            "kind": self.kind,
            "task": self.task,
        }


class ApprovalRejected(WftrioError, RuntimeError):
    """A rejected :func:`~wftrio.patterns.approval` without ``on_reject`` fails the case with this.

    Attributes:
        name: the approval point.
        by: who rejected it.
        note: the reason they gave, if any.
    """

    def __init__(self, name: str, by: str | None, note: str | None) -> None:
        self.name = name
        self.by = by
        self.note = note
        why = f": {note}" if note else ""
        super().__init__(f"approval {name!r} was rejected by {by!r}{why}")


# ---------------------------------------------------------------------------
# snapshots and JSON


class SerializationError(WftrioError, ValueError):
    """JSON that does not describe what it should, or a value JSON cannot hold.

    Attributes:
        paths: the failing fields, e.g. ``("$.tokens[3].pc",)`` when loading
            or ``("ctx['when']",)`` when a ctx value is not a JSON value.
    """

    def __init__(self, message: str, *, paths: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.paths = tuple(paths)


class ProgramMismatch(SerializationError):
    """A snapshot is restored with a Program other than the one it was taken from."""


# ---------------------------------------------------------------------------
# validation


class InvalidWorkflow(WftrioError, ValueError):
    """The workflow has error-severity issues; ``issues`` lists all of them.

    Raised by ``new_case(..., validate=True)`` (the default) and ``wf.run``.
    """

    def __init__(self, issues: Iterable[Any], where: str = "workflow", *, report: str = "") -> None:
        self.issues: tuple[Any, ...] = tuple(issues)
        errors = [i for i in self.issues if i.is_error]
        super().__init__(
            f"{where} is invalid ({len(errors)} error(s); pass validate=False to run it "
            "anyway):\n" + (report or "\n".join(str(e) for e in errors))
        )


class ExploredFailure(WftrioError):
    """The error the explorer feeds to an effect it lets fail."""


# ---------------------------------------------------------------------------
# testing helpers (wftrio.testing)


class EffectSuspended(WftrioError, RuntimeError):
    """An effect's coroutine awaited something, which a bare driver cannot run.

    Pass ``Environment(effect_result=...)`` to compute effect results instead.
    """


class InvariantViolation(WftrioError, AssertionError):
    """An execution state is inconsistent (an engine bug).  The message lists every problem."""


# ---------------------------------------------------------------------------
# the workflow registry (workflows by name, for durable cases)


class RegistrationError(WftrioError, ValueError):
    """A workflow registry was given a bad argument; the message names it."""


class RegistrationTypeError(RegistrationError, TypeError):
    """A workflow registry argument has the wrong type (a name that is not a str, ...)."""


class UnknownWorkflow(WftrioError, LookupError):
    """No workflow of this name (or no such version of it) is registered.

    Attributes:
        name: the requested name.
        version: the requested version, or ``None`` for the newest.
        known: every registered name with its versions, ascending.
    """

    def __init__(self, name: str, version: int | None, known: Mapping[str, Sequence[int]]) -> None:
        self.name = name
        self.version = version
        self.known = {n: tuple(v) for n, v in known.items()}
        listed = (
            "; ".join(f"{n!r} (versions {', '.join(map(str, v))})" for n, v in self.known.items())
            or "none"
        )
        what = f"workflow {name!r}" if version is None else f"workflow {name!r} version {version}"
        super().__init__(f"{what} is not registered; registered workflows: {listed}")


class DuplicateWorkflow(WftrioError, ValueError):
    """This name and version are registered already, with a different Program.

    Registering the same workflow again (same Program fingerprint) is not an
    error; a changed workflow needs a new version.

    Attributes:
        name: the workflow name.
        version: the version registered twice.
        registered_fingerprint: the Program fingerprint registered first.
        new_fingerprint: the one that was refused.
    """

    def __init__(
        self, name: str, version: int, registered_fingerprint: str, new_fingerprint: str
    ) -> None:
        self.name = name
        self.version = version
        self.registered_fingerprint = registered_fingerprint
        self.new_fingerprint = new_fingerprint
        super().__init__(
            f"workflow {name!r} version {version} is registered already with another "
            f"Program (fingerprint {registered_fingerprint}, this one {new_fingerprint}); "
            f"register the changed workflow as a new version (e.g. version={version + 1})"
        )


class WorkflowVersionMismatch(WftrioError, ValueError):
    """A stored case ran a workflow version whose Program is not the one registered now.

    The workflow was changed without a new version: resuming the case on
    the new Program would mix two workflows, so it is refused.

    Attributes:
        name: the workflow name.
        version: the version the case runs.
        expected_fingerprint: the Program fingerprint stored with the case.
        found_fingerprint: the fingerprint of the Program registered now.
    """

    def __init__(
        self, name: str, version: int, expected_fingerprint: str, found_fingerprint: str
    ) -> None:
        self.name = name
        self.version = version
        self.expected_fingerprint = expected_fingerprint
        self.found_fingerprint = found_fingerprint
        super().__init__(
            f"workflow {name!r} version {version} has changed: its cases were stored with "
            f"Program fingerprint {expected_fingerprint}, the registered Program has "
            f"{found_fingerprint}; register the old workflow as version {version} and the "
            "changed one as a new version, side by side, so stored cases resume on the "
            "Program they started with"
        )


# ---------------------------------------------------------------------------
# the substrate and its cases


class SubstrateClosed(WftrioError, RuntimeError):
    """The substrate is not open (not entered yet, or shutting down)."""


class CaseStillRunning(WftrioError, RuntimeError):
    """The request needs a finished case (e.g. ``forget`` of a live case)."""


class UnknownCase(WftrioError, LookupError):
    """No case with this id is known to the substrate (never started, or forgotten)."""


class DuplicateCase(WftrioError, ValueError):
    """A case with this id already exists on the substrate."""


class CaseClosed(WftrioError, RuntimeError):
    """The case has finished; it accepts no more signals or requests."""


class UnknownRegion(WftrioError, LookupError):
    """``cancel_region`` named a region the case's workflow does not have.

    A region the workflow has but with no live activation is not an error:
    the request is recorded as ``region_cancel_ignored``.
    """


class EscapedBaseException(WftrioError, RuntimeError):
    """User code let a ``BaseException`` escape that is not the case's own cancellation.

    A stray ``trio.Cancelled`` (one caught in some other cancel scope and
    re-raised) or any other ``BaseException`` subclass (``KeyboardInterrupt``
    and ``SystemExit`` excepted: they propagate) from an effect or a task
    fails the case with this error; ``__cause__`` is what escaped.
    """


class UnknownSignal(WftrioError, LookupError):
    """A persistent signal no step of the case's workflow can ever consume.

    The workflow's ``wait_signal`` / ``on_signal`` names are all known in
    advance (an approval waits for ``wf.approval_signal(name)``); queueing
    any other signal would only grow the case's queue.
    """


class SignalQueueFull(WftrioError, RuntimeError):
    """The case already holds ``max_pending_signals=`` signals nobody has consumed.

    Persistent signals wait, per name, until a step consumes them; this
    bound keeps a case that is sent more than it consumes from growing
    without limit.  The signal was not accepted.
    """


class SinkEventError(WftrioError, ValueError):
    """A trace sink wrote a batch except some events it cannot write.

    Raised by a sink's ``write(events)`` (the built-in ones do) to say the
    rest of the batch was written; the substrate charges each failure to
    its event's case (``CaseInfo.sink_errors``) and keeps the sink.

    Attributes:
        failed: ``(event, error)`` pairs, in batch order.
    """

    def __init__(self, failed: Sequence[tuple[Any, BaseException]]) -> None:
        self.failed = tuple(failed)
        first = self.failed[0][1] if self.failed else None
        super().__init__(f"{len(self.failed)} event(s) could not be written: {first!r}")


class CaseStuck(WftrioError, RuntimeError):
    """``wf.run``: the case waits for what nobody can deliver.

    Every live token waits on a signal (or an effect / timer that can never
    come) and ``run`` has no more signals to send.  The case is cancelled;
    ``waiting_for`` names the signals it was waiting for and ``result``
    is the cancelled case's :class:`~wftrio.runtime.CaseResult`.
    """

    def __init__(self, message: str, waiting_for: tuple[str, ...] = (), result: Any = None) -> None:
        super().__init__(message)
        self.waiting_for = waiting_for
        self.result = result


class CaseFailed(WftrioError):
    """The case ended FAILED.  ``cause`` is the exception that failed it.

    Attributes:
        case_id: the case.
        cause: the exception recorded when the case failed.
        result: the CaseResult (final ctx and trace), when available.
    """

    def __init__(self, case_id: str, cause: BaseException | None, result: Any = None) -> None:
        super().__init__(f"case {case_id!r} failed: {cause!r}")
        self.case_id = case_id
        self.cause = cause
        self.result = result
        self.__cause__ = cause


class CaseCancelled(WftrioError):
    """The case ended CANCELLED.

    Attributes:
        case_id: the case.
        result: the CaseResult (ctx at cancellation and trace), when available.
    """

    def __init__(self, case_id: str, result: Any = None) -> None:
        super().__init__(f"case {case_id!r} was cancelled")
        self.case_id = case_id
        self.result = result


# ---------------------------------------------------------------------------
# durable stores


class StoreError(WftrioError):
    """Root of the errors of a case store (``wf.SQLiteStore``)."""


class CaseFenced(StoreError, RuntimeError):
    """A worker's commit for a case it no longer owns at its lease epoch (refused).

    Another worker claimed the case after this one's lease expired
    (``wf.PostgresStore``, docs/SCALING.md); this worker drops the case.
    """

    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id!r} is owned by another worker now: commit refused")
        self.case_id = case_id


class StoreLocked(StoreError, RuntimeError):
    """Another substrate (in this process or another) owns the store file.

    One process owns a store at a time; close the other substrate first.
    """


class UnregisteredTerm(StoreError, TypeError):
    """A durable store was asked to start a case from a bare term.

    A stored case is resumed by workflow name, so it must be started by a
    name registered with ``wf.workflow`` / ``wf.register``.
    """


class UnstorableValue(StoreError, TypeError):
    """A value a durable store must keep (a case's ctx, a signal payload) is not JSON."""


class StoreCorrupt(StoreError, ValueError):
    """A stored case's rows cannot be read back (corrupt or foreign rows).

    Only that case fails to resume; the others resume.

    Attributes:
        case_id: the case whose rows are unreadable.
    """

    def __init__(self, message: str, case_id: str) -> None:
        super().__init__(message)
        self.case_id = case_id


# ---------------------------------------------------------------------------
# internal signals of the command line, the validator and the test strategies


class CliError(WftrioError, ValueError):
    """A command-line mistake: printed as one sentence, exit status 2."""


class ApiError(WftrioError, ValueError):
    """A request the web console's HTTP API refuses (``wftrio.web``): answered
    with ``status`` and ``{"error": message}``, and nothing changed."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class AbstractFailure(WftrioError):
    """The error an abstracted task with an ``on_error`` term raises when it fails (validation)."""


class InjectedFault(RuntimeError):
    """The failure a ``wftrio.testing.strategies.fail`` task raises (and a test driver injects).

    It stands for a failure of *user* code, so it is not a :class:`WftrioError`.
    """


# ---------------------------------------------------------------------------
# the testing strategies (wftrio.testing): built on first use


_INVALID_ARGUMENT_DOC = """A strategy in :mod:`wftrio.testing.strategies` got a bad argument.

Subclasses both :class:`WftrioError` and hypothesis' ``InvalidArgument``
(itself a ``TypeError``), so hypothesis reports it as a bad strategy
argument.  Built when first named (``wftrio.errors.InvalidArgument``):
hypothesis is a test dependency, and importing wftrio must not import it.
"""

if TYPE_CHECKING:
    from hypothesis.errors import InvalidArgument as _HypothesisInvalidArgument

    class InvalidArgument(WftrioError, _HypothesisInvalidArgument):
        """A strategy in :mod:`wftrio.testing.strategies` got a bad argument."""

else:

    def __getattr__(name: str) -> Any:
        if name != "InvalidArgument":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from hypothesis.errors import InvalidArgument as hypothesis_invalid_argument

        cls = type(
            "InvalidArgument",
            (WftrioError, hypothesis_invalid_argument),
            {"__doc__": _INVALID_ARGUMENT_DOC, "__module__": __name__},
        )
        globals()["InvalidArgument"] = cls
        return cls
