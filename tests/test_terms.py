"""The pattern algebra: construction errors, immutability, equality, repr, walk."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import pytest

import wftrio as wf
from wftrio.errors import TermError, TermTypeError, WftrioError
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
    Seq,
    Task,
    Terminate,
    WaitSignal,
    Xor,
    walk,
)


def f(ctx: Mapping[str, Any]) -> None:
    return None


def g(ctx: Mapping[str, Any]) -> None:
    return None


def yes(ctx: Mapping[str, Any]) -> bool:
    return True


def no(ctx: Mapping[str, Any]) -> bool:
    return False


A = wf.task("a", f)
B = wf.task("b", f)
C = wf.task("c", f)


def raises(exc: type[Exception], *fragments: str) -> Any:
    """pytest.raises matching every fragment of the message literally, in order."""
    return pytest.raises(exc, match=".*".join(re.escape(x) for x in fragments))


# ---------------------------------------------------------------------------
# errors


class TestErrorHierarchy:
    def test_term_error_is_value_error_and_root(self) -> None:
        assert issubclass(TermError, ValueError)
        assert issubclass(TermError, WftrioError)
        assert issubclass(TermTypeError, TypeError)
        assert issubclass(TermTypeError, TermError)
        assert wf.TermError is TermError

    def test_errors_reexported(self) -> None:
        assert wf.TermTypeError is TermTypeError


class TestTaskErrors:
    @pytest.mark.parametrize("name", ["", 3, None, b"x"])
    def test_bad_name(self, name: object) -> None:
        with raises(TermTypeError, "task: name must be a non-empty string", repr(name)):
            wf.task(name, f)  # type: ignore[arg-type]

    @pytest.mark.parametrize("fn", [None, 3, "f"])
    def test_non_callable_fn(self, fn: object) -> None:
        with raises(TermTypeError, "task('pack'): fn must be callable", repr(fn)):
            wf.task("pack", fn)  # type: ignore[arg-type]

    def test_async_fn_is_effect(self) -> None:
        async def eff(ctx: Mapping[str, Any]) -> None:
            return None

        assert wf.task("e", eff).is_effect
        assert not wf.task("p", f).is_effect


class TestSeqErrors:
    def test_empty(self) -> None:
        with raises(TermError, "seq(): needs at least one term"):
            wf.seq()

    @pytest.mark.parametrize("bad", [3, "task", None, f])
    def test_non_term_child_named_by_index(self, bad: object) -> None:
        with raises(TermTypeError, "seq[1] is", repr(bad), "expected a term"):
            wf.seq(A, bad)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "bad",
        [wf.branch(yes, A), wf.on_signal("s", A), wf.after(1, A)],
        ids=["branch", "on_signal", "after"],
    )
    def test_guards_are_not_terms_here(self, bad: wf.Term) -> None:
        with raises(TermTypeError, "seq[0] is"):
            wf.seq(bad, B)


class TestJoinErrors:
    def test_first_over_too_many_branches(self) -> None:
        with raises(TermError, "join(first(4), ...)", "n=4 exceeds the 3 branches"):
            wf.join(wf.first(4), A, B, C)

    def test_first_n_equal_to_branches_ok(self) -> None:
        assert wf.join(wf.first(3), A, B, C).policy == First(3)

    @pytest.mark.parametrize("n", [0, -1, True, 1.5, "1"])
    def test_first_bad_n(self, n: object) -> None:
        with raises(TermTypeError, f"first(n={n!r})", "n must be an int >= 1"):
            wf.first(n)  # type: ignore[arg-type]

    def test_first_bad_cancel_rest(self) -> None:
        with raises(TermTypeError, "first(cancel_rest=1)", "must be a bool"):
            wf.first(1, cancel_rest=1)  # type: ignore[arg-type]

    def test_unknown_policy_string(self) -> None:
        with raises(TermError, "join(policy='any')", "'all', 'sync_merge' or wf.first(n)"):
            wf.join("any", A)

    def test_policy_of_wrong_type(self) -> None:
        with raises(TermTypeError, "join(policy=2)"):
            wf.join(2, A)  # type: ignore[arg-type]

    def test_par_without_branches(self) -> None:
        with raises(TermError, "par(): needs at least one branch"):
            wf.par()

    def test_join_without_branches(self) -> None:
        with raises(TermError, "join(): needs at least one branch"):
            wf.join(wf.first(1))

    def test_par_non_term_branch(self) -> None:
        with raises(TermTypeError, "par[2] is 7"):
            wf.par(A, B, 7)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "make",
        [lambda *t: wf.par(*t), lambda *t: wf.join(wf.first(1), *t)],
        ids=["par", "first"],
    )
    def test_conditioned_branch_rejected(self, make: Callable[..., Any]) -> None:
        with raises(TermError, "[1]: conditioned branches are only allowed in xor, choice"):
            make(A, wf.branch(yes, B))

    def test_conditioned_branch_ok_in_sync_merge(self) -> None:
        j = wf.join("sync_merge", A, wf.branch(yes, B))
        assert j.branches[1].cond is yes

    def test_choice_and_xor_empty(self) -> None:
        with raises(TermError, "choice(): needs at least one branch"):
            wf.choice()
        with raises(TermError, "xor(): needs at least one alternative"):
            wf.xor()

    def test_xor_non_term(self) -> None:
        with raises(TermTypeError, "xor[0] is 'a'"):
            wf.xor("a")  # type: ignore[arg-type]


class TestBranchErrors:
    def test_non_callable_cond(self) -> None:
        with raises(TermTypeError, "branch: cond must be callable", "True"):
            wf.branch(True, A)  # type: ignore[arg-type]

    def test_non_term(self) -> None:
        with raises(TermTypeError, "branch.term is 5"):
            wf.branch(yes, 5)  # type: ignore[arg-type]

    def test_nested_branch_is_not_a_term(self) -> None:
        with raises(TermTypeError, "branch.term"):
            wf.branch(yes, wf.branch(yes, A))


class TestLoopErrors:
    def test_no_policy(self) -> None:
        with raises(TermError, "loop(task('a', f), ...)", "exactly one of", "got none"):
            wf.loop(A)

    def test_two_policies(self) -> None:
        with raises(TermError, "exactly one of", "got times, while_"):
            wf.loop(A, times=2, while_=yes)

    def test_three_policies(self) -> None:
        with raises(TermError, "got times, while_, until"):
            wf.loop(A, times=2, while_=yes, until=no)

    @pytest.mark.parametrize("times", [-1, True, 2.0, "2"])
    def test_bad_times(self, times: object) -> None:
        with raises(TermTypeError, f"loop(times={times!r})", "int >= 0"):
            wf.loop(A, times=times)  # type: ignore[arg-type]

    def test_non_callable_conditions(self) -> None:
        with raises(TermTypeError, "loop: while_ must be callable"):
            wf.loop(A, while_=1)  # type: ignore[arg-type]
        with raises(TermTypeError, "loop: until must be callable"):
            wf.loop(A, until="x")  # type: ignore[arg-type]

    def test_bad_body(self) -> None:
        with raises(TermTypeError, "loop.body is None"):
            wf.loop(None, times=1)  # type: ignore[arg-type]

    def test_times_zero_ok(self) -> None:
        assert wf.loop(A, times=0).times == 0


class TestDeferErrors:
    def test_empty(self) -> None:
        with raises(TermError, "defer(): needs at least one alternative"):
            wf.defer()

    def test_non_trigger(self) -> None:
        with raises(TermTypeError, "defer[1] is task('a', f)", "expected wf.on_signal"):
            wf.defer(wf.on_signal("s", B), A)  # type: ignore[arg-type]

    def test_branch_is_not_a_trigger(self) -> None:
        with raises(TermTypeError, "defer[0] is"):
            wf.defer(wf.branch(yes, A))  # type: ignore[arg-type]

    @pytest.mark.parametrize("secs", [-1, math.inf, math.nan, "1", True, None])
    def test_bad_after_seconds(self, secs: object) -> None:
        with raises(TermTypeError, "after(seconds=", "finite number >= 0"):
            wf.after(secs, A)  # type: ignore[arg-type]

    def test_after_zero_and_int_ok(self) -> None:
        assert wf.after(0, A).seconds == 0.0
        assert isinstance(wf.after(2, A).seconds, float)

    def test_after_bad_term(self) -> None:
        with raises(TermTypeError, "after(1).term is 'x'"):
            wf.after(1, "x")  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", ["", 1, None])
    def test_on_signal_bad_name(self, name: object) -> None:
        with raises(TermTypeError, "on_signal: name must be a non-empty string"):
            wf.on_signal(name, A)  # type: ignore[arg-type]

    def test_on_signal_bad_term(self) -> None:
        with raises(TermTypeError, "on_signal('s').term is 3"):
            wf.on_signal("s", 3)  # type: ignore[arg-type]


class TestWaitSignalErrors:
    @pytest.mark.parametrize("name", ["", 0, None])
    def test_bad_name(self, name: object) -> None:
        with raises(TermTypeError, "wait_signal: name must be a non-empty string"):
            wf.wait_signal(name)  # type: ignore[arg-type]

    def test_bad_store_as(self) -> None:
        with raises(TermTypeError, "wait_signal('s'): store_as must be a non-empty string"):
            wf.wait_signal("s", store_as="")


class TestRegionErrors:
    @pytest.mark.parametrize("sid", ["", 3, None])
    def test_bad_scope_id(self, sid: object) -> None:
        with raises(TermTypeError, "region: scope_id must be a non-empty string"):
            wf.region(sid, A)  # type: ignore[arg-type]

    def test_bad_term_and_compensate(self) -> None:
        with raises(TermTypeError, "region('r').term is 1"):
            wf.region("r", 1)  # type: ignore[arg-type]
        with raises(TermTypeError, "region('r').compensate is 'x'"):
            wf.region("r", A, compensate="x")  # type: ignore[arg-type]

    def test_duplicate_siblings_in_seq(self) -> None:
        with raises(
            TermError,
            "seq: duplicate region id 'r'",
            "child [0] at region('r')",
            "child [2] at region('r')",
        ):
            wf.seq(wf.region("r", A), B, wf.region("r", C))

    def test_duplicate_reports_nested_path(self) -> None:
        with raises(TermError, "par: duplicate region id 'x'", "seq[1].region('x')"):
            wf.par(wf.region("x", A), wf.seq(B, wf.region("x", C)))

    @pytest.mark.parametrize(
        "make",
        [
            lambda r1, r2: wf.par(r1, r2),
            lambda r1, r2: wf.join(wf.first(1), r1, r2),
            lambda r1, r2: wf.choice(wf.branch(yes, r1), r2),
            lambda r1, r2: wf.xor(r1, r2),
            lambda r1, r2: wf.defer(wf.on_signal("s", r1), wf.after(1, r2)),
        ],
        ids=["par", "join", "choice", "xor", "defer"],
    )
    def test_duplicate_in_every_composite(self, make: Callable[..., Any]) -> None:
        with raises(TermError, "duplicate region id 'r'"):
            make(wf.region("r", A), wf.region("r", B))

    def test_duplicate_nested(self) -> None:
        with raises(TermError, "region('r'): duplicate region id 'r'", "nested again"):
            wf.region("r", wf.seq(A, wf.region("r", B)))

    def test_duplicate_in_compensate(self) -> None:
        with raises(TermError, "region('r'): duplicate region id 'r'", "nested again"):
            wf.region("r", A, compensate=wf.region("r", B))

    def test_duplicate_between_body_and_compensate(self) -> None:
        with raises(
            TermError, "region('outer'): duplicate region id 'x'", "child [0]", "child [1]"
        ):
            wf.region("outer", wf.region("x", A), compensate=wf.region("x", B))

    def test_duplicate_deep_inside_loop_and_mi(self) -> None:
        inner = wf.loop(wf.mi(wf.region("r", A), count=2), times=2)
        with raises(TermError, "duplicate region id 'r'"):
            wf.seq(inner, wf.region("r", B))

    def test_distinct_ids_ok_and_collected(self) -> None:
        t = wf.seq(wf.region("a", A), wf.par(wf.region("b", wf.region("c", B))))
        assert t.region_ids == {"a", "b", "c"}

    def test_same_region_term_twice_is_a_duplicate(self) -> None:
        r = wf.region("r", A)
        with raises(TermError, "duplicate region id 'r'"):
            wf.seq(r, r)


class TestMIErrors:
    def test_neither_count_nor_items(self) -> None:
        with raises(TermError, "mi(...): give exactly one of count= or items="):
            wf.mi(A)

    def test_both(self) -> None:
        with raises(TermError, "exactly one of count= or items="):
            wf.mi(A, count=2, items=[1, 2])

    @pytest.mark.parametrize("count", [-1, True, 1.5, "2"])
    def test_bad_count(self, count: object) -> None:
        with raises(TermTypeError, f"mi(count={count!r})", "int >= 0 or callable"):
            wf.mi(A, count=count)  # type: ignore[arg-type]

    @pytest.mark.parametrize("items", ["abc", b"ab", {"a": 1}, 5])
    def test_bad_items(self, items: object) -> None:
        with raises(TermTypeError, "mi(items=", "a sequence or fn(ctx) -> iterable"):
            wf.mi(A, items=items)  # type: ignore[arg-type]

    @pytest.mark.parametrize("join", [0, -2, True, "some", 1.0])
    def test_bad_join(self, join: object) -> None:
        with raises(TermError, f"mi(join={join!r})", "'all', 'none', an int >= 1 or fn(results)"):
            wf.mi(A, count=3, join=join)  # type: ignore[arg-type]

    def test_join_exceeds_static_instances(self) -> None:
        with raises(TermError, "mi(join=3)", "exceeds the 2 instances"):
            wf.mi(A, items=["x", "y"], join=3)
        with raises(TermError, "exceeds the 1 instances"):
            wf.mi(A, count=1, join=2)

    def test_join_with_callable_count_unchecked(self) -> None:
        assert wf.mi(A, count=lambda c: 1, join=5).join == 5

    def test_bad_collect_and_item_key(self) -> None:
        with raises(TermTypeError, "mi: collect must be a non-empty string"):
            wf.mi(A, count=1, collect="")
        with raises(TermTypeError, "mi: item_key must be a non-empty string"):
            wf.mi(A, count=1, item_key=3)  # type: ignore[arg-type]
        with raises(TermError, "mi(item_key='index'): 'index' is reserved"):
            wf.mi(A, count=1, item_key="index")

    def test_bad_body(self) -> None:
        with raises(TermTypeError, "mi.body is 'a'"):
            wf.mi("a", count=1)  # type: ignore[arg-type]

    def test_items_copied_to_tuple(self) -> None:
        xs = [1, 2]
        m = wf.mi(A, items=xs)
        xs.append(3)
        assert m.items == (1, 2)


# ---------------------------------------------------------------------------
# values: immutability, hashing, equality


class TestValues:
    @pytest.mark.parametrize(
        ("term", "attr"),
        [
            (A, "name"),
            (wf.seq(A, B), "terms"),
            (wf.par(A, B), "policy"),
            (wf.xor(A), "alternatives"),
            (wf.loop(A, times=1), "times"),
            (wf.defer(wf.after(1, A)), "alternatives"),
            (wf.wait_signal("s"), "name"),
            (wf.region("r", A), "scope_id"),
            (wf.mi(A, count=1), "count"),
            (wf.first(1), "n"),
            (wf.branch(yes, A), "cond"),
            (wf.on_signal("s", A), "name"),
        ],
    )
    def test_frozen(self, term: object, attr: str) -> None:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(term, attr, None)

    def test_slotted(self) -> None:
        with pytest.raises((AttributeError, TypeError)):
            A.extra = 1  # type: ignore[attr-defined]

    def test_structural_equality_and_hash(self) -> None:
        def build() -> wf.Term:
            return wf.seq(
                wf.task("a", f),
                wf.join(wf.first(2, cancel_rest=True), wf.task("b", f), B, C),
                wf.xor(wf.branch(yes, A), B),
                wf.loop(A, until=no),
                wf.defer(wf.on_signal("s", A), wf.after(2, B)),
                wf.region("r", wf.wait_signal("s", "x"), compensate=C),
                wf.mi(A, items=[1, 2], join="none", collect="out"),
                wf.terminate(),
            )

        t1, t2 = build(), build()
        assert t1 is not t2
        assert t1 == t2
        assert hash(t1) == hash(t2)
        assert len({t1, t2}) == 1

    @pytest.mark.parametrize(
        ("x", "y"),
        [
            (wf.task("a", f), wf.task("a", g)),
            (wf.task("a", f), wf.task("b", f)),
            (wf.seq(A, B), wf.seq(B, A)),
            (wf.par(A, B), wf.join("sync_merge", A, B)),
            (wf.join(wf.first(1), A, B), wf.join(wf.first(1, cancel_rest=True), A, B)),
            (wf.xor(wf.branch(yes, A)), wf.xor(wf.branch(no, A))),
            (wf.loop(A, times=1), wf.loop(A, times=2)),
            (wf.after(1, A), wf.after(2, A)),
            (wf.wait_signal("s"), wf.wait_signal("s", "x")),
            (wf.region("r", A), wf.region("r", A, compensate=B)),
            (wf.mi(A, count=2), wf.mi(A, count=2, join="none")),
            (wf.mi(A, items=[1]), wf.mi(A, items=[2])),
        ],
    )
    def test_inequality(self, x: wf.Term, y: wf.Term) -> None:
        assert x != y

    def test_terms_usable_as_dict_keys(self) -> None:
        d = {wf.seq(A, B): 1, wf.par(A, B): 2}
        assert d[wf.seq(wf.task("a", f), wf.task("b", f))] == 1

    def test_terminate_equal(self) -> None:
        assert wf.terminate() == Terminate()
        assert hash(wf.terminate()) == hash(wf.terminate())

    def test_node_classes(self) -> None:
        assert isinstance(wf.seq(A), Seq)
        assert isinstance(wf.par(A), Join)
        assert isinstance(wf.choice(A), Join)
        assert isinstance(wf.xor(A), Xor)
        assert isinstance(wf.loop(A, times=1), Loop)
        assert isinstance(wf.defer(wf.on_signal("s", A)), Defer)
        assert isinstance(wf.defer(wf.on_signal("s", A)).alternatives[0], OnSignal)
        assert isinstance(wf.after(1, A), After)
        assert isinstance(wf.wait_signal("s"), WaitSignal)
        assert isinstance(wf.region("r", A), Region)
        assert isinstance(wf.mi(A, count=1), MI)
        assert isinstance(A, Task)
        assert all(isinstance(b, Branch) for b in wf.par(A, B).branches)


# ---------------------------------------------------------------------------
# repr


NS: dict[str, Any] = {
    **{n: getattr(wf, n) for n in wf.__all__},
    "f": f,
    "g": g,
    "yes": yes,
    "no": no,
}

REPRS: list[tuple[wf.Term, str]] = [
    (A, "task('a', f)"),
    (wf.seq(A, B), "seq(task('a', f), task('b', f))"),
    (wf.par(A, B), "par(task('a', f), task('b', f))"),
    (wf.join(wf.first(1), A, B), "join(first(1), task('a', f), task('b', f))"),
    (
        wf.join(wf.first(2, cancel_rest=True), A, B),
        "join(first(2, cancel_rest=True), task('a', f), task('b', f))",
    ),
    (wf.join("sync_merge", A, B), "join('sync_merge', task('a', f), task('b', f))"),
    (wf.choice(wf.branch(yes, A), B), "choice(branch(yes, task('a', f)), task('b', f))"),
    (wf.xor(wf.branch(no, A), B), "xor(branch(no, task('a', f)), task('b', f))"),
    (wf.loop(A, times=3), "loop(task('a', f), times=3)"),
    (wf.loop(A, while_=yes), "loop(task('a', f), while_=yes)"),
    (wf.loop(A, until=no), "loop(task('a', f), until=no)"),
    (
        wf.defer(wf.on_signal("s", A), wf.after(1.5, B)),
        "defer(on_signal('s', task('a', f)), after(1.5, task('b', f)))",
    ),
    (wf.wait_signal("s"), "wait_signal('s')"),
    (wf.wait_signal("s", store_as="x"), "wait_signal('s', store_as='x')"),
    (wf.region("r", A), "region('r', task('a', f))"),
    (wf.region("r", A, compensate=B), "region('r', task('a', f), compensate=task('b', f))"),
    (wf.mi(A, count=2), "mi(task('a', f), count=2)"),
    (
        wf.mi(A, items=[1, 2], join="none", collect="out", item_key="it"),
        "mi(task('a', f), items=(1, 2), join='none', collect='out', item_key='it')",
    ),
    (wf.mi(A, count=3, join=2), "mi(task('a', f), count=3, join=2)"),
    (wf.terminate(), "terminate()"),
]


class TestRepr:
    @pytest.mark.parametrize(("term", "text"), REPRS, ids=[r for _, r in REPRS])
    def test_reads_as_constructor_call(self, term: wf.Term, text: str) -> None:
        assert repr(term) == text

    @pytest.mark.parametrize(("term", "text"), REPRS, ids=[r for _, r in REPRS])
    def test_evaluates_back_to_an_equal_term(self, term: wf.Term, text: str) -> None:
        assert eval(text, dict(NS)) == term

    def test_nested(self) -> None:
        t = wf.seq(A, wf.par(B, wf.xor(wf.branch(yes, C), wf.terminate())))
        text = "seq(task('a', f), par(task('b', f), xor(branch(yes, task('c', f)), terminate())))"
        assert repr(t) == text
        assert eval(text, dict(NS)) == t

    def test_lambda_names(self) -> None:
        assert repr(wf.task("x", lambda c: None)).endswith("<lambda>)")


# ---------------------------------------------------------------------------
# walk


class TestWalk:
    def test_paths_in_program_order(self) -> None:
        t = wf.seq(
            A,
            wf.par(B, wf.seq(C)),
            wf.xor(wf.branch(yes, wf.task("d", f)), wf.task("e", f)),
            wf.region("r", wf.wait_signal("s"), compensate=wf.task("k", f)),
            wf.loop(wf.mi(wf.task("m", f), count=2), times=2),
            wf.defer(wf.on_signal("x", wf.task("g", f)), wf.after(1, wf.terminate())),
            wf.join(wf.first(1), wf.task("h", f), wf.task("i", f)),
            wf.choice(wf.branch(yes, wf.task("j", f))),
        )
        assert [p for p, _ in walk(t)] == [
            "seq",
            "seq[0].task('a')",
            "seq[1].par",
            "seq[1].par[0].task('b')",
            "seq[1].par[1].seq",
            "seq[1].par[1].seq[0].task('c')",
            "seq[2].xor",
            "seq[2].xor[0].task('d')",
            "seq[2].xor[1].task('e')",
            "seq[3].region('r')",
            "seq[3].region('r')[0].wait_signal('s')",
            "seq[3].region('r')[1].task('k')",
            "seq[4].loop",
            "seq[4].loop[0].mi",
            "seq[4].loop[0].mi[0].task('m')",
            "seq[5].defer",
            "seq[5].defer[0].task('g')",
            "seq[5].defer[1].terminate",
            "seq[6].join",
            "seq[6].join[0].task('h')",
            "seq[6].join[1].task('i')",
            "seq[7].choice",
            "seq[7].choice[0].task('j')",
        ]

    def test_nodes_match_paths(self) -> None:
        t = wf.seq(A, wf.par(B, C))
        nodes = dict(walk(t))
        assert nodes["seq"] is t
        assert nodes["seq[1].par[1].task('c')"] is C

    def test_prefix(self) -> None:
        assert [p for p, _ in walk(wf.seq(A), "root")] == ["root.seq", "root.seq[0].task('a')"]

    def test_deep_term_does_not_recurse(self) -> None:
        t: wf.Term = A
        for _ in range(3000):
            t = wf.loop(t, times=1)
        assert sum(1 for _ in walk(t)) == 3001
