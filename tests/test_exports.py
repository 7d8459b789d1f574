"""The public surface is pinned: a name added to or dropped from it is a decision."""

from __future__ import annotations

import wftrio

PUBLIC = {
    # the algebra
    "Term", "after", "approval", "branch", "choice", "defer", "first", "join", "loop", "mi",
    "machine", "END", "on_signal", "par", "region", "seq", "task", "terminate", "wait_signal",
    "xor", "threads", "halt",
    # compiling, running, validating
    "compile", "run", "open_substrate", "Substrate", "SubstrateStats", "validate", "Issue",
    "CaseInfo", "CaseResult", "CaseState",
    # scheduling, tracing, sinks
    "Deterministic", "Seeded", "Replay", "EventKind", "TraceEvent", "replay_log",
    "TraceSink", "CallbackSink", "JsonlSink", "MemorySink",
    # effects and governance
    "Effect", "EffectContext", "current_effect", "Retry", "Receipt", "Budget", "BudgetUsage",
    "approval_signal", "approve", "reject",
    # workflows by name
    "Registry", "RegisteredWorkflow", "register", "workflow",
    # stores
    "MemoryStore", "SQLiteStore", "PostgresStore", "Purged", "purge_finished", "Client",
    # errors (all defined in wftrio.errors)
    "WftrioError", "TermError", "TermTypeError", "EngineError", "TaskError", "ReplayDivergence",
    "CaseFailed", "CaseCancelled", "CaseClosed", "DuplicateCase", "UnknownCase",
    "InvalidWorkflow", "EffectTimeout", "NoHandler", "GuardViolation", "BudgetExceeded",
    "call", "CallError", "CallDepthExceeded",
    "ApprovalRejected", "UnknownRegion", "UnknownSignal", "SignalQueueFull", "CaseStuck",
    "EscapedBaseException", "UnknownWorkflow", "DuplicateWorkflow", "WorkflowVersionMismatch",
    "RegistrationError", "RegistrationTypeError", "StoreError", "StoreLocked", "StoreCorrupt",
    "UnregisteredTerm", "UnstorableValue",
    "CaseStillRunning", "EffectContextError", "EffectSpecError", "EffectSuspended",
    "GovernanceError", "InvariantViolation", "OptionError", "ProgramMismatch", "RecordedError",
    "SchedulerError", "SerializationError", "SinkEventError", "SubstrateClosed",
    "ValidationOptionError",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(wftrio.__all__) - PUBLIC == set(), "new public names: add them to PUBLIC"
    assert PUBLIC - set(wftrio.__all__) == set(), "public names dropped"
    assert len(wftrio.__all__) == len(set(wftrio.__all__))


def test_every_error_name_comes_from_errors_module() -> None:
    import wftrio.errors

    for name in wftrio.__all__:
        obj = getattr(wftrio, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert obj.__module__ == "wftrio.errors", name
            assert name in wftrio.errors.__all__, name
