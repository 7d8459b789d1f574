"""The pure reducer: execution state and step function.  Imports no trio.

Public entry points: :class:`ExecState` (one case's state and the reducer
over it), :func:`snapshot` / :func:`restore` / :func:`pending_commands`
(snapshots), :func:`feed_effect_outcomes` (a batch of
``ExecState.feed_effect_outcome`` calls, cheaper per outcome, which may
also take the join arrivals the next ``run`` would take first),
:func:`materialise` (builds the events of a list that
``ExecState.take_events(defer_receipts=True)`` returned), :func:`idle` /
:func:`wake` (a waiting state's empty lists shared while its host leaves it
alone),
:mod:`wftrio.engine.replay` (:func:`run_with_inputs`,
:func:`feed_input`), :mod:`wftrio.engine.protocol` (commands, waits, event
kinds), :mod:`wftrio.engine.objects` and :mod:`wftrio.engine.schema` (the
objects of a case's state, described once).
"""

from __future__ import annotations

from wftrio.engine._effect_outcome import complete_all as feed_effect_outcomes
from wftrio.engine._effects import EffectMeta
from wftrio.engine._fused import materialise
from wftrio.engine._idle import idle, wake
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
    "EffectMeta",
    "EngineError",
    "EventKind",
    "ExecState",
    "FrameSnap",
    "Instr",
    "Program",
    "RecordedError",
    "SchedulerState",
    "StartEffect",
    "StartTimer",
    "StateSnapshot",
    "Status",
    "TaskError",
    "Wait",
    "WaitKind",
    "WaitSnap",
    "error_info",
    "feed_effect_outcomes",
    "feed_input",
    "idle",
    "jsonable_copy",
    "materialise",
    "link",
    "pending_commands",
    "program_fingerprint",
    "restore",
    "run_with_inputs",
    "snapshot",
    "wake",
]
