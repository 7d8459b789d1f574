"""wftrio's typed errors.  Everything wftrio raises on purpose is a WftrioError.

* Construction mistakes (:class:`TermError`) also subclass ``ValueError`` or
  ``TypeError`` and name the offending node and argument.
* API misuse on a substrate (:class:`UnknownCase`, :class:`DuplicateCase`,
  :class:`CaseClosed`) subclasses ``LookupError`` / ``ValueError`` /
  ``RuntimeError``.
* A case that failed or was cancelled is a *result*: :class:`CaseFailed`
  (with the cause) and :class:`CaseCancelled` are raised by ``wait``.
"""

from __future__ import annotations

from typing import Any

from wftrio.engine import EngineError, RecordedError, TaskError
from wftrio.scheduling import ReplayDivergence, SchedulerError
from wftrio.terms import TermError, TermTypeError, WftrioError

__all__ = [
    "CaseCancelled",
    "CaseClosed",
    "CaseFailed",
    "DuplicateCase",
    "EngineError",
    "RecordedError",
    "ReplayDivergence",
    "SchedulerError",
    "TaskError",
    "TermError",
    "TermTypeError",
    "UnknownCase",
    "WftrioError",
]


class UnknownCase(WftrioError, LookupError):
    """No case with this id is known to the substrate (never started, or forgotten)."""


class DuplicateCase(WftrioError, ValueError):
    """A case with this id already exists on the substrate."""


class CaseClosed(WftrioError, RuntimeError):
    """The case has finished; it accepts no more signals or requests."""


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
