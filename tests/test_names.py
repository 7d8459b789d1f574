"""Names entering the algebra: non-empty strings of valid Unicode text.

A lone surrogate (``"\\ud800"``, what a bad decode leaves) cannot be encoded
as UTF-8, so a trace, snapshot or store could not hold it: every place a
name enters the algebra refuses it with a ``TermTypeError`` naming the
argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

import wftrio as wf
from wftrio import patterns as P
from wftrio.errors import TermTypeError


def f(ctx: Mapping[str, Any]) -> None:
    return None


T = wf.task("t", f)
BAD = "pay\ud800"  # a lone high surrogate

ENTRIES: dict[str, tuple[Callable[[str], object], str]] = {
    "task.name": (lambda n: wf.task(n, f), "name"),
    "task.kind": (lambda n: wf.task("t", f, kind=n), "kind"),
    "on_signal.name": (lambda n: wf.on_signal(n, T), "name"),
    "wait_signal.name": (lambda n: wf.wait_signal(n), "name"),
    "wait_signal.store_as": (lambda n: wf.wait_signal("s", n), "store_as"),
    "region.scope_id": (lambda n: wf.region(n, T), "scope_id"),
    "region.allow": (lambda n: wf.region("r", T, allow=[n]), "allow"),
    "mi.collect": (lambda n: wf.mi(T, count=1, collect=n), "collect"),
    "mi.item_key": (lambda n: wf.mi(T, count=1, item_key=n), "item_key"),
    "approval.name": (lambda n: P.approval(n), "name"),
    "approval.approver": (lambda n: P.approval("a", approver=n), "approver"),
    "approval.approvers": (lambda n: P.approval("a", approver=["ann", n]), "approver"),
    "approval_signal": (lambda n: wf.approval_signal(n), "name"),
    "approve.by": (lambda n: wf.approve(n), "by"),
    "reject.by": (lambda n: wf.reject(n), "by"),
    "milestone.name": (lambda n: P.milestone(n, T), "name"),
    "critical_section.lock": (lambda n: P.critical_section(n, T), "lock"),
    "critical_section.section": (lambda n: P.critical_section("l", T, section=n), "section"),
    "interleaved.key": (lambda n: P.interleaved_parallel_routing(T, key=n), "key"),
    "persistent_trigger.name": (lambda n: P.persistent_trigger(n), "name"),
    "cancel_activity.scope_id": (lambda n: P.cancel_activity(n, T), "scope_id"),
}


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("bad", [BAD, "\udfff", "a\udc80b"])
def test_a_lone_surrogate_is_no_name(entry: str, bad: str) -> None:
    make, arg = ENTRIES[entry]
    with pytest.raises(TermTypeError, match=arg) as info:
        make(bad)
    assert "surrogate" in str(info.value) or "names" in str(info.value)


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_non_ascii_names_are_names(entry: str) -> None:
    make, _ = ENTRIES[entry]
    make("ünï-😀")  # no error


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_the_empty_string_is_no_name(entry: str) -> None:
    make, arg = ENTRIES[entry]
    with pytest.raises(TermTypeError, match=arg):
        make("")


def test_approval_signal_refuses_what_approval_refuses() -> None:
    assert wf.approval_signal("ship") == "approval:ship"
    for bad in (None, 5, b"ship", ["ship"]):
        with pytest.raises(TermTypeError, match="approval_signal: name"):
            wf.approval_signal(bad)  # type: ignore[arg-type]


def test_approvers_must_be_hashable_names() -> None:
    with pytest.raises(TermTypeError, match="approver"):
        P.approval("a", approver=[["ann"]])  # type: ignore[list-item]
    with pytest.raises(TermTypeError, match="approver"):
        P.approval("a", approver=[])
    assert P.approval("a", approver=("ann", "bob")) == P.approval("a", approver={"bob", "ann"})
