"""Tests of wftrio.testing.strategies: what terms() generates, and its argument checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.errors
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import wftrio as wf
import wftrio.testing
from wftrio.engine import ExecState, Status
from wftrio.errors import InvalidWorkflow
from wftrio.terms import (
    MI,
    After,
    Defer,
    First,
    Halt,
    Join,
    Loop,
    OnSignal,
    Region,
    Seq,
    Task,
    Term,
    Terminate,
    WaitSignal,
    Xor,
    walk,
)
from wftrio.testing import strategies as S
from wftrio.testing.strategies import InvalidArgument, terms
from wftrio.validation import check_program

FIND = settings(
    max_examples=2000,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def nodes(term: Term) -> list[Term]:
    return [node for _, node in walk(term)]


def fn_name(fn: object) -> str:
    return str(getattr(fn, "__qualname__", ""))


Pred = Callable[[Term], bool]

KINDS: dict[str, Pred] = {
    "task": lambda n: isinstance(n, Task) and not n.is_effect,
    "effect": lambda n: isinstance(n, Task) and n.is_effect,
    "seq": lambda n: isinstance(n, Seq),
    "par": lambda n: isinstance(n, Join) and n.policy == "all",
    "sync_merge": lambda n: (
        isinstance(n, Join) and n.policy == "sync_merge" and all(b.cond is None for b in n.branches)
    ),
    "choice": lambda n: isinstance(n, Join) and any(b.cond is not None for b in n.branches),
    "first(n)": lambda n: (
        isinstance(n, Join)
        and isinstance(n.policy, First)
        and 1 < n.policy.n < len(n.branches)
        and not n.policy.cancel_rest
    ),
    "first(cancel_rest)": lambda n: (
        isinstance(n, Join) and isinstance(n.policy, First) and n.policy.cancel_rest
    ),
    "first(blocking)": lambda n: (
        isinstance(n, Join) and isinstance(n.policy, First) and n.policy.blocking
    ),
    "xor": lambda n: isinstance(n, Xor),
    "xor with conditions": lambda n: (
        isinstance(n, Xor) and any(a.cond is not None for a in n.alternatives)
    ),
    "loop times": lambda n: isinstance(n, Loop) and n.times is not None,
    "loop while_": lambda n: isinstance(n, Loop) and n.while_ is not None,
    "loop until": lambda n: isinstance(n, Loop) and n.until is not None,
    "defer on_signal": lambda n: (
        isinstance(n, Defer) and any(isinstance(a, OnSignal) for a in n.alternatives)
    ),
    "defer after": lambda n: (
        isinstance(n, Defer) and any(isinstance(a, After) for a in n.alternatives)
    ),
    "wait_signal": lambda n: isinstance(n, WaitSignal) and n.store_as is None,
    "wait_signal store_as": lambda n: isinstance(n, WaitSignal) and n.store_as is not None,
    "region": lambda n: isinstance(n, Region) and n.compensate is None,
    "region compensate": lambda n: isinstance(n, Region) and n.compensate is not None,
    "mi count": lambda n: isinstance(n, MI) and isinstance(n.count, int),
    "mi items": lambda n: isinstance(n, MI) and isinstance(n.items, tuple),
    "mi computed count": lambda n: isinstance(n, MI) and callable(n.count),
    "mi computed items": lambda n: isinstance(n, MI) and callable(n.items),
    "mi join n": lambda n: isinstance(n, MI) and isinstance(n.join, int),
    "mi join none": lambda n: isinstance(n, MI) and n.join == "none",
    "mi collect": lambda n: isinstance(n, MI) and n.collect is not None,
    "mi item_key": lambda n: isinstance(n, MI) and n.item_key != "item",
    "mi cancel_rest (WCP-35)": lambda n: isinstance(n, MI) and n.cancel_rest,
    "mi until (WCP-27)": lambda n: isinstance(n, MI) and n.until is not None,
    "mi complete_on (WCP-27)": lambda n: isinstance(n, MI) and n.complete_on is not None,
    "mi more_on close_on (WCP-15)": lambda n: isinstance(n, MI) and n.more_on is not None,
    "mi join fn (WCP-36)": lambda n: isinstance(n, MI) and callable(n.join),
    "terminate": lambda n: isinstance(n, Terminate),
    "halt (WCP-33/37/38)": lambda n: isinstance(n, Halt),
    "failing task": lambda n: isinstance(n, Task) and fn_name(n.fn).startswith("fail("),
}


SWEEP = settings(
    max_examples=500,
    database=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    deadline=None,
)


def test_every_constructor_kind_is_generated() -> None:
    seen: set[str] = set()

    @SWEEP
    @given(terms(effects=True, failures=True))
    def sweep(term: Term) -> None:
        for n in nodes(term):
            seen.update(kind for kind, pred in KINDS.items() if pred(n))

    sweep()
    assert sorted(set(KINDS) - seen) == []


def test_one_term_can_mix_many_constructors() -> None:
    def kinds(t: Term) -> set[type]:
        return {type(n) for n in nodes(t)}

    found = find(terms(effects=True), lambda t: len(kinds(t)) >= 8, settings=FIND)
    assert len(kinds(found)) >= 8


@given(terms(effects=True, failures=True))
def test_generated_ids_and_names_are_unique(term: Term) -> None:
    regions = [n.scope_id for n in nodes(term) if isinstance(n, Region)]
    assert len(regions) == len(set(regions))
    assert set(regions) == term.region_ids
    names = [n.name for n in nodes(term) if isinstance(n, Task)]
    assert len(names) == len(set(names))
    collects = [n.collect for n in nodes(term) if isinstance(n, MI) and n.collect]
    assert len(collects) == len(set(collects))


@given(terms(effects=True, failures=True))
def test_generated_terms_compile(term: Term) -> None:
    prog = wf.compile(term)
    assert prog.term == term
    assert 0 <= prog.entry < len(prog.instrs)
    assert prog.instrs[-1].op == "end"
    assert len(prog.instrs) >= sum(1 for n in nodes(term) if isinstance(n, Task))


def _namespace() -> dict[str, Any]:
    ns: dict[str, Any] = {name: getattr(wf, name) for name in wf.__all__}
    ns.update({name: getattr(S, name) for name in S.__all__})
    return ns


@given(terms(effects=True, failures=True))
def test_reprs_are_constructor_calls(term: Term) -> None:
    again = eval(repr(term), _namespace())  # noqa: S307 - our own reprs
    assert isinstance(again, Term)
    assert repr(again) == repr(term)
    assert [type(n) for n in nodes(again)] == [type(n) for n in nodes(term)]


def _depth(t: Term) -> int:
    kids = t.children()
    if isinstance(t, Loop) and t.times is None:
        # seq(counter task, body): the counter's seq is the strategy's, not drawn
        assert isinstance(t.body, Seq)
        kids = t.body.terms[1:]
    return 1 + max(map(_depth, kids)) if kids else 0


BOUNDED = {
    (depth, width): terms(max_depth=depth, max_width=width, effects=True)
    for depth in range(4)
    for width in range(1, 4)
}


@given(st.data(), st.sampled_from(sorted(BOUNDED)))
def test_depth_and_width_bounds(data: st.DataObject, bounds: tuple[int, int]) -> None:
    depth, width = bounds
    term = data.draw(BOUNDED[bounds])
    assert _depth(term) <= depth
    loops = {id(n.body) for n in nodes(term) if isinstance(n, Loop) and n.times is None}
    for n in nodes(term):
        if isinstance(n, Seq | Join | Xor | Defer) and id(n) not in loops:
            assert len(n.children()) <= width


@given(terms(signals=False, timers=False, effects=False))
def test_pure_terms_need_no_outside_world(term: Term) -> None:
    for n in nodes(term):
        assert not isinstance(n, WaitSignal | Defer)
        assert not (isinstance(n, Task) and n.is_effect)
        if isinstance(n, Task):
            assert not fn_name(n.fn).startswith(("fail(", "returns_int("))


@given(terms(regions=False, terminate=False, mi=False))
def test_switched_off_constructors_are_absent(term: Term) -> None:
    assert not any(isinstance(n, Region | Terminate | MI) for n in nodes(term))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_depth": -1},
        {"max_depth": "3"},
        {"max_depth": True},
        {"max_width": 0},
        {"max_leaves": 0},
        {"max_leaves": 2.5},
        {"effects": 1},
        {"signals": None},
        {"regions": "yes"},
    ],
)
def test_bad_arguments_raise_invalid_argument(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument) as info:
        terms(**kwargs)
    err = info.value
    assert isinstance(err, TypeError)
    assert isinstance(err, wf.WftrioError)
    assert isinstance(err, hypothesis.errors.InvalidArgument)
    assert next(iter(kwargs)) in str(err)


def test_schedulers_argument_is_checked() -> None:
    with pytest.raises(InvalidArgument, match="deterministic"):
        S.schedulers(deterministic=1)  # type: ignore[arg-type]


@given(S.schedulers(deterministic=False))
def test_seeded_schedulers(sched: wf.Deterministic | wf.Seeded) -> None:
    assert isinstance(sched, wf.Seeded)


def test_schedulers_draw_both_kinds() -> None:
    assert isinstance(find(S.schedulers(), lambda s: True, settings=FIND), wf.Deterministic)
    find(S.schedulers(), lambda s: isinstance(s, wf.Seeded), settings=FIND)


def test_task_functions_are_deterministic_and_json_able() -> None:
    ctx: dict[str, Any] = {"a": 2, "log": ["x"] * 20}
    assert S.bump("a")(ctx) == {"a": 3}
    assert S.bump("b")(ctx) == {"b": 1}
    assert S.bump("a")({"a": "not an int"}) == {"a": 1}
    log = S.note("t9")(ctx)["log"]
    assert len(log) == 16
    assert log[-1] == "t9"
    assert S.set_to("c", 4)(ctx) == {"c": 4}
    assert S.noop()(ctx) is None
    with pytest.raises(S.InjectedFault, match="t1"):
        S.fail("t1")(ctx)
    assert S.count_mod("a", 2, 0)(ctx) is True
    assert S.has("log")(ctx) is True
    assert S.below("a", 2)(ctx) is False
    assert S.reached("a", 2)(ctx) is True
    assert S.count_of("a", 1)(ctx) == 1
    assert S.items_upto("a", 5)(ctx) == [0, 1]
    assert S.finished_at_least(2)([{}]) is False
    assert S.finished_at_least(2)([{}, {}]) is True
    assert S.always()(ctx) is True
    assert S.never()(ctx) is False
    assert repr(wf.task("t0", S.bump("a"))) == "task('t0', bump('a'))"
    assert fn_name(S.count_mod("a", 3, 1)) == "count_mod('a', 3, 1)"


def test_exports_are_pinned() -> None:
    assert len(S.__all__) == len(set(S.__all__))
    assert set(S.__all__) == {
        "KEYS",
        "SIGNALS",
        "InjectedFault",
        "InvalidArgument",
        "always",
        "below",
        "bump",
        "count_mod",
        "count_of",
        "effect_bump",
        "effect_note",
        "fail",
        "finished_at_least",
        "has",
        "items_upto",
        "never",
        "noop",
        "note",
        "reached",
        "returns_int",
        "scheduler_seeds",
        "schedulers",
        "set_to",
        "terms",
    }
    assert set(wftrio.testing.__all__) == {
        "DriveResult",
        "Driver",
        "EffectSuspended",
        "Environment",
        "InvalidArgument",
        "InvariantViolation",
        "check_invariants",
        "drive",
        "scheduler_seeds",
        "schedulers",
        "terms",
    }
    for mod in (S, wftrio.testing):
        for name in mod.__all__:
            assert hasattr(mod, name), name


# ---------------------------------------------------------------------------
# valid=True (the default): every term is one new_case accepts

# small terms: the runtime's validation explores up to 2,000 states, about a
# millisecond each, and a term of 24 leaves often takes them all
SMALL = {"max_depth": 3, "max_width": 3, "max_leaves": 8}


@settings(deadline=None)
@given(terms(effects=True, failures=True, **SMALL))
def test_generated_terms_pass_new_case_validation(term: Term) -> None:
    issues = check_program(wf.compile(term))  # raises InvalidWorkflow on an error
    assert all(not i.is_error for i in issues)


@settings(max_examples=15, deadline=None)
@given(terms(effects=True, **SMALL), st.data())
async def test_new_case_accepts_generated_terms(term: Term, data: st.DataObject) -> None:
    async with wf.open_substrate() as sub:
        case = await sub.new_case(term, {"a": 1})
        neighbour = await sub.new_case(wf.task("n", S.bump("a")), {"a": 1})
        assert (await sub.wait(neighbour)).ctx == {"a": 2}
        assert sub.status(case).state in set(wf.CaseState)


def _refused(term: Term) -> bool:
    try:
        check_program(wf.compile(term))
    except InvalidWorkflow:
        return True
    return False


def test_valid_false_also_draws_refused_workflows() -> None:
    found = find(terms(valid=False, **SMALL), _refused, settings=FIND)
    assert _refused(found)


def _built(node: Any, valid: bool = True) -> Term:
    return S._Builder(valid, None).build(node)[0]


T = S._Node("task", ("noop", "a"))
STOP = S._Node("terminate")


@pytest.mark.parametrize(
    ("node", "fixed", "code"),
    [
        (S._Node("join", ("first", 2, False), (STOP, T)), "join(first(1), ", "WF102"),
        (
            S._Node("mi", ("count", 2, 1, False, "item"), (STOP,)),
            "mi(terminate(), count=2)",
            "WF102",
        ),
        (
            S._Node("defer", (("signal", "s0"), ("signal", "s0"), ("signal", "s1")), (T, T, T)),
            "defer(on_signal('s0', task('t0', noop())), on_signal('s1', task('t1', noop())))",
            "WF103",
        ),
        (
            S._Node("defer", (("after", 1.0), ("after", 5.0)), (T, T)),
            "defer(after(1.0, task('t0', noop())), after(1.0, task('t1', noop())))",
            "WF104",
        ),
        (S._Node("loop", ("times", 2), (STOP,)), "loop(terminate(), times=0)", "WF204"),
        (S._Node("loop", ("until", 2), (STOP,)), "while_=below('loop0', 2)", "WF204"),
    ],
)
def test_valid_terms_avoid_what_the_validator_refuses(node: Any, fixed: str, code: str) -> None:
    bad = _built(node, valid=False)
    assert code in {i.code for i in wf.validate(bad) if i.is_error}
    good = _built(node)
    assert fixed in repr(good)
    assert not _refused(good)


# ---------------------------------------------------------------------------
# terms(tasks=[...]): workflows from the user's own tasks


def charge(ctx: Any) -> dict[str, int]:
    return {"charged": int(ctx.get("charged", 0)) + 1}


def ship(ctx: Any) -> None:
    return None


async def notify(ctx: Any) -> dict[str, bool]:
    return {"notified": True}


REFUND = wf.task("refund", lambda ctx: {"refunded": True})
USER = [charge, ship, REFUND]


def _bookkeeping(n: Term) -> bool:
    return isinstance(n, Task) and fn_name(n.fn).startswith("bump('loop")


@given(terms(tasks=USER))
def test_user_tasks_are_the_task_leaves(term: Term) -> None:
    mine = {"charge": charge, "ship": ship, "refund": REFUND.fn}
    for n in nodes(term):
        if isinstance(n, Task) and not _bookkeeping(n):
            assert mine[n.name] is n.fn


@settings(deadline=None)
@given(terms(tasks=[charge, notify, REFUND], **SMALL))
def test_user_task_terms_pass_new_case_validation(term: Term) -> None:
    check_program(wf.compile(term))


@given(terms(tasks=[charge], signals=False, timers=False, mi=False))
def test_user_task_workflows_run(term: Term) -> None:
    st_ = ExecState(wf.compile(term))
    wftrio.testing.drive(st_, check=wftrio.testing.check_invariants)
    assert st_.status in {Status.DONE, Status.FAILED}
    runs = sum(1 for e in st_.events if e.kind == "task_completed" and e.name == "charge")
    assert st_.ctx.get("charged", 0) == runs


def test_user_tasks_are_wrapped_by_name() -> None:
    wrapped = S._check_tasks([notify, lambda ctx: None, ship, ship, REFUND])
    assert wrapped is not None
    assert [t.name for t in wrapped if isinstance(t, Task)] == [
        "notify",
        "task1",
        "ship",
        "ship_3",
        "refund",
    ]
    assert [t.is_effect for t in wrapped if isinstance(t, Task)] == [True] + [False] * 4
    assert wrapped[4] is REFUND
    leaf = find(terms(tasks=[notify], max_depth=0), lambda t: True, settings=FIND)
    assert isinstance(leaf, Task)
    assert (leaf.name, leaf.fn) == ("notify", notify)


def test_user_tasks_mix_with_generated_failures() -> None:
    def failing(t: Term) -> bool:
        return any(
            isinstance(n, Task) and fn_name(n.fn).startswith(("fail(", "returns_int("))
            for n in nodes(t)
        )

    assert failing(find(terms(tasks=[ship], failures=True), failing, settings=FIND))
    with pytest.raises(hypothesis.errors.NoSuchExample):
        find(terms(tasks=[ship]), failing, settings=settings(SWEEP, max_examples=50))


@pytest.mark.parametrize(
    "tasks",
    [
        "charge",
        {"charge": charge},
        {charge},
        [],
        (),
        [charge, 42],
        [None],
        [wf.seq(wf.task("x", ship))],
        [wf.task("x", ship, on_error=wf.region("r", wf.task("y", ship)))],
    ],
    ids=repr,
)
def test_bad_tasks_raise_invalid_argument(tasks: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"tasks") as info:
        terms(tasks=tasks)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, wf.WftrioError)


def test_bad_valid_raises_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="valid"):
        terms(valid="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("max_width", [1, 2, 3])
def test_halting_branch_keeps_the_width_and_depth_bounds(max_width: int) -> None:
    # repros: a full seq with halt() appended was one wider than max_width;
    # then its last child and the halt nested in a seq were one deeper than
    # max_depth (choice(branch(c, seq(t0, seq(t1, halt())))) at depth 2)
    from wftrio.testing._sync_strategies import halting_choice

    full = wf.seq(*(wf.task(f"t{i}", lambda ctx: {}) for i in range(max_width)))
    branches, params = [(full, True)], [(None, "after")]
    term, _ok = halting_choice(branches, params, lambda c: lambda ctx: True, max_width)
    assert _depth(term) == _depth(wf.choice(full))
    for n in nodes(term):
        if isinstance(n, Seq):
            assert len(n.children()) <= max_width
    assert not any(isinstance(n, Halt) for n in nodes(term))  # full: it does not halt
    if max_width >= 2:
        short = wf.seq(*(wf.task(f"t{i}", lambda ctx: {}) for i in range(max_width - 1)))
        term, _ok = halting_choice([(short, True)], params, lambda c: lambda ctx: True, max_width)
        assert any(isinstance(n, Halt) for n in nodes(term))


def test_invalid_argument_lives_in_errors_and_wftrio_does_not_import_hypothesis() -> None:
    import subprocess
    import sys

    import wftrio.errors

    assert InvalidArgument is wftrio.errors.InvalidArgument
    assert InvalidArgument.__module__ == "wftrio.errors"
    code = "import sys, wftrio, wftrio.errors; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # built only when named (a test dependency)
