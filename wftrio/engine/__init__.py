"""The pure reducer: execution state and step function.  Imports no trio."""

from __future__ import annotations

from wftrio.engine._effects import EffectMeta
from wftrio.engine._snapshot import (
    FrameSnap,
    SchedulerState,
    StateSnapshot,
    WaitSnap,
    jsonable_copy,
    pending_commands,
    program_fingerprint,
    restore,
    snapshot,
)
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
    "FrameSnap",
    "CancelEffect",
    "CancelTimer",
    "Command",
    "EffectMeta",
    "EngineError",
    "ExecState",
    "Instr",
    "Program",
    "RecordedError",
    "SchedulerState",
    "StartEffect",
    "StartTimer",
    "StateSnapshot",
    "Status",
    "TaskError",
    "WaitSnap",
    "error_info",
    "jsonable_copy",
    "link",
    "pending_commands",
    "program_fingerprint",
    "restore",
    "snapshot",
]
