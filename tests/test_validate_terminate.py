"""Explicit termination and the validator (issue 10, item 25).

``terminate()`` withdrawing live work is WCP-43's definition, so it is never a
finding (the retired WF203); what stays is a ``terminate()`` that runs on no
path (WF206).  docs/VALIDATION.md states the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings

import wftrio as wf
from wftrio import patterns as P
from wftrio.testing.strategies import terms
from wftrio.validation import analyze, validate


def nop(ctx: Mapping[str, Any]) -> None:
    return None


def cond(ctx: Mapping[str, Any]) -> bool:
    return bool(ctx.get("x"))


async def call_api(ctx: Mapping[str, Any]) -> None:
    return None


def t(name: str) -> wf.Term:
    return wf.task(name, nop)


def codes(term: wf.Term, **options: Any) -> list[str]:
    return sorted(i.code for i in validate(term, **options))


STOP = wf.seq(t("work"), wf.terminate())

WITHDRAWING = {
    "par": wf.par(wf.wait_signal("go"), STOP),
    "par with an effect in flight": wf.par(wf.task("call", call_api), STOP),
    "discriminator": wf.join(wf.first(1), STOP, wf.seq(t("slow"), wf.wait_signal("go"))),
    "discriminator, late branch terminates": wf.seq(
        wf.join(wf.first(1), t("fast"), wf.seq(wf.wait_signal("go"), wf.terminate())), t("next")
    ),
    "cancelling discriminator": wf.join(wf.first(1, cancel_rest=True), STOP, wf.wait_signal("go")),
    "partial join": wf.join(wf.first(2), t("a"), STOP, wf.wait_signal("go")),
    "loop": wf.loop(wf.seq(t("a"), wf.xor(wf.branch(cond, wf.terminate()), t("b"))), times=3),
    "loop with a concurrent branch": wf.loop(
        wf.par(wf.wait_signal("go"), wf.xor(wf.branch(cond, wf.terminate()), t("b"))),
        until=cond,
    ),
    "mi instance": wf.mi(wf.xor(wf.branch(cond, wf.terminate()), t("b")), count=3),
    "mi join none": wf.seq(wf.mi(wf.wait_signal("go"), count=2, join="none"), STOP),
    "defer": wf.par(wf.defer(wf.on_signal("stop", wf.terminate()), wf.after(5, t("b"))), t("c")),
    "region with compensation": wf.par(
        wf.region("r", wf.seq(t("a"), wf.wait_signal("go")), compensate=t("undo")), STOP
    ),
    "WCP-43 pattern": wf.par(t("a"), P.explicit_termination()),
}


@pytest.mark.parametrize("name", sorted(WITHDRAWING))
def test_terminate_withdrawing_live_work_is_no_finding(name: str) -> None:
    term = WITHDRAWING[name]
    for reduce in (True, False):
        rep = analyze(term, reduce=reduce, cancel_regions=not reduce)
        assert rep.complete
        assert list(rep.issues) == [], (reduce, rep.issues)


def test_terminate_in_a_seq_with_nothing_live_is_no_finding() -> None:
    assert codes(wf.seq(wf.par(wf.wait_signal("go"), t("a")), wf.terminate())) == []


@settings(max_examples=30)
@given(terms(max_depth=3, max_leaves=10, valid=False))
def test_generated_terms_never_get_the_retired_code(term: wf.Term) -> None:
    assert "WF203" not in codes(term, max_states=500)


# ---------------------------------------------------------------------------
# what stays a finding: a terminate() that runs on no path (WF206)


def test_terminate_after_a_wait_that_never_ends() -> None:
    term = wf.seq(wf.wait_signal("approve"), wf.terminate())
    (issue,) = [i for i in validate(term, signals={"reject"}) if i.code == "WF206"]
    assert issue.severity == "warning"
    assert issue.path == "seq[1].terminate"
    assert "runs on no path" in issue.message
    assert "WF206" not in codes(term)  # "approve" may still come
    assert "WF206" not in codes(term, signals={"approve"})


def test_terminate_after_a_loop_without_exit() -> None:
    term = wf.seq(wf.loop(wf.seq(t("a"), wf.terminate()), times=2), t("b"), wf.terminate())
    issues = validate(term)
    assert sorted(i.code for i in issues) == ["WF204", "WF205", "WF206"]
    (issue,) = [i for i in issues if i.code == "WF206"]
    assert issue.path == "seq[2].terminate"


def test_terminate_in_an_alternative_that_never_wins() -> None:
    term = wf.defer(wf.after(1, t("a")), wf.after(5, wf.terminate()))
    assert codes(term) == ["WF104", "WF206"]


def test_terminate_in_a_compensation_counts_only_with_cancellations() -> None:
    term = wf.seq(wf.region("r", wf.wait_signal("go"), compensate=wf.terminate()), t("b"))
    assert codes(term) == []
    assert codes(term, cancel_regions=True) == []
    # unreachable even with cancellations explored: after a wait that never ends
    dead = wf.seq(
        wf.wait_signal("never"), wf.region("r", wf.wait_signal("go"), compensate=wf.terminate())
    )
    assert "WF206" not in codes(dead, signals={"go"})
    assert "WF206" in codes(dead, signals={"go"}, cancel_regions=True)


def test_unreachable_terminate_is_not_claimed_when_a_bound_was_hit() -> None:
    big = wf.seq(
        wf.par(*(wf.seq(t(f"a{i}"), wf.wait_signal(f"s{i}")) for i in range(6))),
        wf.wait_signal("never"),
        wf.terminate(),
    )
    declared = {f"s{i}" for i in range(6)}
    assert "WF206" in codes(big, signals=declared)
    rep = analyze(big, signals=declared, max_states=4)
    assert not rep.complete
    assert "WF206" not in {i.code for i in rep.issues}


def test_reachable_terminate_is_not_reported() -> None:
    term = wf.seq(wf.wait_signal("approve"), wf.terminate())
    assert codes(term, signals={"approve"}) == []
