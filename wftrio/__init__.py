"""wftrio: workflow patterns native to trio.

Author workflows from pattern constructors (``seq``, ``par``, ``xor``,
``loop``, ``defer``, ``region``, ``mi``, ...), then run them with
``wf.run`` or on a substrate opened with ``wf.open_substrate``.
"""

from __future__ import annotations

from wftrio.compiler import compile
from wftrio.errors import (
    CaseCancelled,
    CaseClosed,
    CaseFailed,
    DuplicateCase,
    EngineError,
    ReplayDivergence,
    TaskError,
    TermError,
    TermTypeError,
    UnknownCase,
    WftrioError,
)
from wftrio.scheduling import Deterministic, Replay, Seeded
from wftrio.terms import (
    Term,
    after,
    branch,
    choice,
    defer,
    first,
    join,
    loop,
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

__all__ = [
    "CaseCancelled",
    "CaseClosed",
    "CaseFailed",
    "Deterministic",
    "DuplicateCase",
    "EngineError",
    "EventKind",
    "Replay",
    "ReplayDivergence",
    "Seeded",
    "TaskError",
    "Term",
    "TermError",
    "TermTypeError",
    "TraceEvent",
    "UnknownCase",
    "WftrioError",
    "after",
    "branch",
    "choice",
    "compile",
    "defer",
    "first",
    "join",
    "loop",
    "mi",
    "on_signal",
    "par",
    "region",
    "replay_log",
    "seq",
    "task",
    "terminate",
    "wait_signal",
    "xor",
]
