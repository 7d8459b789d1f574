"""wf.validate: one test per issue code (a minimal term that triggers it and a
near-identical one that does not), the catalogue of known-sound terms, the
options, the output helpers."""

from __future__ import annotations

import importlib
import io
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import wftrio as wf
from wftrio import patterns as P
from wftrio.errors import InvalidWorkflow, ValidationOptionError
from wftrio.terms import Region, Seq
from wftrio.validation import (
    CODES,
    Issue,
    analyze,
    cli_main,
    format_issues,
    replay_witness,
    validate,
)
from wftrio.validation.explore import Space, explore
from wftrio.validation.structural import durable_name


def nop(ctx: Mapping[str, Any]) -> None:
    return None


def cond(ctx: Mapping[str, Any]) -> bool:
    return bool(ctx.get("x"))


async def call_api(ctx: Mapping[str, Any]) -> None:
    return None


class Holder:
    def method(self, ctx: Mapping[str, Any]) -> None:
        return None


def t(name: str) -> wf.Term:
    return wf.task(name, nop)


def codes(term: wf.Term, **options: Any) -> list[str]:
    return sorted(i.code for i in validate(term, **options))


def only(term: wf.Term, code: str, **options: Any) -> Issue:
    (issue,) = [i for i in validate(term, **options) if i.code == code]
    return issue


# ---------------------------------------------------------------------------
# structural checks


def test_wf101_duplicate_region_id() -> None:
    # the term classes refuse it as the constructors do, so no term carries one
    with pytest.raises(wf.TermError, match="duplicate region id 'r'"):
        Seq((wf.region("r", t("a")), wf.region("r", t("b"))))
    good = Seq((wf.region("r", t("a")), wf.region("s", t("b"))))
    assert codes(good) == []
    assert isinstance(good.terms[0], Region)


def test_wf102_first_n_threshold_unreachable() -> None:
    bad = wf.seq(wf.join(wf.first(2), t("a"), wf.seq(t("b"), wf.terminate())), t("c"))
    issue = only(bad, "WF102")
    assert issue.path == "seq[0].join"
    assert "only 1 of its 2 branches" in issue.message
    assert "seq[0].join[1].seq[1].terminate" in issue.message
    good = wf.seq(wf.join(wf.first(1), t("a"), wf.seq(t("b"), wf.terminate())), t("c"))
    assert "WF102" not in codes(good)


def test_wf102_counts_waits_on_undeclared_signals() -> None:
    term = wf.join(wf.first(2), t("a"), wf.wait_signal("late"))
    assert "WF102" in codes(term, signals=["late2"], explore=False)
    assert "WF102" not in codes(term, signals=["late"], explore=False)
    assert "WF102" not in codes(term, explore=False)  # any signal may come


def test_wf102_mi_join_threshold_unreachable() -> None:
    bad = wf.mi(wf.seq(t("a"), wf.terminate()), count=3, join=2)
    assert only(bad, "WF102").path == "mi"
    good = wf.mi(wf.seq(t("a"), wf.xor(wf.terminate(), t("b"))), count=3, join=2)
    assert "WF102" not in codes(good)


def test_wf103_defer_alternatives_on_the_same_signal() -> None:
    bad = wf.defer(wf.on_signal("go", t("a")), wf.on_signal("go", t("b")))
    issue = only(bad, "WF103")
    assert issue.severity == "error"
    assert "alternative [1]" in issue.message
    good = wf.defer(wf.on_signal("go", t("a")), wf.on_signal("stop", t("b")))
    assert codes(good) == []


def test_wf104_timer_that_never_fires_first_or_ties() -> None:
    bad = wf.defer(wf.after(5, t("a")), wf.after(10, t("b")))
    issue = only(bad, "WF104")
    assert issue.severity == "error"
    assert "after(10) can never fire first" in issue.message
    tie = wf.defer(wf.after(5, t("a")), wf.after(5, t("b")))
    assert only(tie, "WF104").severity == "warning"
    good = wf.defer(wf.after(5, t("a")), wf.on_signal("go", t("b")))
    assert codes(good) == []


def test_wf105_wait_on_undeclared_signal() -> None:
    term = wf.seq(wf.wait_signal("go"), t("a"))
    issue = only(term, "WF105", signals=["stop"], explore=False)
    assert issue.severity == "error"
    assert issue.path == "seq[0].wait_signal('go')"
    assert codes(term, signals=["go"]) == []


def test_wf106_on_signal_alternative_on_undeclared_signal() -> None:
    term = wf.defer(wf.on_signal("go", t("a")), wf.on_signal("stop", t("b")))
    issue = only(term, "WF106", signals=["go"], explore=False)
    assert issue.severity == "warning"
    assert "[1] on_signal('stop')" in issue.message
    assert codes(term, signals=["go", "stop"]) == []


def test_wf107_callables_a_durable_case_cannot_restore() -> None:
    bad = wf.seq(wf.task("a", lambda ctx: None), wf.xor(wf.branch(cond, t("b")), t("c")))
    issue = only(bad, "WF107", durable=True)
    assert issue.path == "seq[0].task('a')"
    assert "lambda" in issue.message
    good = wf.seq(wf.task("a", nop), wf.xor(wf.branch(cond, t("b")), t("c")))
    assert codes(good, durable=True) == []
    assert codes(bad) == []  # only checked with durable=True


def test_durable_name_explains_why() -> None:
    def local(ctx: Mapping[str, Any]) -> None:
        return None

    assert durable_name(nop) is None
    assert "lambda" in str(durable_name(lambda ctx: None))
    assert "closure" in str(durable_name(local))
    assert "another object" in str(durable_name(Holder().method))


def test_wf108_declared_signal_nothing_waits_for() -> None:
    term = wf.seq(wf.wait_signal("go"), t("a"))
    issue = only(term, "WF108", signals=["go", "og"])
    assert issue.severity == "warning"
    assert "['og']" in issue.message
    assert codes(term, signals=["go"]) == []


def test_wf109_mi_signal_outside_the_declared_signals() -> None:
    def two(results: Any) -> bool:
        return len(results) >= 2

    term = wf.mi(wf.seq(wf.wait_signal("go"), t("a")), count=3, until=two, complete_on="stop")
    issue = only(term, "WF109", signals=["go"])
    assert issue.severity == "warning"
    assert "complete_on='stop'" in issue.message
    assert codes(term, signals=["go", "stop"]) == []  # and "stop" counts as waited for


def test_wf110_blocking_join_in_a_loop_that_never_resets() -> None:
    stuck = wf.seq(wf.wait_signal("never"), t("b"))
    term = wf.loop(wf.join(wf.first(1, blocking=True), t("a"), stuck), times=2)
    issue = only(term, "WF110", signals=["go"], explore=False)
    assert issue.severity == "warning"
    assert issue.path == "loop[0].join"
    assert "branch [1] never completes" in issue.message
    # the same join without blocking, or outside a loop, or with every branch able to arrive
    assert "WF110" not in codes(
        wf.loop(wf.join(wf.first(1), t("a"), stuck), times=2), signals=["go"], explore=False
    )
    assert "WF110" not in codes(
        wf.join(wf.first(1, blocking=True), t("a"), stuck), signals=["go"], explore=False
    )
    fine = wf.loop(wf.join(wf.first(1, blocking=True), t("a"), stuck), times=2)
    assert "WF110" not in codes(fine, signals=["never"], explore=False)


def test_xor_alternatives_are_never_reported_unreachable() -> None:
    # a default is taken only when no condition holds, and conditions are
    # opaque: no alternative is unreachable because of where it stands
    for term in (
        wf.xor(t("a"), t("b")),
        wf.xor(t("a"), wf.branch(cond, t("b"))),
        wf.xor(wf.branch(cond, t("a")), wf.branch(cond, t("b")), t("c")),
    ):
        assert codes(term) == []


# ---------------------------------------------------------------------------
# exploration findings


def test_wf200_bound_hit() -> None:
    term = wf.par(*(wf.seq(t(f"a{i}"), wf.wait_signal(f"s{i}")) for i in range(4)))
    rep = analyze(term, max_states=5)
    assert not rep.complete
    assert rep.bounds_hit.keys() == {"max_states"}
    (issue,) = rep.issues
    assert issue.code == "WF200"
    assert "max_states=5" in issue.message
    assert analyze(term).issues == ()


def test_wf200_token_bound() -> None:
    term = wf.mi(wf.seq(t("a"), wf.wait_signal("go")), count=5)  # explored: it waits
    assert codes(term, max_tokens=3) == ["WF200"]
    assert codes(term, max_tokens=5) == []


def test_wf201_deadlock_with_witness() -> None:
    # a join waiting on a branch that can never reach it
    term = wf.seq(wf.par(wf.seq(t("a"), wf.wait_signal("never")), t("b")), t("c"))
    issue = only(term, "WF201", signals=["go"])
    assert issue.path == "seq[0].par[0].seq[1].wait_signal('never')"
    assert "waits for signal 'never'" in issue.message
    texts = [str(s) for s in issue.witness]
    assert texts[0] == "token 1: fork seq[0].par"
    assert any("wait_signal('never')" in x for x in texts)
    st = replay_witness(term, issue.witness)
    assert st.blocked_on()["signals"] == ["never"]
    assert not st.effects
    assert not st.timers
    assert "WF201" not in codes(term, signals=["never"])
    assert "WF201" not in codes(term)  # any awaited signal may come


def test_wf201_milestone_that_can_never_hold() -> None:
    # the milestone's state comes from outside as two signals; if "reached"
    # can never be sent, the guarded body is dead and a bare wait deadlocks
    term = wf.par(P.milestone("m", t("ship")), wf.seq(wf.wait_signal("m:reached"), t("c")))
    rep = analyze(term, signals=["m:expired"])
    got = {i.code for i in rep.issues}
    assert {"WF105", "WF106", "WF201", "WF205"} <= got
    dead = [i.path for i in rep.issues if i.code == "WF205"]
    assert "par[0].defer[1].task('ship')" in dead
    assert codes(term, signals=["m:expired", "m:reached"]) == []


def test_wf202_critical_sections_taken_in_opposite_order() -> None:
    def sections(first: str, second: str) -> wf.Term:
        return wf.par(
            P.critical_section(
                "A", P.critical_section("B", t("x"), section="AB.B"), section="AB.A"
            ),
            P.critical_section(
                first, P.critical_section(second, t("y"), section="2.in"), section="2.out"
            ),
        )

    issue = only(sections("B", "A"), "WF202")
    assert "lock 'A' is held by section 'AB.A'" in issue.message
    assert "lock 'B' is held by section '2.out'" in issue.message
    assert "same order" in issue.message
    st = replay_witness(sections("B", "A"), issue.witness)
    assert st.ctx == {"lock:A": "AB.A", "lock:B": "2.out"}
    assert codes(sections("A", "B")) == []


def test_wf203_retired_terminate_withdrawing_live_work_is_not_reported() -> None:
    # explicit termination (WCP-43); tests/test_validate_terminate.py has more
    racing = wf.par(wf.wait_signal("go"), wf.seq(t("a"), wf.terminate()))
    assert codes(racing) == []


def test_wf206_unreachable_terminate() -> None:
    bad = wf.seq(wf.loop(t("a"), while_=cond), wf.wait_signal("go"), wf.terminate())
    issue = only(bad, "WF206", signals={"stop"})
    assert issue.severity == "warning"
    assert issue.path == "seq[2].terminate"
    assert codes(bad) == []


def test_wf204_loop_without_exit() -> None:
    bad = wf.seq(wf.loop(wf.seq(t("a"), wf.terminate()), times=2), t("b"))
    issue = only(bad, "WF204")
    assert issue.severity == "error"
    assert issue.path == "seq[0].loop"
    assert [str(s) for s in issue.witness] == ["token 1: loop_enter seq[0].loop"]
    good = wf.seq(wf.loop(wf.seq(t("a"), wf.xor(wf.terminate(), t("c"))), times=2), t("b"))
    assert codes(good) == []


def test_wf204_until_loop_whose_body_never_completes() -> None:
    bad = wf.loop(wf.seq(t("a"), wf.wait_signal("tick")), until=cond)
    assert "WF204" in codes(bad, signals=["tock"])
    assert "WF204" not in codes(bad, signals=["tick"])


def test_wf205_dead_task() -> None:
    bad = wf.seq(t("a"), wf.terminate(), t("b"))
    issue = only(bad, "WF205")
    assert issue.path == "seq[2].task('b')"
    assert issue.severity == "warning"
    assert codes(wf.seq(t("a"), t("b"), wf.terminate())) == []


def test_compensations_are_dead_only_when_cancellation_is_explored() -> None:
    term = wf.region("r", wf.seq(t("a"), wf.wait_signal("go")), compensate=t("undo"))
    undo = next(pc for pc, ins in enumerate(wf.compile(term).instrs) if "undo" in ins.path)
    assert codes(term) == []  # nobody cancels: the compensation is not reported dead
    assert undo not in explore(term).stepped
    assert codes(term, cancel_regions=True) == []
    assert undo in explore(term, cancel_regions=True).stepped  # cancelling runs it


def test_on_error_terms_are_explored() -> None:
    term = wf.task("charge", nop, on_error=t("recover"))
    assert codes(term) == []
    failing = wf.task("charge", call_api, on_error=t("recover"))
    assert codes(failing) == []


def test_every_code_is_tested_and_documented() -> None:
    here = Path(__file__).read_text()
    doc = (Path(__file__).resolve().parent.parent / "docs" / "VALIDATION.md").read_text()
    for code in CODES:
        assert f"def test_{code.lower()}_" in here, code
        assert f"`{code}`" in doc, code


# ---------------------------------------------------------------------------
# the catalogue of known-sound terms

A, B, C = t("a"), t("b"), t("c")
# WCP-22: a workflow calling itself while cond holds (explored to max_depth: WF200)
CALLS = wf.Registry()
CALLS.register("again", wf.xor(wf.branch(cond, wf.call("again", registry=CALLS, max_depth=3)), A))


def two(ctx: Mapping[str, Any]) -> int:
    return 2


CATALOGUE_SAMPLES: dict[int, wf.Term] = {
    1: P.sequence(A, B),
    2: P.parallel_split(A, B),
    3: P.synchronization(A, B),
    4: P.exclusive_choice(wf.branch(cond, A), B),
    5: P.simple_merge(A, B),
    6: P.multi_choice(wf.branch(cond, A), wf.branch(cond, B)),
    7: P.structured_synchronizing_merge(wf.branch(cond, A), B),
    8: P.multi_merge(A, B, then=C),
    9: P.discriminator(A, wf.seq(wf.wait_signal("s"), B)),
    10: P.arbitrary_cycles("a", {"a": (A, [(cond, "b"), wf.END]), "b": (B, "a")}),
    12: P.mi_without_sync(A, count=3),
    13: P.mi_with_design_time_knowledge(A, count=3),
    14: P.mi_with_runtime_knowledge(A, count=two),
    15: P.mi_without_a_priori_runtime_knowledge(A, more_on="add", close_on="close"),
    16: P.deferred_choice(wf.on_signal("x", A), wf.after(5, B)),
    17: P.interleaved_parallel_routing([A, B], C),
    18: wf.par(P.milestone("m", A), t("other")),
    19: wf.seq(P.cancel_activity("act", wf.task("call", call_api)), B),
    21: P.structured_loop(A, until=cond),
    22: P.recursion("again", registry=CALLS, max_depth=3),
    24: P.persistent_trigger("go"),
    25: P.cancel_region("r", wf.seq(A, wf.wait_signal("x"))),
    26: P.cancel_mi_activity("m", wf.wait_signal("x"), count=2),
    27: P.complete_mi_activity(wf.wait_signal("x"), count=3, until=cond, complete_on="stop"),
    28: wf.loop(P.blocking_discriminator(A, wf.seq(wf.wait_signal("s"), B)), times=2),
    29: P.cancelling_discriminator(A, wf.wait_signal("x")),
    30: P.partial_join(2, A, B, C),
    31: wf.loop(P.blocking_partial_join(2, A, B, wf.wait_signal("x")), until=cond),
    32: P.cancelling_partial_join(2, A, B, wf.wait_signal("x")),
    33: wf.seq(P.generalised_and_join(wf.seq(A, wf.halt()), B), C),
    34: P.static_partial_join_mi(A, 2, count=3),
    35: P.cancelling_partial_join_mi(A, 2, count=3),
    36: P.dynamic_partial_join_mi(A, cond, more_on="add", close_on="close"),
    37: wf.seq(P.local_synchronizing_merge(wf.branch(lambda c: True, wf.halt()), B), C),
    38: wf.seq(
        P.general_synchronizing_merge(
            wf.loop(wf.seq(A, wf.xor(wf.branch(lambda c: True, wf.halt()), B)), times=2),
            wf.wait_signal("s"),
        ),
        C,
    ),
    39: wf.par(P.critical_section("L", A), P.critical_section("L", B)),
    40: P.interleaved_routing(A, B, C),
    41: wf.seq(P.thread_merge(2, wf.seq(A, wf.wait_signal("s"))), B),
    42: P.thread_split(3, wf.region("t", A)),
    43: wf.par(A, P.explicit_termination()),
}
DOCUMENTED_WARNINGS: dict[int, set[str]] = {22: {"WF200"}}


def test_catalogue_samples_cover_every_pattern() -> None:
    assert set(CATALOGUE_SAMPLES) == set(P.CATALOGUE)


@pytest.mark.parametrize("wcp", sorted(CATALOGUE_SAMPLES), ids=lambda n: f"WCP-{n}")
def test_derived_patterns_validate_clean(wcp: int) -> None:
    rep = analyze(CATALOGUE_SAMPLES[wcp])
    assert rep.complete
    assert {i.code for i in rep.issues} == DOCUMENTED_WARNINGS.get(wcp, set())
    assert rep.ok


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example_workflows() -> Iterator[tuple[str, wf.Term]]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        for path in sorted(EXAMPLES.glob("[!_]*.py")):
            mod = importlib.import_module(path.stem)
            term = getattr(mod, "WORKFLOW", None)
            if isinstance(term, wf.Term):
                yield path.stem, term
    finally:
        sys.path.remove(str(EXAMPLES))


def test_example_workflows_validate_clean() -> None:
    found = dict(_example_workflows())
    assert {"vending_machine", "discriminator", "multiple_instances"} <= set(found)
    for name, term in found.items():
        rep = analyze(term)
        assert rep.complete, name
        assert rep.issues == (), (name, format_issues(rep.issues))


# ---------------------------------------------------------------------------
# options, output, command line


def test_bad_input_gets_typed_errors() -> None:
    with pytest.raises(wf.TermTypeError):
        validate("seq")  # type: ignore[arg-type]
    with pytest.raises(ValidationOptionError, match="unknown option 'max_state'"):
        validate(A, max_state=3)
    for bad in ({"max_states": 0}, {"reduce": 1}, {"signals": "go"}, {"signals": [""]}):
        with pytest.raises(ValidationOptionError):
            validate(A, **bad)
    assert issubclass(ValidationOptionError, TypeError)
    assert issubclass(ValidationOptionError, wf.WftrioError)


def test_structural_only() -> None:
    rep = analyze(wf.seq(t("a"), wf.terminate(), t("b")), explore=False)
    assert rep.issues == ()
    assert rep.states == 0


def test_format_issues_prints_one_block_per_issue_with_its_witness() -> None:
    term = wf.par(wf.wait_signal("never"), t("b"))
    text = format_issues(validate(term, signals=["go"]))
    blocks = text.split("\n\n")
    assert blocks[0].startswith("WF105 error at par[0].wait_signal('never')")
    deadlock = next(b for b in blocks if b.startswith("WF201"))
    assert "  witness:\n    1. token 1: fork par" in deadlock
    assert format_issues([]) == "no issues"


BAD = wf.par(
    P.critical_section("A", P.critical_section("B", t("x"))),
    P.critical_section("B", P.critical_section("A", t("y"))),
)
GOOD = wf.seq(t("a"), t("b"))


def test_cli_main_prints_issues_and_fails_on_errors() -> None:
    out = io.StringIO()
    assert cli_main(BAD, out=out) == 1
    text = out.getvalue()
    assert "WF202 error" in text
    assert "witness:" in text
    assert "1 error(s), 0 warning(s)" in text
    out = io.StringIO()
    assert cli_main(f"{__name__}:GOOD", out=out) == 0
    assert out.getvalue().startswith("no issues")
    with pytest.raises(ValidationOptionError):
        cli_main("no_colon")
    with pytest.raises(wf.TermTypeError):
        cli_main(f"{__name__}:nop")


def test_issue_values() -> None:
    issue = Issue("error", "WF201", "stuck", "par", ())
    assert issue.is_error
    assert str(issue) == "WF201 error at par: stuck"
    assert issue == Issue("error", "WF201", "stuck", "par")
    assert InvalidWorkflow([issue]).issues == (issue,)
    assert "WF201 error at par" in str(InvalidWorkflow([issue]))


def test_computed_mi_counts_are_explored_up_to_max_instances() -> None:
    term = wf.mi(wf.wait_signal("go"), count=two)
    space = Space(wf.compile(term), 2, None)
    st = space.initial()
    assert st.current is not None
    outcomes = space.token_moves(st, st.current)
    assert [m.answers for m, _ in outcomes] == [(0,), (1,), (2,)]
    assert [len(c.tokens) for _, c in outcomes] == [1, 1, 2]  # 0 instances: continue
    # a join=n threshold is explored with n instances even above max_instances
    assert analyze(wf.mi(wf.wait_signal("go"), count=two, join=3), max_instances=2).ok
