"""The pure reducer: execution state and step function.  Imports no trio."""

from __future__ import annotations

from wftrio.engine._snapshot import StateSnapshot
from wftrio.engine._state import (
    FINAL,
    CancelEffect,
    CancelTimer,
    Command,
    ExecState,
    StartEffect,
    StartTimer,
    Status,
    error_info,
)
from wftrio.engine.program import Instr, Program, link
from wftrio.errors import EngineError, RecordedError, TaskError

__all__ = [
    "FINAL",
    "CancelEffect",
    "CancelTimer",
    "Command",
    "EngineError",
    "ExecState",
    "Instr",
    "Program",
    "RecordedError",
    "StartEffect",
    "StartTimer",
    "StateSnapshot",
    "Status",
    "TaskError",
    "error_info",
    "link",
]
