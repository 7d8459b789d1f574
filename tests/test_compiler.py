"""The compiler: instruction table shapes, successor patching, caching, cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest

import wftrio as wf
from wftrio.compiler import clear_cache
from wftrio.compiler import compile as wf_compile
from wftrio.engine import Program, link
from wftrio.terms import walk


def f(ctx: Mapping[str, Any]) -> None:
    return None


def yes(ctx: Mapping[str, Any]) -> bool:
    return True


async def eff(ctx: Mapping[str, Any]) -> None:
    return None


def t(name: str) -> wf.Term:
    return wf.task(name, f)


# ops whose successor is not ``next`` (they jump through their args, or stop)
NO_NEXT = {"fork", "xor", "defer", "end", "terminate", "region_enter", "mi_done"}
PC_ARGS = ("body", "join_pc", "cancel_pc")


def check_well_linked(prog: Program) -> None:
    """Every successor and every pc-valued arg points inside the table."""
    n = len(prog.instrs)
    assert prog.instrs[-1].op == "end"
    assert 0 <= prog.entry < n
    for pc, ins in enumerate(prog.instrs):
        if ins.op in NO_NEXT:
            assert ins.next == -1, (pc, ins)
        else:
            assert 0 <= ins.next < n, (pc, ins)
        for key in PC_ARGS:
            if key in ins.args:
                assert 0 <= ins.args[key] < n, (pc, key, ins)
        for e in ins.args.get("entries", ()):
            assert 0 <= e < n, (pc, ins)


def ops(prog: Program) -> list[str]:
    return [i.op for i in prog.instrs]


def pc_of(prog: Program, name: str) -> int:
    (pc,) = [pc for pc, i in enumerate(prog.instrs) if i.args.get("name") == name]
    return pc


class TestShapes:
    def test_seq_of_pure_tasks_is_consecutive(self) -> None:
        prog = wf_compile(wf.seq(t("a"), t("b"), t("c")))
        assert ops(prog) == ["task", "task", "task", "end"]
        assert [i.next for i in prog.instrs[:3]] == [1, 2, 3]
        assert prog.entry == 0
        # one fused straight-line run covering all three
        assert prog.run_end[:3] == (3, 3, 3)
        assert prog.task_name[:3] == ("a", "b", "c")
        check_well_linked(prog)

    def test_nested_seqs_flatten_to_one_run(self) -> None:
        prog = wf_compile(wf.seq(t("a"), wf.seq(t("b"), wf.seq(t("c"))), t("d")))
        assert ops(prog) == ["task"] * 4 + ["end"]
        assert prog.run_end[:4] == (4, 4, 4, 4)

    def test_effect_breaks_the_fused_run(self) -> None:
        prog = wf_compile(wf.seq(t("a"), t("b"), wf.task("e", eff), t("c")))
        assert ops(prog) == ["task", "task", "effect", "task", "end"]
        assert prog.run_end == (2, 2, -1, 4, -1)

    def test_par_shape(self) -> None:
        prog = wf_compile(wf.seq(wf.par(t("a"), wf.seq(t("b"), t("c"))), t("d")))
        fork = prog.instrs[prog.entry]
        assert fork.op == "fork"
        assert fork.args["n"] is None
        jpc = fork.args["join_pc"]
        assert prog.instrs[jpc].op == "join"
        a, b, c, d = (pc_of(prog, x) for x in "abcd")
        assert fork.args["entries"] == (a, b)
        assert prog.instrs[a].next == jpc
        assert prog.instrs[b].next == c
        assert prog.instrs[c].next == jpc
        assert prog.instrs[jpc].next == d
        assert prog.instrs[d].next == len(prog.instrs) - 1
        check_well_linked(prog)

    def test_first_policy_in_fork_args(self) -> None:
        prog = wf_compile(wf.join(wf.first(2, cancel_rest=True), t("a"), t("b"), t("c")))
        fork = prog.instrs[prog.entry]
        assert (fork.args["n"], fork.args["cancel_rest"]) == (2, True)
        assert fork.args["conds"] == (None, None, None)

    def test_choice_conditions(self) -> None:
        prog = wf_compile(wf.choice(wf.branch(yes, t("a")), t("b")))
        assert prog.instrs[prog.entry].args["conds"] == (yes, None)

    def test_xor_exits_all_patched_to_successor(self) -> None:
        prog = wf_compile(wf.seq(wf.xor(wf.branch(yes, t("a")), wf.seq(t("b"), t("c"))), t("d")))
        x = prog.instrs[prog.entry]
        assert x.op == "xor"
        assert x.args["conds"] == (yes, None)
        a, b, c, d = (pc_of(prog, n) for n in "abcd")
        assert x.args["entries"] == (a, b)
        assert prog.instrs[a].next == d
        assert prog.instrs[c].next == d
        check_well_linked(prog)

    def test_loop_times_shape(self) -> None:
        prog = wf_compile(wf.seq(wf.loop(t("a"), times=3), t("z")))
        enter, nxt = prog.instrs[0], prog.instrs[1]
        assert (enter.op, nxt.op) == ("loop_enter", "loop_next")
        a, z = pc_of(prog, "a"), pc_of(prog, "z")
        assert enter.args["body"] == nxt.args["body"] == a
        assert prog.instrs[a].next == 1
        assert enter.next == nxt.next == z
        check_well_linked(prog)

    def test_while_tests_first_until_tests_last(self) -> None:
        w = wf_compile(wf.loop(t("a"), while_=yes))
        assert w.instrs[w.entry].op == "loop_test"
        assert w.instrs[w.entry].args["stop_when"] is False
        assert w.instrs[pc_of(w, "a")].next == w.entry
        u = wf_compile(wf.loop(t("a"), until=yes))
        assert u.instrs[u.entry].op == "task"
        test_pc = u.instrs[u.entry].next
        assert u.instrs[test_pc].op == "loop_test"
        assert u.instrs[test_pc].args["stop_when"] is True
        assert u.instrs[test_pc].args["body"] == u.entry
        check_well_linked(w)
        check_well_linked(u)

    def test_region_without_compensation_cancels_to_successor(self) -> None:
        prog = wf_compile(wf.seq(wf.region("r", t("a")), t("z")))
        enter = prog.instrs[prog.entry]
        assert enter.op == "region_enter"
        assert enter.args["scope_id"] == "r"
        a, z = pc_of(prog, "a"), pc_of(prog, "z")
        assert enter.args["body"] == a
        exit_pc = prog.instrs[a].next
        assert prog.instrs[exit_pc].op == "region_exit"
        assert prog.instrs[exit_pc].next == z
        assert enter.args["cancel_pc"] == z
        check_well_linked(prog)

    def test_region_compensation_then_successor(self) -> None:
        prog = wf_compile(wf.seq(wf.region("r", t("a"), compensate=t("k")), t("z")))
        enter = prog.instrs[prog.entry]
        k, z = pc_of(prog, "k"), pc_of(prog, "z")
        assert enter.args["cancel_pc"] == k
        assert prog.instrs[k].next == z
        check_well_linked(prog)

    def test_mi_shape(self) -> None:
        prog = wf_compile(wf.seq(wf.mi(t("a"), count=2, collect="out", item_key="it"), t("z")))
        spawn = prog.instrs[prog.entry]
        assert spawn.op == "mi_spawn"
        assert (spawn.args["count"], spawn.args["collect"], spawn.args["item_key"]) == (
            2,
            "out",
            "it",
        )
        a, z = pc_of(prog, "a"), pc_of(prog, "z")
        assert spawn.args["body"] == a
        done = prog.instrs[a].next
        assert prog.instrs[done].op == "mi_done"
        assert spawn.next == z
        check_well_linked(prog)

    def test_defer_shape(self) -> None:
        prog = wf_compile(wf.seq(wf.defer(wf.on_signal("s", t("a")), wf.after(2, t("b"))), t("z")))
        d = prog.instrs[prog.entry]
        assert d.op == "defer"
        assert d.args["alts"] == (("signal", "s"), ("timer", 2.0))
        a, b, z = (pc_of(prog, n) for n in "abz")
        assert d.args["entries"] == (a, b)
        assert prog.instrs[a].next == prog.instrs[b].next == z

    def test_terminate_has_no_successor(self) -> None:
        prog = wf_compile(wf.seq(t("a"), wf.terminate()))
        assert ops(prog) == ["task", "terminate", "end"]
        check_well_linked(prog)

    def test_instruction_paths_are_walk_paths(self) -> None:
        term = wf.seq(
            t("a"),
            wf.par(t("b"), wf.xor(wf.branch(yes, t("c")), t("d"))),
            wf.region("r", wf.mi(t("e"), count=1), compensate=t("k")),
            wf.wait_signal("s"),
        )
        prog = wf_compile(term)
        leaf_paths = {p for p, n in walk(term) if isinstance(n, wf.Term) and not n.children()}
        instr_paths = {i.path for i in prog.instrs if i.op in ("task", "wait_signal")}
        assert instr_paths == leaf_paths

    def test_listing_shows_every_instruction(self) -> None:
        prog = wf_compile(wf.seq(t("a"), wf.par(t("b"), t("c"))))
        lines = prog.listing().splitlines()
        assert len(lines) == len(prog.instrs)
        assert "seq[1].par[1].task('c')" in lines[pc_of(prog, "c")]

    def test_program_is_immutable(self) -> None:
        prog = wf_compile(t("a"))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            prog.entry = 1  # type: ignore[misc]
        assert isinstance(prog.instrs, tuple)
        code = link(prog)
        assert isinstance(code, tuple)
        assert len(code) == len(prog.instrs)
        assert link(prog) is code  # linked once per Program


class TestCache:
    def test_same_program_for_equal_terms(self) -> None:
        t1 = wf.seq(t("a"), wf.par(t("b"), t("c")))
        t2 = wf.seq(t("a"), wf.par(t("b"), t("c")))
        assert t1 is not t2
        assert wf_compile(t1) is wf_compile(t2)
        assert wf.compile is wf_compile

    def test_different_terms_different_programs(self) -> None:
        assert wf_compile(wf.seq(t("a"), t("b"))) is not wf_compile(wf.seq(t("b"), t("a")))

    def test_clear_cache(self) -> None:
        term = wf.seq(t("cached"))
        p1 = wf_compile(term)
        clear_cache()
        p2 = wf_compile(term)
        assert p1 is not p2
        assert p2 is wf_compile(term)
        assert [i.op for i in p1.instrs] == [i.op for i in p2.instrs]


class TestRejects:
    @pytest.mark.parametrize("bad", [None, 3, "seq", f, [t("a")]])
    def test_non_terms(self, bad: object) -> None:
        with pytest.raises(wf.TermTypeError, match="compile: expected a workflow term"):
            wf_compile(bad)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "bad",
        [wf.branch(yes, t("a")), wf.on_signal("s", t("a")), wf.after(1, t("a"))],
        ids=["branch", "on_signal", "after"],
    )
    def test_guards_are_not_compilable(self, bad: wf.Term) -> None:
        with pytest.raises(wf.TermTypeError, match="is not a term"):
            wf_compile(bad)


def mixed(k: int) -> wf.Term:
    """A term of roughly 20*k nodes mixing every constructor."""
    parts: list[wf.Term] = []
    for i in range(k):
        parts.append(
            wf.seq(
                t(f"a{i}"),
                wf.par(t(f"b{i}"), wf.xor(wf.branch(yes, t(f"c{i}")), t(f"d{i}"))),
                wf.loop(wf.choice(wf.branch(yes, t(f"e{i}")), t(f"f{i}")), times=2),
                wf.region(f"r{i}", wf.mi(t(f"g{i}"), count=2), compensate=t(f"h{i}")),
                wf.defer(wf.on_signal(f"s{i}", t(f"i{i}")), wf.after(1, t(f"j{i}"))),
                wf.join(wf.first(1), wf.wait_signal(f"w{i}"), t(f"k{i}")),
            )
        )
    return wf.seq(*parts)


class TestCost:
    @pytest.mark.parametrize("k", [1, 10, 100, 1000])
    def test_instructions_linear_in_nodes(self, k: int) -> None:
        term = mixed(k)
        nodes = sum(1 for _ in walk(term))
        prog = wf_compile(term)
        check_well_linked(prog)
        # exactly k times the instructions of one block (plus the final end):
        # linear, nothing duplicated or re-emitted as the term grows
        one = len(wf_compile(mixed(1)).instrs) - 1
        assert len(prog.instrs) - 1 == k * one
        assert len(prog.instrs) <= 2 * nodes + 1

    def test_per_size_ratio_constant(self) -> None:
        small, big = mixed(10), mixed(1000)
        ratio_small = len(wf_compile(small).instrs) / sum(1 for _ in walk(small))
        ratio_big = len(wf_compile(big).instrs) / sum(1 for _ in walk(big))
        assert ratio_big == pytest.approx(ratio_small, rel=0.01)

    def test_long_seq(self) -> None:
        n = 10_000
        prog = wf_compile(wf.seq(*(t(f"t{i}") for i in range(n))))
        assert len(prog.instrs) == n + 1
        assert prog.run_end[0] == n
