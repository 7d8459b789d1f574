"""What the validator reports: issues, their codes, and witness steps.

An :class:`Issue` is a value (frozen attrs): a severity, a stable code, a
message saying what to change, the node path of the offending node, and for
findings of the state exploration a *witness*: the sequence of
:class:`Step` s that leads from the start of a case to the state the issue
is about.  A witness can be replayed on the reducer
(:func:`wftrio.validation.witness.replay_witness`).
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

import attrs

__all__ = ["CODES", "ERROR", "WARNING", "Issue", "Severity", "Step"]

Severity: TypeAlias = Literal["error", "warning"]

ERROR: Final = "error"
WARNING: Final = "warning"

CODES: Final[dict[str, tuple[Severity, str]]] = {
    # structural checks (always run, linear in the term)
    "WF101": (ERROR, "duplicate region id"),
    "WF102": (ERROR, "join or mi threshold that can never be reached"),
    "WF103": (ERROR, "defer alternative on a signal an earlier alternative already takes"),
    "WF104": (ERROR, "defer timer that can never fire first (or ties with another)"),
    "WF105": (ERROR, "wait_signal on a signal outside the declared signals="),
    "WF106": (WARNING, "on_signal alternative on a signal outside the declared signals="),
    "WF107": (ERROR, "callable a durable case cannot re-resolve (lambda, closure, ...)"),
    "WF108": (WARNING, "declared signal that no node waits for"),
    "WF109": (WARNING, "mi signal option (more_on, close_on, complete_on) outside signals="),
    "WF110": (WARNING, "blocking join in a loop with a branch that never completes"),
    # bounded state exploration
    "WF200": (WARNING, "a bound was hit: sound only up to the bound"),
    "WF201": (ERROR, "deadlock"),
    "WF202": (ERROR, "no option to complete"),
    "WF203": (WARNING, "retired: terminate() withdrawing live work is WCP-43, not reported"),
    "WF204": (ERROR, "loop whose exit is never reached"),
    "WF205": (WARNING, "dead task: never runs on any path"),
    "WF206": (WARNING, "terminate() that runs on no path"),
}
"""Every issue code: ``code -> (default severity, short title)``.

WF1xx come from the structural checks, WF2xx from the bounded state
exploration.  Codes are stable: a code is never reused for another finding.
WF104 is an error when the timer can never fire first and a warning when it
ties with another timer of the same ``defer`` (see docs/VALIDATION.md).
"""


@attrs.frozen
class Step:
    """One step of a witness path.

    Attributes:
        kind: ``"run"`` (a token takes one reduction step), ``"signal"`` (a
            signal arrives), ``"effect"`` / ``"effect_failed"`` (an effect
            completes / fails), ``"timer"`` (a timer fires) or
            ``"cancel_region"``.
        target: the token id (``run``), signal name, effect id, timer id or
            region id the step acts on.  Ids are those of a case replaying
            the witness from its start.
        answers: for ``run``: the outcomes the step's conditions and
            scheduler picks took, in the order they were asked.
        text: a readable description, e.g. ``"token 3 runs
            seq[1].par[0].task('pack')"``.
    """

    kind: str
    target: int | str
    answers: tuple[int, ...] = ()
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.kind} {self.target}"


@attrs.frozen
class Issue:
    """One finding of :func:`wftrio.validation.validate`.

    Attributes:
        severity: ``"error"`` (the workflow is wrong; ``new_case`` refuses
            it) or ``"warning"`` (worth knowing; the workflow runs).
        code: the stable issue code, e.g. ``"WF201"`` (see :data:`CODES`).
        message: what is wrong and what to change.
        path: the node path of the offending node, e.g.
            ``"seq[1].par[0].task('pack')"`` (empty when the issue is about
            the whole workflow).
        witness: for exploration findings, the steps from the start of a
            case to the state the issue is about (empty otherwise).
    """

    severity: Severity
    code: str
    message: str
    path: str = ""
    witness: tuple[Step, ...] = ()

    @property
    def is_error(self) -> bool:
        """Whether the issue is an error (``new_case`` refuses the workflow)."""
        return self.severity == ERROR

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.code} {self.severity}{where}: {self.message}"
