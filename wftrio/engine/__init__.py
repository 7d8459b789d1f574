"""The pure reducer: execution state and step function.  Imports no trio."""

from __future__ import annotations

from wftrio.engine._snapshot import StateSnapshot
from wftrio.engine._state import ExecState
from wftrio.engine.program import Instr, Program, link
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
from wftrio.engine.replay import feed_input, run_with_inputs
from wftrio.errors import EngineError, RecordedError, TaskError

__all__ = [
    "FINAL",
    "CancelEffect",
    "CancelTimer",
    "Command",
    "EngineError",
    "EventKind",
    "ExecState",
    "Instr",
    "Program",
    "RecordedError",
    "StartEffect",
    "StartTimer",
    "StateSnapshot",
    "Status",
    "TaskError",
    "Wait",
    "WaitKind",
    "error_info",
    "feed_input",
    "link",
    "run_with_inputs",
]
