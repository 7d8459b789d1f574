"""The compiler: instruction table shapes, successor patching, caching, cost."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import attrs
import pytest

import wftrio as wf
from wftrio.compiler import clear_cache
from wftrio.compiler import compile as wf_compile
from wftrio.compiler.program import (
    NO_OPS,
    OPERANDS,
    ForkOps,
    Instr,
    RegionEnterOps,
    TaskOps,
    Trigger,
    WaitSignalOps,
    assemble,
)
from wftrio.engine import ExecState, Program, Status, link
from wftrio.errors import EngineError
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
NO_NEXT = {"fork", "xor", "defer", "end", "terminate", "halt", "region_enter", "mi_done"}
PC_ARGS = ("body", "join_pc", "cancel_pc")


def check_well_linked(prog: Program) -> None:
    """Every successor and every pc-valued arg points inside the table."""
    n = len(prog.instrs)
    assert prog.instrs[-1].op == "end"
    assert 0 <= prog.entry < n
    for pc, ins in enumerate(prog.instrs):
        # an mi's watcher ends at its mi_signal, except a "more" one (back to its wait)
        if ins.op in NO_NEXT or (ins.op == "mi_signal" and ins.ops.kind != "more"):
            assert ins.next == -1, (pc, ins)
        else:
            assert 0 <= ins.next < n, (pc, ins)
        for key in PC_ARGS:
            if hasattr(ins.ops, key):
                assert 0 <= getattr(ins.ops, key) < n, (pc, key, ins)
        for e in getattr(ins.ops, "entries", ()):
            assert 0 <= e < n, (pc, ins)


def ops(prog: Program) -> list[str]:
    return [i.op for i in prog.instrs]


def pc_of(prog: Program, name: str) -> int:
    (pc,) = [
        pc
        for pc, i in enumerate(prog.instrs)
        if isinstance(i.ops, TaskOps | WaitSignalOps) and i.ops.name == name
    ]
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
        assert fork.ops.n is None
        jpc = fork.ops.join_pc
        assert prog.instrs[jpc].op == "join"
        a, b, c, d = (pc_of(prog, x) for x in "abcd")
        assert fork.ops.entries == (a, b)
        assert prog.instrs[a].next == jpc
        assert prog.instrs[b].next == c
        assert prog.instrs[c].next == jpc
        assert prog.instrs[jpc].next == d
        assert prog.instrs[d].next == len(prog.instrs) - 1
        check_well_linked(prog)

    def test_first_policy_in_fork_args(self) -> None:
        prog = wf_compile(wf.join(wf.first(2, cancel_rest=True), t("a"), t("b"), t("c")))
        fork = prog.instrs[prog.entry]
        assert (fork.ops.n, fork.ops.cancel_rest) == (2, True)
        assert fork.ops.conds == (None, None, None)

    def test_choice_conditions(self) -> None:
        prog = wf_compile(wf.choice(wf.branch(yes, t("a")), t("b")))
        assert prog.instrs[prog.entry].ops.conds == (yes, None)

    def test_xor_exits_all_patched_to_successor(self) -> None:
        prog = wf_compile(wf.seq(wf.xor(wf.branch(yes, t("a")), wf.seq(t("b"), t("c"))), t("d")))
        x = prog.instrs[prog.entry]
        assert x.op == "xor"
        assert x.ops.conds == (yes, None)
        a, b, c, d = (pc_of(prog, n) for n in "abcd")
        assert x.ops.entries == (a, b)
        assert prog.instrs[a].next == d
        assert prog.instrs[c].next == d
        check_well_linked(prog)

    def test_loop_times_shape(self) -> None:
        prog = wf_compile(wf.seq(wf.loop(t("a"), times=3), t("z")))
        enter, nxt = prog.instrs[0], prog.instrs[1]
        assert (enter.op, nxt.op) == ("loop_enter", "loop_next")
        a, z = pc_of(prog, "a"), pc_of(prog, "z")
        assert enter.ops.body == nxt.ops.body == a
        assert prog.instrs[a].next == 1
        assert enter.next == nxt.next == z
        check_well_linked(prog)

    def test_while_tests_first_until_tests_last(self) -> None:
        w = wf_compile(wf.loop(t("a"), while_=yes))
        assert w.instrs[w.entry].op == "loop_test"
        assert w.instrs[w.entry].ops.stop_when is False
        assert w.instrs[pc_of(w, "a")].next == w.entry
        u = wf_compile(wf.loop(t("a"), until=yes))
        assert u.instrs[u.entry].op == "task"
        test_pc = u.instrs[u.entry].next
        assert u.instrs[test_pc].op == "loop_test"
        assert u.instrs[test_pc].ops.stop_when is True
        assert u.instrs[test_pc].ops.body == u.entry
        check_well_linked(w)
        check_well_linked(u)

    def test_region_without_compensation_cancels_to_successor(self) -> None:
        prog = wf_compile(wf.seq(wf.region("r", t("a")), t("z")))
        enter = prog.instrs[prog.entry]
        assert enter.op == "region_enter"
        assert enter.ops.scope_id == "r"
        a, z = pc_of(prog, "a"), pc_of(prog, "z")
        assert enter.ops.body == a
        exit_pc = prog.instrs[a].next
        assert prog.instrs[exit_pc].op == "region_exit"
        assert prog.instrs[exit_pc].next == z
        assert enter.ops.cancel_pc == z
        check_well_linked(prog)

    def test_region_compensation_then_successor(self) -> None:
        prog = wf_compile(wf.seq(wf.region("r", t("a"), compensate=t("k")), t("z")))
        enter = prog.instrs[prog.entry]
        k, z = pc_of(prog, "k"), pc_of(prog, "z")
        assert enter.ops.cancel_pc == k
        assert prog.instrs[k].next == z
        check_well_linked(prog)

    def test_mi_shape(self) -> None:
        prog = wf_compile(wf.seq(wf.mi(t("a"), count=2, collect="out", item_key="it"), t("z")))
        spawn = prog.instrs[prog.entry]
        assert spawn.op == "mi_spawn"
        assert (spawn.ops.count, spawn.ops.collect, spawn.ops.item_key) == (
            2,
            "out",
            "it",
        )
        a, z = pc_of(prog, "a"), pc_of(prog, "z")
        assert spawn.ops.body == a
        done = prog.instrs[a].next
        assert prog.instrs[done].op == "mi_done"
        assert spawn.next == z
        check_well_linked(prog)

    def test_defer_shape(self) -> None:
        prog = wf_compile(wf.seq(wf.defer(wf.on_signal("s", t("a")), wf.after(2, t("b"))), t("z")))
        d = prog.instrs[prog.entry]
        assert d.op == "defer"
        assert d.ops.alts == (("signal", "s"), ("timer", 2.0))
        a, b, z = (pc_of(prog, n) for n in "abz")
        assert d.ops.entries == (a, b)
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


CALLED = wf.Registry()
CALLED.register("sub", wf.seq(wf.task("s_a", f), wf.task("s_b", f)))


def every_construct() -> wf.Term:
    async def eff_named(ctx: Mapping[str, Any]) -> None:
        return None

    return wf.seq(
        t("a"),
        wf.task("opt", f, timeout=2.0, on_error=t("h")),
        wf.task("e", eff_named),
        wf.join(wf.first(1, cancel_rest=True), t("b"), t("c")),
        wf.choice(wf.branch(yes, t("d")), t("d2"), wf.halt()),
        wf.xor(wf.branch(yes, t("x1")), t("x2")),
        wf.loop(t("l1"), times=2),
        wf.loop(t("l2"), while_=lambda ctx: False),
        wf.loop(t("l3"), until=yes),
        wf.defer(wf.on_signal("s", t("s1")), wf.after(1.5, t("s2"))),
        wf.wait_signal("w", store_as="got"),
        wf.region("r", wf.mi(t("m"), count=2, collect="res"), compensate=t("k")),
        wf.mi(t("m2"), count=1, more_on="more", close_on="close"),
        wf.call("sub", ctx_in={"x": "got"}, ctx_out=["s"], registry=CALLED),
        wf.terminate(),
    )


class TestOperands:
    def test_every_instruction_carries_its_opcodes_record(self) -> None:
        prog = wf_compile(every_construct())
        assert set(ops(prog)) == set(OPERANDS)  # every opcode is exercised
        for ins in prog.instrs:
            assert type(ins.ops) is OPERANDS[ins.op], ins
        check_well_linked(prog)

    def test_operands_are_typed_and_frozen(self) -> None:
        prog = wf_compile(every_construct())
        opt = prog.instrs[pc_of(prog, "opt")]
        assert isinstance(opt.ops, TaskOps)
        assert (opt.op, opt.ops.timeout, opt.ops.retry) == ("step", 2.0, None)
        assert opt.ops.on_error == pc_of(prog, "h")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            opt.ops.name = "other"  # type: ignore[misc]
        (d,) = [i for i in prog.instrs if i.op == "defer"]
        assert d.ops.alts == (Trigger("signal", "s"), Trigger("timer", 1.5))  # type: ignore[union-attr]
        assert not hasattr(opt.ops, "__dict__")  # slotted: no room for a cache

    def test_args_is_a_derived_view_of_the_operands(self) -> None:
        prog = wf_compile(every_construct())
        plain = prog.instrs[pc_of(prog, "a")]
        assert plain.args == {"name": "a", "fn": f}  # unset options are left out
        enter = next(
            i for i in prog.instrs if i.op == "region_enter"
        )  # region("r"), then the call's
        assert isinstance(enter.ops, RegionEnterOps)
        assert "allow" not in enter.args
        assert enter.args["body"] == enter.ops.body
        plain.args["name"] = "changed"  # a fresh dict each time: the record is untouched
        assert plain.args["name"] == "a"

    def test_an_instruction_rejects_another_opcodes_record(self) -> None:
        with pytest.raises(EngineError, match="takes ForkOps, got TaskOps"):
            Instr("fork", "p", -1, TaskOps(name="a", fn=f))
        with pytest.raises(EngineError, match="unknown opcode 'jump'"):
            Instr("jump", "p", -1, NO_OPS)
        with pytest.raises(EngineError, match="takes TaskOps, got NoOps"):
            Instr("task", "p", 1)

    def test_a_hand_assembled_program_runs(self) -> None:
        instrs = [
            Instr(
                "fork",
                "par",
                -1,
                ForkOps(n=None, cancel_rest=False, entries=(2, 3), conds=(None, None), join_pc=1),
            ),
            Instr("join", "par", 4),
            Instr("task", "a", 1, TaskOps(name="a", fn=lambda ctx: {"a": 1})),
            Instr("task", "b", 1, TaskOps(name="b", fn=lambda ctx: {"b": 2})),
            Instr("end", "end"),
        ]
        prog = assemble(wf.seq(t("stand-in")), instrs, 0)
        st = ExecState(prog)
        assert st.run() is Status.DONE
        assert st.ctx == {"a": 1, "b": 2}


class TestLayers:
    def test_the_compiler_imports_no_engine(self) -> None:
        code = (
            "import sys\n"
            "from wftrio.compiler import compile\n"
            "from wftrio.terms import task\n"
            "compile(task('a', print)).listing()\n"
            "above = ('wftrio.engine', 'wftrio.runtime', 'trio')\n"
            "bad = sorted(m for m in sys.modules if m.startswith(above))\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


class TestDeep:
    """Terms nested 10,000 levels deep compile without recursion (and run)."""

    DEPTH = 10_000

    def test_nested_seq(self) -> None:
        term = t("first")
        for i in range(self.DEPTH):
            term = wf.seq(term, t(f"t{i}"))
        prog = wf_compile(term)
        assert len(prog.instrs) == self.DEPTH + 2
        assert prog.run_end[prog.entry] == self.DEPTH + 1  # one fused straight-line run
        st = ExecState(prog, trace_level="none")
        assert st.run() is Status.DONE
        assert st.steps == self.DEPTH + 2
        assert wf_compile(term) is prog

    def test_nested_par(self) -> None:
        term = t("first")
        for i in range(self.DEPTH):
            term = wf.par(term, t(f"t{i}"))
        prog = wf_compile(term)
        assert ops(prog).count("fork") == self.DEPTH
        check_well_linked(prog)
        st = ExecState(prog, trace_level="none")
        assert st.run() is Status.DONE
