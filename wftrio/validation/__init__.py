"""Validation: :func:`validate` and the machinery behind it.

The public surface is this package (``wftrio.validation``); ``wf.validate``
is :func:`validate`.  The modules:

* :mod:`~wftrio.validation._api`: :func:`validate`, :func:`analyze`,
  :func:`check_program` (the runtime's check at ``new_case``), the CLI helper;

* :mod:`~wftrio.validation.issues`: :class:`Issue`, :class:`Step`, the codes;
* :mod:`~wftrio.validation.structural`: WF1xx checks on the term;
* :mod:`~wftrio.validation.abstract`: the data abstraction (a relinked
  Program whose user callables ask an oracle);
* :mod:`~wftrio.validation.clone`: copying an execution state;
* :mod:`~wftrio.validation.statekey`: canonical state keys;
* :mod:`~wftrio.validation.explore`: bounded exploration on the real reducer;
* :mod:`~wftrio.validation.findings`: WF2xx findings from the state graph.
"""

from __future__ import annotations

from wftrio.validation._api import (
    CODES,
    ERROR,
    WARNING,
    InvalidWorkflow,
    Issue,
    Report,
    Step,
    ValidationOptionError,
    analyze,
    check_program,
    cli_main,
    format_issues,
    replay_witness,
    validate,
    witness_log,
)

__all__ = [
    "CODES",
    "ERROR",
    "WARNING",
    "InvalidWorkflow",
    "Issue",
    "Report",
    "Step",
    "ValidationOptionError",
    "analyze",
    "check_program",
    "cli_main",
    "format_issues",
    "replay_witness",
    "validate",
    "witness_log",
]
