"""Approval points: the signal they wait for, its payloads, and their decision steps.

:func:`wftrio.patterns.approval` builds the term; this module holds what
that term and its callers need: :func:`approval_signal` names the signal,
:func:`approve` / :func:`reject` build its payload, and
:func:`approval_functions` returns the task and conditions that read the
decision.  ``wftrio.governance`` re-exports these names.

The decision steps are frozen values (equal when built for the same point),
so two identical ``approval(...)`` calls build equal terms.  They read a
signal's payload, so a validator treats them like user code (both outcomes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from wftrio.algebra.checks import check_name, name_problem
from wftrio.errors import ApprovalRejected, TermTypeError

__all__ = [
    "approval_functions",
    "approval_signal",
    "approve",
    "reject",
]


def approval_signal(name: str) -> str:
    """The signal the :func:`~wftrio.patterns.approval` named ``name`` waits for.

    It is ``"approval:<name>"``; its payload is :func:`approve` or :func:`reject`.

    Raises:
        TermTypeError: ``name`` is not a name (a non-empty string of valid
            Unicode text), as ``approval(name)`` would refuse it.
    """
    return _key(check_name("approval_signal", "name", name))


def _key(name: str) -> str:
    """The signal (and ctx key) of the approval point ``name`` (already checked)."""
    return f"approval:{name}"


def _decision(decision: str, by: str, note: str | None) -> dict[str, Any]:
    problem = name_problem(by)
    if problem is not None:
        raise TermTypeError(f"{decision}(by={by!r}): by must name who decides: it {problem}")
    if note is not None and not isinstance(note, str):
        raise TermTypeError(f"{decision}(note={note!r}): note must be a str or None")
    return {"decision": decision, "by": by, "note": note}


def approve(by: str, note: str | None = None) -> dict[str, Any]:
    """The payload of an approving decision for :func:`wftrio.patterns.approval`.

    Send it as ``await sub.signal(case_id, approval_signal(name), approve("ann"))``.

    Raises:
        TermTypeError: ``by`` is not a non-empty string or ``note`` not a string.
    """
    return _decision("approve", by, note)


def reject(by: str, note: str | None = None) -> dict[str, Any]:
    """The payload of a rejecting decision (see :func:`approve`).

    Raises:
        TermTypeError: ``by`` is not a non-empty string or ``note`` not a string.
    """
    return _decision("reject", by, note)


_DECIDED = ("approved", "rejected")


@attrs.frozen(repr=False)
class _Decide:
    """Turn the decision payload at ``ctx["approval:<name>"]`` into a decision record."""

    name: str
    allowed: frozenset[str] | None

    def __call__(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        key = _key(self.name)
        p = ctx.get(key)
        by = p.get("by") if isinstance(p, Mapping) else None
        note = p.get("note") if isinstance(p, Mapping) else None
        decision = p.get("decision") if isinstance(p, Mapping) else None
        record: dict[str, Any] = {
            "decision": "ignored",
            "by": by if isinstance(by, str) else None,
            "note": note if isinstance(note, str) else None,
        }
        if decision not in ("approve", "reject") or not isinstance(by, str) or not by:
            record["reason"] = "malformed decision: send wf.approve(by) or wf.reject(by)"
        elif self.allowed is not None and by not in self.allowed:
            record["reason"] = f"{by!r} is not an approver of {self.name!r}"
        else:
            record["decision"] = "approved" if decision == "approve" else "rejected"
        return {key: record}

    def __repr__(self) -> str:
        return f"{_key(self.name)}:decide"


@attrs.frozen(repr=False)
class _Decided:
    """Whether the decision record holds a valid decision."""

    name: str

    def __call__(self, ctx: Mapping[str, Any]) -> bool:
        r = ctx.get(_key(self.name))
        return isinstance(r, Mapping) and r.get("decision") in _DECIDED

    def __repr__(self) -> str:
        return f"{_key(self.name)}:decided"


@attrs.frozen(repr=False)
class _Approved:
    """Whether the decision record is an approval."""

    name: str

    def __call__(self, ctx: Mapping[str, Any]) -> bool:
        r = ctx.get(_key(self.name))
        return isinstance(r, Mapping) and r.get("decision") == "approved"

    def __repr__(self) -> str:
        return f"{_key(self.name)}:approved"


@attrs.frozen(repr=False)
class _Fail:
    """Raise :class:`ApprovalRejected` naming who rejected."""

    name: str

    def __call__(self, ctx: Mapping[str, Any]) -> None:
        r = ctx.get(_key(self.name))
        r = r if isinstance(r, Mapping) else {}
        raise ApprovalRejected(self.name, r.get("by"), r.get("note"))

    def __repr__(self) -> str:
        return f"{_key(self.name)}:fail"


def approval_functions(
    name: str, allowed: frozenset[str] | None
) -> tuple[
    Callable[[Mapping[str, Any]], dict[str, Any]],
    Callable[[Mapping[str, Any]], bool],
    Callable[[Mapping[str, Any]], bool],
    Callable[[Mapping[str, Any]], None],
]:
    """The task and condition functions of :func:`wftrio.patterns.approval` ``name``.

    Returns ``(decide, decided, approved, fail)``: ``decide`` turns the
    decision payload stored at ``ctx["approval:<name>"]`` into the decision
    record (``"approved"``, ``"rejected"`` or ``"ignored"`` with a
    ``reason``); ``decided`` / ``approved`` test that record; ``fail``
    raises :class:`ApprovalRejected`.  Each is a frozen value: the same
    arguments give equal functions.
    """
    return _Decide(name, allowed), _Decided(name), _Approved(name), _Fail(name)
