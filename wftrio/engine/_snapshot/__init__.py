"""Snapshots of a case's execution state, and restoring them.

The public names are :func:`wftrio.engine.snapshot`,
:func:`wftrio.engine.restore`, :func:`wftrio.engine.pending_commands` and
the records (``wftrio.engine.StateSnapshot`` ...); this package holds them
in four modules:

* :mod:`.records`: the records (the snapshot format) and which record field
  holds which field of an engine object;
* :mod:`.jsonvalues`: the checks free-form data passes (JSON values, valid
  Unicode, bounded nesting) and program fingerprints;
* :mod:`.capture`: taking a snapshot;
* :mod:`.checks` and :mod:`.restore`: checking an untrusted snapshot, then
  rebuilding the state.

A :class:`StateSnapshot` is a plain-data image of an
:class:`~wftrio.engine.ExecState` taken *between* steps (never from inside a
task function or an ``on_event`` callback).  It holds no callables and no
object references: every token, control frame, region activation and ctx
layer is a record keyed by its id, and records refer to each other by id,
so :func:`restore` rebuilds the same object graph (frames shared by several
tokens, ``JoinInst.parent`` chains, region parent/children/token sets, ctx
layer chains and their read-through ``ChainMap`` views) with the same
identities.  ``wftrio.serialize.dumps_snapshot`` / ``loads_snapshot`` turn
it into JSON.

What a snapshot does not hold, and what that means for callers:

* **The Program.**  Restore with the Program compiled from the same term; a
  fingerprint of its instruction table is checked (:class:`ProgramMismatch`
  otherwise).  Task and effect functions come from the Program.
* **The case's allowlist and budget.**  Give them to :func:`restore` again
  (``allow=``, ``budget=``); a snapshot records them only so that restoring
  under others is refused.  What the case used of its budget is restored.
* **The outbox.**  Drain it (``take_outbox``) and act on it before taking a
  snapshot.  A restored state starts with an empty outbox; after a restore
  into a fresh runtime, :func:`pending_commands` lists the ``StartEffect`` /
  ``StartTimer`` commands for every effect and timer still pending, so they
  can be started again (an effect gets the ctx as it is at that point, a
  timer its full duration).
* **Recorded events.**  A restored state's ``events`` starts empty; its
  trace continues with the next ``seq``.
* **Exceptions.**  A failed case's error is kept as ``error_type`` and
  message and comes back as :class:`~wftrio.engine.RecordedError`.

Ctx values (and mi items, signal payloads, mi results) must be JSON values:
``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` and ``dict`` with
``str`` keys, nested freely up to :data:`MAX_DEPTH` levels.  Anything else
(tuples included: JSON has none, and a tuple that came back as a list would
change the ctx), text that is not valid Unicode, and deeper nesting make
:func:`snapshot` raise ``SerializationError`` naming the offending key.
Aliasing between ctx values is not preserved.
"""

from __future__ import annotations

from .capture import snapshot
from .jsonvalues import MAX_DEPTH, jsonable_copy, program_fingerprint
from .records import (
    SNAPSHOT_VERSION,
    CtxLayerSnap,
    DeferAlt,
    DeferWait,
    DeferWaitSnap,
    DeterministicState,
    EffectWait,
    EffectWaitSnap,
    ErrorSnap,
    FrameSnap,
    GovernanceSnap,
    JoinSnap,
    LoopSnap,
    MIResult,
    MISnap,
    PendingEffect,
    PendingTimer,
    RegionSnap,
    ReplayState,
    SchedulerState,
    ScopeSnap,
    SeededState,
    SignalWait,
    SignalWaitSnap,
    StateSnapshot,
    TokenSnap,
    Waiter,
    WaitSnap,
)
from .restore import pending_commands, restore

__all__ = [
    "MAX_DEPTH",
    "SNAPSHOT_VERSION",
    "CtxLayerSnap",
    "DeferAlt",
    "DeferWait",
    "DeferWaitSnap",
    "DeterministicState",
    "EffectWait",
    "EffectWaitSnap",
    "ErrorSnap",
    "FrameSnap",
    "GovernanceSnap",
    "JoinSnap",
    "LoopSnap",
    "MIResult",
    "MISnap",
    "PendingEffect",
    "PendingTimer",
    "RegionSnap",
    "ReplayState",
    "SchedulerState",
    "ScopeSnap",
    "SeededState",
    "SignalWait",
    "SignalWaitSnap",
    "StateSnapshot",
    "TokenSnap",
    "WaitSnap",
    "Waiter",
    "jsonable_copy",
    "pending_commands",
    "program_fingerprint",
    "restore",
    "snapshot",
]
