"""The algebra package: self-validating nodes, pure ids, async conditions, deep terms."""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wftrio as wf
from wftrio import governance
from wftrio import patterns as P
from wftrio.algebra import approval as algebra_approval
from wftrio.algebra.checks import is_int
from wftrio.errors import TermError, TermTypeError
from wftrio.graph import diagram, to_dot, to_mermaid
from wftrio.terms import (
    MI,
    After,
    Branch,
    Defer,
    First,
    Join,
    Loop,
    OnSignal,
    Region,
    Retry,
    Seq,
    Task,
    TaskOptions,
    Term,
    Terminate,
    WaitSignal,
    Xor,
    walk,
)
from wftrio.validation.structural import structural_issues

Ctx = Mapping[str, Any]


def nop(ctx: Ctx) -> None:
    return None


def yes(ctx: Ctx) -> bool:
    return True


def count2(ctx: Ctx) -> int:
    return 2


def two_items(ctx: Ctx) -> list[int]:
    return [1, 2]


async def async_cond(ctx: Ctx) -> bool:
    return True


async def async_effect(ctx: Ctx) -> None:
    return None


class AsyncCallable:
    async def __call__(self, ctx: Ctx) -> bool:
        return True


A = wf.task("a", nop)
B = wf.task("b", nop)
C = wf.task("c", nop)


# ---------------------------------------------------------------------------
# every node class checks its own fields, with the constructors' messages

BAD_NODES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("Task name", lambda: Task("", nop), TermTypeError, r"task: name must be a non-empty"),
    ("Task fn", lambda: Task("t", 3), TermTypeError, r"task\('t'\): fn must be callable"),  # type: ignore[arg-type]
    ("Task options", lambda: Task("t", nop, "x"), TermTypeError, r"task\('t'\): options="),  # type: ignore[arg-type]
    ("TaskOptions none", lambda: TaskOptions(), TermError, r"set at least one option"),
    ("TaskOptions timeout", lambda: TaskOptions(timeout=-1), TermTypeError, r"timeout=-1"),
    ("TaskOptions retry", lambda: TaskOptions(retry=3), TermTypeError, r"retry=3"),  # type: ignore[arg-type]
    ("TaskOptions on_error", lambda: TaskOptions(on_error=nop), TermTypeError, r"on_error"),  # type: ignore[arg-type]
    ("Seq empty", lambda: Seq(()), TermError, r"seq\(\): needs at least one term"),
    ("Seq child", lambda: Seq((A, 3)), TermTypeError, r"seq\[1\] is 3"),  # type: ignore[arg-type]
    ("Seq list", lambda: Seq([A]), TermTypeError, r"expected a tuple"),  # type: ignore[arg-type]
    ("Seq regions", lambda: Seq((wf.region("r", A), wf.region("r", B))), TermError, "duplicate"),
    ("Branch cond", lambda: Branch(3, A), TermTypeError, r"branch: cond must be callable"),  # type: ignore[arg-type]
    ("Branch term", lambda: Branch(yes, 3), TermTypeError, r"branch.term is 3"),  # type: ignore[arg-type]
    ("Branch async", lambda: Branch(async_cond, A), TermTypeError, r"pure and synchronous"),
    ("Join policy", lambda: Join("any", (Branch(None, A),)), TermError, r"policy must be"),
    ("Join policy type", lambda: Join(3, (Branch(None, A),)), TermTypeError, r"policy"),  # type: ignore[arg-type]
    ("Join empty", lambda: Join("all", ()), TermError, r"par\(\): needs at least one branch"),
    ("Join not branch", lambda: Join("all", (A,)), TermTypeError, r"par\[0\]"),  # type: ignore[arg-type]
    ("Join cond", lambda: Join("all", (Branch(yes, A),)), TermError, r"conditioned branches"),
    ("Join first(n)", lambda: Join(First(2), (Branch(None, A),)), TermError, r"n=2 exceeds"),
    ("Xor empty", lambda: Xor(()), TermError, r"xor\(\): needs at least one alternative"),
    ("Xor not branch", lambda: Xor((A,)), TermTypeError, r"xor\[0\]"),  # type: ignore[arg-type]
    ("Loop times", lambda: Loop(A, times=-3), TermTypeError, r"loop\(times=-3\)"),
    ("Loop bool", lambda: Loop(A, times=True), TermTypeError, r"loop\(times=True\)"),
    ("Loop none", lambda: Loop(A), TermError, r"exactly one of"),
    ("Loop two", lambda: Loop(A, times=1, while_=yes), TermError, r"exactly one of"),
    ("Loop body", lambda: Loop(3, times=1), TermTypeError, r"loop.body is 3"),  # type: ignore[arg-type]
    ("Loop while_", lambda: Loop(A, while_=3), TermTypeError, r"while_ must be callable"),  # type: ignore[arg-type]
    ("OnSignal name", lambda: OnSignal("", A), TermTypeError, r"on_signal: name"),
    ("OnSignal term", lambda: OnSignal("s", 3), TermTypeError, r"on_signal\('s'\).term"),  # type: ignore[arg-type]
    ("After seconds", lambda: After(-1, A), TermTypeError, r"after\(seconds=-1\)"),
    ("After nan", lambda: After(math.nan, A), TermTypeError, r"after\(seconds=nan\)"),
    ("Defer empty", lambda: Defer(()), TermError, r"defer\(\): needs at least one"),
    ("Defer alt", lambda: Defer((A,)), TermTypeError, r"defer\[0\]"),  # type: ignore[arg-type]
    ("WaitSignal name", lambda: WaitSignal(""), TermTypeError, r"wait_signal: name"),
    ("WaitSignal store_as", lambda: WaitSignal("s", ""), TermTypeError, r"store_as"),
    ("Region id", lambda: Region("", A), TermTypeError, r"region: scope_id"),
    ("Region term", lambda: Region("r", 3), TermTypeError, r"region\('r'\).term is 3"),  # type: ignore[arg-type]
    ("Region allow", lambda: Region("r", A, allow={"x"}), TermTypeError, r"allow="),  # type: ignore[arg-type]
    ("Region allow kind", lambda: Region("r", A, allow=frozenset({""})), TermTypeError, "allow"),
    ("Region nested", lambda: Region("r", wf.region("r", A)), TermError, r"nested again"),
    ("MI none", lambda: MI(A), TermError, r"exactly one of count= or items="),
    ("MI count", lambda: MI(A, count=-1), TermTypeError, r"mi\(count=-1\)"),
    ("MI items", lambda: MI(A, items=[1]), TermTypeError, r"mi\(items=\[1\]\)"),  # type: ignore[arg-type]
    ("MI join", lambda: MI(A, count=2, join=3), TermError, r"mi\(join=3\): exceeds"),
    ("MI join type", lambda: MI(A, count=2, join=0), TermError, r"mi\(join=0\)"),
    ("MI item_key", lambda: MI(A, count=1, item_key="index"), TermError, r"reserved"),
    ("MI collect", lambda: MI(A, count=1, collect=""), TermTypeError, r"collect"),
    ("MI async count", lambda: MI(A, count=async_cond), TermTypeError, r"pure and synchronous"),  # type: ignore[arg-type]
    ("First n", lambda: First(0), TermTypeError, r"first\(n=0\)"),
    ("First cancel_rest", lambda: First(1, 1), TermTypeError, r"cancel_rest"),  # type: ignore[arg-type]
    ("Retry attempts", lambda: Retry(0), TermTypeError, r"Retry\(attempts=0\)"),
]


@pytest.mark.parametrize(
    ("build", "exc", "match"), [b[1:] for b in BAD_NODES], ids=[b[0] for b in BAD_NODES]
)
def test_node_classes_check_their_fields(
    build: Callable[[], object], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        build()


def test_every_node_class_is_covered() -> None:
    classes = {Task, TaskOptions, Seq, Branch, Join, Xor, Loop, OnSignal, After, Defer}
    classes |= {WaitSignal, Region, MI, First, Retry}
    covered = {name.split()[0] for name, *_ in BAD_NODES}
    assert {c.__name__ for c in classes} <= covered
    assert Terminate() == wf.terminate()  # no fields to check


def test_an_unhashable_allow_kind_is_a_term_error() -> None:
    with pytest.raises(TermTypeError, match=r"region\('r'\): allow="):
        wf.region("r", A, allow=[["k"]])  # type: ignore[list-item]


def test_the_issue_example_is_refused() -> None:
    # issue 9: Loop(body=Seq(terms=()), times=-3, ...) compiled and ended DONE
    with pytest.raises(TermError, match=r"seq\(\): needs at least one term"):
        Loop(body=Seq(terms=()), times=-3)
    with pytest.raises(TermTypeError, match=r"loop\(times=-3\)"):
        Loop(body=Seq(terms=(A,)), times=-3)


def test_directly_built_nodes_equal_constructed_ones() -> None:
    assert Seq((A, B)) == wf.seq(A, B)
    assert Seq((A, B)).region_ids == frozenset()
    r = Seq((wf.region("x", A), Region("y", B)))
    assert r.region_ids == {"x", "y"}
    assert Join("all", (Branch(None, A), Branch(None, B))) == wf.par(A, B)
    assert Task("e", async_effect).is_effect
    assert not Task("p", nop).is_effect
    assert After(1, A).seconds == 1.0
    assert isinstance(After(1, A).seconds, float)


# ---------------------------------------------------------------------------
# issue 10 item 18: conditions are pure and synchronous


ASYNC_CONDITIONS: list[tuple[str, Callable[[Any], object]]] = [
    ("branch", lambda c: wf.branch(c, A)),
    ("xor", lambda c: wf.xor(wf.branch(c, A), B)),
    ("choice", lambda c: wf.choice(wf.branch(c, A), B)),
    ("join sync_merge", lambda c: wf.join("sync_merge", wf.branch(c, A), B)),
    ("loop while_", lambda c: wf.loop(A, while_=c)),
    ("loop until", lambda c: wf.loop(A, until=c)),
    ("mi items", lambda c: wf.mi(A, items=c)),
    ("mi count", lambda c: wf.mi(A, count=c)),
    ("structured_loop", lambda c: P.structured_loop(A, until=c)),
    ("mi_with_runtime_knowledge", lambda c: P.mi_with_runtime_knowledge(A, items=c)),
]


@pytest.mark.parametrize(
    "fn",
    [async_cond, functools.partial(async_cond), AsyncCallable()],
    ids=["async def", "partial", "async __call__"],
)
@pytest.mark.parametrize(
    "build", [b for _, b in ASYNC_CONDITIONS], ids=[n for n, _ in ASYNC_CONDITIONS]
)
def test_async_conditions_are_refused(build: Callable[[Any], object], fn: object) -> None:
    with pytest.raises(TermTypeError, match="conditions are pure and synchronous; use an effect"):
        build(fn)


def test_async_task_functions_stay_effects() -> None:
    assert wf.task("e", async_effect).is_effect
    assert wf.seq(wf.task("e", async_effect), wf.xor(wf.branch(yes, A), B))


# ---------------------------------------------------------------------------
# issue 10 item 7: retry delays never overflow


@pytest.mark.parametrize("attempt", [1, 2, 60, 1100, 10_000, 10**9, 10**30])
def test_retry_delay_is_capped_before_the_power(attempt: int) -> None:
    r = Retry(attempts=10**9, backoff=0.5, factor=2.0, max_backoff=30.0)
    d = r.delay(attempt)
    assert 0.5 <= d <= 30.0
    if attempt >= 10:
        assert d == 30.0


def test_retry_delay_without_a_cap_is_inf_when_too_large() -> None:
    r = Retry(attempts=10**9, backoff=0.5, factor=2.0)
    assert r.delay(1) == 0.5
    assert r.delay(4) == 4.0  # exact, as before
    assert r.delay(10_000) == math.inf
    assert r.delay(10**9) == math.inf
    assert Retry(5, 0.0, 10.0).delay(10**9) == 0.0  # never 0 * inf = nan
    assert Retry(5, 1.0, 1.0).delay(10**9) == 1.0
    # factor ** e alone overflows, the product does not
    assert math.isfinite(Retry(5, 1e-300, 10.0).delay(601))


def test_retry_delay_checks_its_argument() -> None:
    with pytest.raises(TermTypeError, match="attempt"):
        Retry().delay(0)
    with pytest.raises(TermTypeError, match="attempt"):
        Retry().delay(True)


# ---------------------------------------------------------------------------
# shared checks


def test_is_int_refuses_bools() -> None:
    assert is_int(0)
    assert is_int(-5)
    assert is_int(10**40)
    assert not is_int(True)
    assert not is_int(1.0)
    assert not is_int("1")
    assert not is_int(None)


def test_governance_reexports_the_algebra_approval_helpers() -> None:
    for name in ("approval_signal", "approve", "reject", "approval_functions"):
        assert getattr(governance, name) is getattr(algebra_approval, name)
        assert getattr(wf, name, getattr(algebra_approval, name)) is getattr(algebra_approval, name)


# ---------------------------------------------------------------------------
# pure ids: the same call builds the same term, in every process


CALLED = wf.Registry()  # WCP-22: a call's term holds its registry (compared by identity)
CALLED.register("a", wf.task("a", nop))


def catalogue_terms() -> dict[str, Term]:
    """One term per pattern of the catalogue and per constructor, built from scratch."""
    a, b, c = wf.task("a", nop), wf.task("b", nop), wf.task("c", nop)
    built: dict[str, Term] = {
        "sequence": P.sequence(a, b),
        "parallel_split": P.parallel_split(a, b),
        "synchronization": P.synchronization(a, b),
        "exclusive_choice": P.exclusive_choice(wf.branch(yes, a), b),
        "simple_merge": P.simple_merge(a, b),
        "multi_choice": P.multi_choice(wf.branch(yes, a), b),
        "structured_synchronizing_merge": P.structured_synchronizing_merge(a, b),
        "multi_merge": P.multi_merge(a, b, then=c),
        "discriminator": P.discriminator(a, b),
        "arbitrary_cycles": P.arbitrary_cycles(
            "s", {"s": (a, [(yes, "t"), wf.END]), "t": (b, "s")}, key="m"
        ),
        "mi_without_sync": P.mi_without_sync(a, count=2),
        "mi_with_design_time_knowledge": P.mi_with_design_time_knowledge(a, items=[1, 2]),
        "mi_with_runtime_knowledge": P.mi_with_runtime_knowledge(a, count=count2),
        "deferred_choice": P.deferred_choice(wf.on_signal("s", a), wf.after(1, b)),
        "interleaved_parallel_routing": P.interleaved_parallel_routing([a, b], c),
        "milestone": P.milestone("m", a),
        "cancel_activity": P.cancel_activity("r", a, compensate=b),
        "structured_loop": P.structured_loop(a, times=2),
        "persistent_trigger": P.persistent_trigger("s", "x"),
        "recursion": P.recursion("a", registry=CALLED, ctx_in=["x"], ctx_out={"y": "x"}),
        "cancel_region": P.cancel_region("r", wf.seq(a, b)),
        "cancel_mi_activity": P.cancel_mi_activity("r", a, count=2),
        "cancelling_discriminator": P.cancelling_discriminator(a, b),
        "blocking_discriminator": P.blocking_discriminator(a, b),
        "blocking_partial_join": P.blocking_partial_join(1, a, b),
        "thread_merge": P.thread_merge(2, a),
        "thread_split": P.thread_split(2, wf.region("tr", a)),
        "partial_join": P.partial_join(1, a, b),
        "generalised_and_join": P.generalised_and_join(wf.seq(a, wf.halt()), b),
        "local_synchronizing_merge": P.local_synchronizing_merge(wf.branch(yes, wf.halt()), b),
        "general_synchronizing_merge": P.general_synchronizing_merge(
            wf.loop(wf.xor(wf.branch(yes, wf.halt()), a), times=2), b
        ),
        "cancelling_partial_join": P.cancelling_partial_join(1, a, b),
        "static_partial_join_mi": P.static_partial_join_mi(a, 1, count=2),
        "cancelling_partial_join_mi": P.cancelling_partial_join_mi(a, 1, count=2),
        "complete_mi_activity": P.complete_mi_activity(a, count=2, complete_on="stop"),
        "mi_without_a_priori_runtime_knowledge": P.mi_without_a_priori_runtime_knowledge(
            a, more_on="add", close_on="close"
        ),
        "dynamic_partial_join_mi": P.dynamic_partial_join_mi(
            a, yes, more_on="add", close_on="close"
        ),
        "critical_section": wf.par(P.critical_section("L", a), P.critical_section("L", b)),
        "interleaved_routing": P.interleaved_routing(a, b),
        "explicit_termination": P.explicit_termination(),
        "approval": P.approval("ok", approver=["ann", "bob"], then=a),
        # every kernel constructor
        "task options": wf.task("t", async_effect, timeout=1, retry=Retry(2), on_error=a),
        "join first": wf.join(wf.first(1, cancel_rest=True), a, b),
        "xor": wf.xor(wf.branch(yes, a), b),
        "loop while": wf.loop(a, while_=yes),
        "defer": wf.defer(wf.on_signal("go", a), wf.after(2, b)),
        "wait_signal": wf.wait_signal("s", store_as="v"),
        "region allow": wf.region("g", a, allow={"k"}),
        "mi items fn": wf.mi(a, items=two_items, join="none", collect="out"),
        "terminate": wf.seq(a, wf.terminate()),
    }
    missing = {name for name, _ in P.CATALOGUE.values()} - set(built)
    assert not missing, missing
    return built


def _fingerprint(term: Term) -> str | None:
    for mod in ("wftrio.engine", "wftrio.engine.snapshot", "wftrio.engine._snapshot"):
        try:
            fp = getattr(importlib.import_module(mod), "program_fingerprint", None)
        except ImportError:
            continue
        if fp is not None:
            return str(fp(wf.compile(term)))
    return None


def describe(terms: dict[str, Term]) -> dict[str, list[str | None]]:
    # a listing shows tuples of conditions with their addresses: not part of the program
    return {
        name: [repr(t), re.sub(r" at 0x[0-9a-f]+", "", wf.compile(t).listing()), _fingerprint(t)]
        for name, t in terms.items()
    }


def test_every_pattern_and_constructor_builds_the_same_term_twice() -> None:
    first_, second = catalogue_terms(), catalogue_terms()
    for name, t in first_.items():
        u = second[name]
        assert t is not u
        assert t == u, name
        assert hash(t) == hash(u), name
        assert repr(t) == repr(u), name
        assert wf.compile(t).listing() == wf.compile(u).listing(), name
        assert _fingerprint(t) == _fingerprint(u), name


def test_critical_section_ids_come_from_the_section() -> None:
    s1 = P.critical_section("L", A)
    s2 = P.critical_section("L", A)
    assert s1 == s2
    assert s1.scope_id == s2.scope_id
    assert s1.scope_id.startswith("critical:L@")
    assert P.critical_section("L", B).scope_id != s1.scope_id
    assert P.critical_section("L", A, section="mine").scope_id == "mine"
    with pytest.raises(TermError, match="duplicate region id"):
        wf.par(s1, s2)


def test_the_same_terms_in_a_fresh_process() -> None:
    here = describe(catalogue_terms())
    script = (
        "import json, sys\n"
        "sys.path.insert(0, 'tests')\n"
        "import test_algebra as T\n"
        "print(json.dumps(T.describe(T.catalogue_terms())))\n"
    )
    for seed in ("0", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(out.stdout) == here


def test_no_process_state_in_the_algebra_sources() -> None:
    import inspect

    import wftrio.algebra as pkg

    for mod in (
        "nodes",
        "constructors",
        "policies",
        "approval",
        "patterns",
        "pattern_steps",
        "checks",
    ):
        src = inspect.getsource(importlib.import_module(f"{pkg.__name__}.{mod}"))
        for bad in ("itertools.count", "import random", "id(", "uuid", "time.time"):
            assert bad not in src, (mod, bad)


# ---------------------------------------------------------------------------
# issue 10 item 21: terms nested 10,000 deep

DEPTH = 10_000


def step(i: int) -> Term:
    return wf.task(f"s{i}", nop)


NESTINGS: dict[str, Callable[[Term, int], Term]] = {
    "seq": lambda t, i: wf.seq(t, step(i)),
    "par": lambda t, i: wf.par(t, step(i)),
    "first": lambda t, i: wf.join(wf.first(1), t, step(i)),
    "xor": lambda t, i: wf.xor(wf.branch(yes, t), step(i)),
    "region": lambda t, i: wf.region(f"r{i}", t),
    "loop": lambda t, i: wf.loop(t, times=1),
    "mi": lambda t, i: wf.mi(t, count=1),
    "defer": lambda t, i: wf.defer(wf.on_signal(f"s{i}", t)),
    "on_error": lambda t, i: wf.task(f"t{i}", nop, on_error=t),
}


def nested(kind: str, bottom: Term = A) -> Term:
    t = bottom
    grow = NESTINGS[kind]
    for i in range(DEPTH):
        t = grow(t, i)
    return t


@pytest.mark.parametrize("kind", list(NESTINGS))
def test_deep_terms_build_print_hash_compare_and_walk(kind: str) -> None:
    t = nested(kind)
    u = nested(kind)
    other = nested(kind, bottom=B)
    assert t == u
    assert hash(t) == hash(u)
    assert t != other
    assert (t == other) is False
    text = repr(t)
    assert text == repr(u) == str(t)
    assert text.count("task('a', nop)") == 1
    n = sum(1 for _ in walk(t))
    assert n > DEPTH
    assert {t: 1}[u] == 1


@pytest.mark.parametrize("kind", ["seq", "par", "first", "region", "loop", "mi", "defer"])
def test_deep_terms_pass_the_structural_checks_and_draw(kind: str) -> None:
    t = nested(kind)
    assert structural_issues(t, signals=None) == []
    d = diagram(t)
    assert len(d.nodes) + len(d.clusters) > DEPTH
    assert to_mermaid(d).startswith("flowchart TD")
    text = to_dot(d)
    assert text.startswith("digraph workflow {")
    assert len(text) < 500 * (len(d.nodes) + len(d.clusters))  # indentation is capped


def test_deep_region_ids_stay_unique() -> None:
    t = nested("region")
    assert len(t.region_ids) == DEPTH
    with pytest.raises(TermError, match="duplicate region id 'r0'"):
        wf.region("r0", t)


def test_terms_pickle_and_copy_by_rebuilding() -> None:
    import copy
    import pickle

    t = wf.seq(wf.task("a", nop, timeout=2, on_error=B), wf.region("r", C))
    for u in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t), copy.copy(t)):
        assert u == t
        assert hash(u) == hash(t)
        assert u.region_ids == {"r"}
    assert (
        repr(TaskOptions(timeout=1, on_error=A))
        == "TaskOptions(timeout=1.0, on_error=task('a', nop))"
    )


# ---------------------------------------------------------------------------
# malformed values at every constructor: a TermError naming the node, or a term

VALUES: list[object] = [
    None, 0, -1, 1, 2, True, 1.5, math.nan, math.inf, "", "x", b"x", [], (), {}, set(),
    [[1]], {"k": 1}, frozenset({"k"}), object(), nop, yes, async_cond, AsyncCallable(),
    A, wf.seq(A, B), wf.branch(yes, A), wf.on_signal("s", A), wf.after(1, A),
    wf.region("fz", A), First(1), Retry(), "all", "none", "sync_merge",
]  # fmt: skip
any_value = st.sampled_from(VALUES)

CONSTRUCTORS: dict[str, Callable[[st.DrawFn], object]] = {
    "task": lambda d: wf.task(
        d(any_value), d(any_value), timeout=d(any_value), retry=d(any_value),
        on_error=d(any_value), cost=d(any_value), kind=d(any_value),
    ),
    "seq": lambda d: wf.seq(*d(st.lists(any_value, max_size=3))),
    "par": lambda d: wf.par(*d(st.lists(any_value, max_size=3))),
    "join": lambda d: wf.join(d(any_value), *d(st.lists(any_value, max_size=3))),
    "choice": lambda d: wf.choice(*d(st.lists(any_value, max_size=3))),
    "xor": lambda d: wf.xor(*d(st.lists(any_value, max_size=3))),
    "branch": lambda d: wf.branch(d(any_value), d(any_value)),
    "first": lambda d: wf.first(d(any_value), d(any_value)),
    "loop": lambda d: wf.loop(
        d(any_value), times=d(any_value), while_=d(any_value), until=d(any_value)
    ),
    "on_signal": lambda d: wf.on_signal(d(any_value), d(any_value)),
    "after": lambda d: wf.after(d(any_value), d(any_value)),
    "defer": lambda d: wf.defer(*d(st.lists(any_value, max_size=3))),
    "wait_signal": lambda d: wf.wait_signal(d(any_value), d(any_value)),
    "region": lambda d: wf.region(
        d(any_value), d(any_value), compensate=d(any_value), allow=d(any_value)
    ),
    "mi": lambda d: wf.mi(
        d(any_value), count=d(any_value), items=d(any_value), join=d(any_value),
        collect=d(any_value), item_key=d(any_value),
    ),
    "Retry": lambda d: Retry(d(any_value), d(any_value), d(any_value), d(any_value)),
    "Seq": lambda d: Seq(d(any_value)),
    "Join": lambda d: Join(d(any_value), d(any_value)),
    "Xor": lambda d: Xor(d(any_value)),
    "Branch": lambda d: Branch(d(any_value), d(any_value)),
    "Loop": lambda d: Loop(d(any_value), d(any_value), d(any_value), d(any_value)),
    "Defer": lambda d: Defer(d(any_value)),
    "Region": lambda d: Region(d(any_value), d(any_value), d(any_value), d(any_value)),
    "MI": lambda d: MI(d(any_value), d(any_value), d(any_value), d(any_value)),
    "Task": lambda d: Task(d(any_value), d(any_value), d(any_value)),
}  # fmt: skip


@settings(max_examples=60, deadline=None)
@pytest.mark.parametrize("name", list(CONSTRUCTORS))
@given(data=st.data())
def test_malformed_arguments_raise_a_term_error(name: str, data: st.DataObject) -> None:
    try:
        built = CONSTRUCTORS[name](data.draw)
    except TermError:  # TermTypeError included; anything else fails the test
        return
    assert repr(built)
    assert built == built
    if isinstance(built, Term):
        hash(built)
        assert list(walk(built))
