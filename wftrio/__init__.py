"""wftrio: workflow patterns native to trio.

Author workflows from pattern constructors (``seq``, ``par``, ``xor``,
``loop``, ``defer``, ``region``, ``mi``, ...), then run them with
``wf.run`` or on a substrate opened with ``wf.open_substrate``.

The names below are loaded on first use (PEP 562), so importing a lower
layer (``import wftrio.engine``, ``import wftrio.terms``) does not load trio
or the runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wftrio.compiler import compile
    from wftrio.effects import Effect, EffectContext, Retry, current_effect
    from wftrio.errors import (
        ApprovalRejected,
        BudgetExceeded,
        CaseCancelled,
        CaseClosed,
        CaseFailed,
        CaseStuck,
        DuplicateCase,
        EffectTimeout,
        EngineError,
        EscapedBaseException,
        GuardViolation,
        InvalidWorkflow,
        NoHandler,
        ReplayDivergence,
        SignalQueueFull,
        TaskError,
        TermError,
        TermTypeError,
        UnknownCase,
        UnknownRegion,
        UnknownSignal,
        WftrioError,
    )
    from wftrio.governance import Budget, BudgetUsage, approval_signal, approve, reject
    from wftrio.patterns import approval
    from wftrio.receipts import Receipt
    from wftrio.runtime import (
        CallbackSink,
        CaseInfo,
        CaseResult,
        CaseState,
        JsonlSink,
        MemorySink,
        Substrate,
        SubstrateStats,
        TraceSink,
        open_substrate,
        run,
    )
    from wftrio.scheduling import Deterministic, Replay, Seeded
    from wftrio.terms import (
        END,
        Term,
        after,
        branch,
        choice,
        defer,
        first,
        join,
        loop,
        machine,
        mi,
        on_signal,
        par,
        region,
        seq,
        task,
        terminate,
        wait_signal,
        xor,
    )
    from wftrio.trace import EventKind, TraceEvent, replay_log
    from wftrio.validation import Issue, validate

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "ApprovalRejected": "wftrio.errors",
    "Budget": "wftrio.governance",
    "BudgetExceeded": "wftrio.errors",
    "BudgetUsage": "wftrio.governance",
    "CallbackSink": "wftrio.runtime",
    "CaseCancelled": "wftrio.errors",
    "CaseClosed": "wftrio.errors",
    "CaseFailed": "wftrio.errors",
    "CaseInfo": "wftrio.runtime",
    "CaseResult": "wftrio.runtime",
    "CaseState": "wftrio.runtime",
    "Deterministic": "wftrio.scheduling",
    "DuplicateCase": "wftrio.errors",
    "END": "wftrio.terms",
    "Effect": "wftrio.effects",
    "EffectContext": "wftrio.effects",
    "EffectTimeout": "wftrio.errors",
    "EngineError": "wftrio.errors",
    "EventKind": "wftrio.trace",
    "GuardViolation": "wftrio.errors",
    "InvalidWorkflow": "wftrio.errors",
    "Issue": "wftrio.validation",
    "JsonlSink": "wftrio.runtime",
    "MemorySink": "wftrio.runtime",
    "NoHandler": "wftrio.errors",
    "Receipt": "wftrio.receipts",
    "Replay": "wftrio.scheduling",
    "ReplayDivergence": "wftrio.errors",
    "Retry": "wftrio.effects",
    "Seeded": "wftrio.scheduling",
    "Substrate": "wftrio.runtime",
    "SubstrateStats": "wftrio.runtime",
    "TaskError": "wftrio.errors",
    "Term": "wftrio.terms",
    "TermError": "wftrio.errors",
    "TermTypeError": "wftrio.errors",
    "TraceEvent": "wftrio.trace",
    "TraceSink": "wftrio.runtime",
    "UnknownCase": "wftrio.errors",
    "UnknownRegion": "wftrio.errors",
    "UnknownSignal": "wftrio.errors",
    "SignalQueueFull": "wftrio.errors",
    "CaseStuck": "wftrio.errors",
    "EscapedBaseException": "wftrio.errors",
    "WftrioError": "wftrio.errors",
    "after": "wftrio.terms",
    "approval": "wftrio.patterns",
    "approval_signal": "wftrio.governance",
    "approve": "wftrio.governance",
    "branch": "wftrio.terms",
    "choice": "wftrio.terms",
    "compile": "wftrio.compiler",
    "current_effect": "wftrio.effects",
    "defer": "wftrio.terms",
    "first": "wftrio.terms",
    "join": "wftrio.terms",
    "loop": "wftrio.terms",
    "machine": "wftrio.terms",
    "mi": "wftrio.terms",
    "on_signal": "wftrio.terms",
    "open_substrate": "wftrio.runtime",
    "par": "wftrio.terms",
    "region": "wftrio.terms",
    "reject": "wftrio.governance",
    "replay_log": "wftrio.trace",
    "run": "wftrio.runtime",
    "seq": "wftrio.terms",
    "task": "wftrio.terms",
    "terminate": "wftrio.terms",
    "validate": "wftrio.validation",
    "wait_signal": "wftrio.terms",
    "xor": "wftrio.terms",
}

__all__ = [
    "ApprovalRejected",
    "Budget",
    "BudgetExceeded",
    "BudgetUsage",
    "CallbackSink",
    "CaseCancelled",
    "CaseClosed",
    "CaseStuck",
    "CaseFailed",
    "CaseInfo",
    "CaseResult",
    "CaseState",
    "Deterministic",
    "DuplicateCase",
    "END",
    "Effect",
    "EffectContext",
    "EffectTimeout",
    "EngineError",
    "EscapedBaseException",
    "EventKind",
    "GuardViolation",
    "InvalidWorkflow",
    "Issue",
    "JsonlSink",
    "MemorySink",
    "NoHandler",
    "Receipt",
    "Replay",
    "ReplayDivergence",
    "Retry",
    "Seeded",
    "SignalQueueFull",
    "Substrate",
    "SubstrateStats",
    "TaskError",
    "Term",
    "TermError",
    "TermTypeError",
    "TraceEvent",
    "TraceSink",
    "UnknownCase",
    "UnknownRegion",
    "UnknownSignal",
    "WftrioError",
    "after",
    "approval",
    "approval_signal",
    "approve",
    "branch",
    "choice",
    "compile",
    "current_effect",
    "defer",
    "first",
    "join",
    "loop",
    "machine",
    "mi",
    "on_signal",
    "open_substrate",
    "par",
    "region",
    "reject",
    "replay_log",
    "run",
    "seq",
    "task",
    "terminate",
    "validate",
    "wait_signal",
    "xor",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wftrio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
