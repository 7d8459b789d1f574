"""The trio shell around the pure reducer: substrate, case runners, trace sinks.

``open_substrate`` opens a supervision tree (a root nursery with the
trace-sink task and the case nursery); each case is a runner task driving
its own :class:`wftrio.engine.ExecState`.  ``run`` is the sync one-shot.
See docs/OPERATIONS.md.
"""

from __future__ import annotations

from wftrio.errors import CaseStillRunning, OptionError, SubstrateClosed
from wftrio.runtime._client import Client
from wftrio.runtime._inbox import Inbox, InboxStatistics
from wftrio.runtime._run import run
from wftrio.runtime._sinks import CallbackSink, JsonlSink, MemorySink, TraceSink, as_sink
from wftrio.runtime._substrate import Substrate, open_substrate
from wftrio.runtime._types import CaseInfo, CaseResult, CaseState, SubstrateStats

__all__ = [
    "CallbackSink",
    "CaseInfo",
    "CaseResult",
    "CaseState",
    "CaseStillRunning",
    "Client",
    "Inbox",
    "InboxStatistics",
    "JsonlSink",
    "MemorySink",
    "OptionError",
    "Substrate",
    "SubstrateClosed",
    "SubstrateStats",
    "TraceSink",
    "as_sink",
    "open_substrate",
    "run",
]
