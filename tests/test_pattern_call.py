"""WCP-22 recursion and sub-workflows: ``wf.call`` runs a registered workflow as a child."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from reducer_helpers import completed, drive, effect, noop, run, start

import wftrio as wf
from wftrio.engine import ExecState, Status
from wftrio.engine.consistency import violations
from wftrio.engine.replay import run_with_inputs
from wftrio.errors import SerializationError
from wftrio.scheduling import Replay, Seeded
from wftrio.serialize import dumps_snapshot, loads_snapshot

Ctx = Mapping[str, Any]


def via_json(st: ExecState) -> ExecState:
    """Snapshot -> JSON -> restored state (the snapshot round-trips exactly)."""
    snap = st.snapshot()
    restored = ExecState.restore(st.program, loads_snapshot(dumps_snapshot(snap)))
    assert restored.snapshot() == snap
    return restored


# -- the workflows ------------------------------------------------------------


def quote(ctx: Ctx) -> Mapping[str, Any]:
    # the child sees what ctx_in mapped in, and nothing else of the caller's ctx
    assert "secret" not in ctx
    return {"price": ctx["qty"] * 10, "scratch": True}


def dec(ctx: Ctx) -> Mapping[str, Any]:
    return {"m": ctx["n"] - 1}


def one(ctx: Ctx) -> Mapping[str, Any]:
    return {"result": 1}


def mul(ctx: Ctx) -> Mapping[str, Any]:
    return {"result": ctx["n"] * ctx["sub"]}


def is_small(ctx: Ctx) -> bool:
    return bool(ctx["n"] <= 1)


def factorial(reg: wf.Registry, max_depth: int = 8) -> wf.Term:
    """fact(n): 1 if n <= 1, else n * fact(n - 1), calling itself."""
    recurse = wf.call("fact", ctx_in={"n": "m"}, ctx_out={"sub": "result"}, registry=reg,
                      max_depth=max_depth)  # fmt: skip
    return wf.xor(
        wf.branch(is_small, wf.task("one", one)),
        wf.seq(wf.task("dec", dec), recurse, wf.task("mul", mul)),
    )


def fact_registry(max_depth: int = 8) -> wf.Registry:
    reg = wf.Registry()
    reg.register("fact", factorial(reg, max_depth))
    return reg


def fact_of(reg: wf.Registry, max_depth: int = 8) -> wf.Term:
    return wf.call("fact", ctx_in=["n"], ctx_out={"f": "result"}, registry=reg,
                   max_depth=max_depth)  # fmt: skip


def quote_registry() -> wf.Registry:
    reg = wf.Registry()
    reg.register("quote", wf.seq(wf.task("quote", quote), noop("quoted")))
    return reg


def quoting(reg: wf.Registry) -> wf.Term:
    return wf.seq(
        noop("before"),
        wf.call("quote", ctx_in={"qty": "n"}, ctx_out={"total": "price"}, registry=reg),
        noop("after"),
    )


# -- the defining scenario ----------------------------------------------------


class TestSubWorkflow:
    def test_ctx_in_maps_values_in_and_ctx_out_maps_results_back(self) -> None:
        st = run(quoting(quote_registry()), {"n": 3, "secret": "s"}, trace_level="full")
        assert st.status is Status.DONE
        # only what ctx_out names comes back; the child's own keys stay in its scope
        assert dict(st.ctx) == {"n": 3, "secret": "s", "total": 30}
        assert completed(st) == ["before", "quote", "quoted", "after"]
        assert violations(st) == []

    def test_the_childs_tasks_appear_under_the_calls_scope(self) -> None:
        st = run(quoting(quote_registry()), {"n": 1}, trace_level="full")
        scopes = {str(e.name): e.scope for e in st.events if e.kind == "task_completed"}
        assert scopes == {"before": None, "quote": "call:quote", "quoted": "call:quote",
                          "after": None}  # fmt: skip
        entered = [e for e in st.events if e.kind == "region_entered"]
        assert [e.name for e in entered] == ["call:quote"]

    def test_a_scope_of_its_own(self) -> None:
        reg = quote_registry()
        term = wf.call("quote", ctx_in={"qty": "n"}, ctx_out=["price"], scope="pricing",
                       registry=reg)  # fmt: skip
        st = run(term, {"n": 2}, trace_level="full")
        assert st.ctx["price"] == 20
        assert {e.scope for e in st.events if e.kind == "task_completed"} == {"pricing"}

    def test_the_child_does_not_overwrite_the_callers_keys(self) -> None:
        reg = wf.Registry()
        reg.register("child", wf.task("set", lambda ctx: {"x": "child", "y": ctx["x"]}))
        term = wf.call("child", ctx_in={"x": "a"}, ctx_out={"got": "y"}, registry=reg)
        st = run(term, {"x": "parent", "a": "in"})
        assert dict(st.ctx) == {"x": "parent", "a": "in", "got": "in"}

    def test_calls_in_parallel_have_separate_scopes(self) -> None:
        reg = quote_registry()
        term = wf.par(
            wf.call("quote", ctx_in={"qty": "a"}, ctx_out={"ta": "price"}, scope="qa",
                    registry=reg),
            wf.call("quote", ctx_in={"qty": "b"}, ctx_out={"tb": "price"}, scope="qb",
                    registry=reg),
        )  # fmt: skip
        st = run(term, {"a": 1, "b": 2}, scheduler=Seeded(3))
        assert st.status is Status.DONE
        assert (st.ctx["ta"], st.ctx["tb"]) == (10, 20)

    def test_compiles_inline_between_call_instructions(self) -> None:
        ops = [i.op for i in wf.compile(quoting(quote_registry())).instrs]
        assert ops == ["task", "region_enter", "call_enter", "task", "task", "call_exit",
                       "region_exit", "task", "end"]  # fmt: skip

    def test_a_missing_ctx_in_key_fails_the_case(self) -> None:
        st = run(quoting(quote_registry()), {})
        assert st.status is Status.FAILED
        assert isinstance(st.error, wf.CallError)
        assert "'n'" in str(st.error)

    def test_a_missing_ctx_out_key_fails_the_case(self) -> None:
        reg = quote_registry()
        term = wf.call("quote", ctx_in={"qty": "n"}, ctx_out={"t": "nope"}, registry=reg)
        st = run(term, {"n": 1})
        assert st.status is Status.FAILED
        assert isinstance(st.error, wf.CallError)
        assert "nope" in str(st.error)

    def test_inside_an_mi_instance(self) -> None:
        reg = quote_registry()
        body = wf.call("quote", ctx_in={"qty": "item"}, ctx_out=["price"], registry=reg)
        st = run(wf.mi(body, items=(1, 2, 3), collect="prices"))
        assert st.status is Status.DONE
        assert [dict(r)["price"] for r in st.ctx["prices"]] == [10, 20, 30]

    def test_on_the_runtime_default_registry(self) -> None:
        name = "test_pattern_call.double"
        wf.register(name, wf.task("double", lambda ctx: {"y": ctx["x"] * 2}))
        res = wf.run(wf.call(name, ctx_in=["x"], ctx_out=["y"]), {"x": 21})
        assert res.ctx["y"] == 42


# -- recursion -----------------------------------------------------------------


class TestRecursion:
    @pytest.mark.parametrize(("n", "f"), [(1, 1), (3, 6), (5, 120), (8, 40320)])
    def test_factorial_calls_itself(self, n: int, f: int) -> None:
        st = run(fact_of(fact_registry()), {"n": n}, trace_level="full")
        assert st.status is Status.DONE
        assert dict(st.ctx) == {"n": n, "f": f}
        entered = [e for e in st.events if e.kind == "region_entered"]
        assert len(entered) == max(n, 1)
        assert violations(st) == []

    def test_countdown_registered_with_the_decorator(self) -> None:
        reg = wf.Registry()

        @reg.workflow("countdown")
        def countdown() -> wf.Term:
            step = wf.task("tick", lambda ctx: {"n": ctx["n"] - 1, "ticks": ctx["ticks"] + 1})
            again = wf.call("countdown", ctx_in=["n", "ticks"], ctx_out=["ticks"], registry=reg)
            return wf.seq(step, wf.xor(wf.branch(lambda c: c["n"] > 0, again), noop("zero")))

        res = wf.run(wf.call("countdown", ctx_in=["n", "ticks"], ctx_out=["ticks"],
                             registry=reg), {"n": 4, "ticks": 0})  # fmt: skip
        assert res.ctx["ticks"] == 4

    def test_past_the_depth_bound_the_case_fails(self) -> None:
        st = run(fact_of(fact_registry(max_depth=3), max_depth=3), {"n": 6})
        assert st.status is Status.FAILED
        assert isinstance(st.error, wf.CallDepthExceeded)
        assert isinstance(st.error, RecursionError)
        assert st.error.max_depth == 3
        assert st.error.name == "fact"

    def test_within_the_depth_bound_it_completes(self) -> None:
        st = run(fact_of(fact_registry(max_depth=3), max_depth=3), {"n": 3})
        assert st.ctx["f"] == 6

    def test_depth_exceeded_on_the_runtime(self) -> None:
        with pytest.raises(wf.CaseFailed) as info:
            wf.run(fact_of(fact_registry(max_depth=2), max_depth=2), {"n": 5})
        assert isinstance(info.value.cause, wf.CallDepthExceeded)

    def test_the_program_grows_linearly_with_the_bound(self) -> None:
        sizes = [len(wf.compile(fact_of(fact_registry(d), d)).instrs) for d in (2, 4, 8)]
        assert sizes[1] - sizes[0] == (sizes[2] - sizes[1]) // 2


# -- cancellation --------------------------------------------------------------


def waiting_child(reg: wf.Registry) -> None:
    reg.register(
        "slow",
        wf.region("inner", wf.seq(noop("started"), wf.wait_signal("go"), noop("finished")),
                  compensate=noop("undo")),
    )  # fmt: skip


class TestCancellation:
    def test_cancelling_the_parents_region_cancels_the_child(self) -> None:
        reg = wf.Registry()
        waiting_child(reg)
        term = wf.seq(
            wf.region("outer", wf.call("slow", ctx_out=["never"], registry=reg),
                      compensate=noop("outer_undo")),
            noop("after"),
        )  # fmt: skip
        st = run(term, {"k": 1}, trace_level="full")
        assert st.status is Status.BLOCKED
        assert st.cancel_region("outer") == 1
        assert st.run() is Status.DONE
        names = completed(st)
        assert "finished" not in names
        assert names[-1] == "after"
        assert "outer_undo" in names
        assert "undo" not in names  # as for nested regions: only the cancelled one compensates
        assert dict(st.ctx) == {"k": 1}  # ctx_out never ran
        assert violations(st) == []

    def test_cancelling_the_calls_region_continues_after_the_call(self) -> None:
        reg = wf.Registry()
        waiting_child(reg)
        term = wf.seq(wf.call("slow", registry=reg), wf.task("after", lambda c: {"k2": c["k"]}))
        st = run(term, {"k": 1})
        st.cancel_region("call:slow")
        assert st.run() is Status.DONE
        assert st.ctx["k2"] == 1  # back in the caller's ctx
        assert violations(st) == []

    def test_cancelling_the_childs_region_runs_its_compensation(self) -> None:
        reg = wf.Registry()
        waiting_child(reg)
        st = run(wf.seq(wf.call("slow", registry=reg), noop("after")), trace_level="full")
        st.cancel_region("inner")
        assert st.run() is Status.DONE
        assert completed(st) == ["started", "undo", "after"]

    async def test_cancel_the_calls_region_on_the_runtime(self) -> None:
        reg = wf.Registry()
        waiting_child(reg)
        async with wf.open_substrate() as sub:
            cid = await sub.new_case(wf.call("slow", registry=reg), {})
            await sub.wait_state(cid, "waiting_signal")
            with pytest.raises(wf.UnknownSignal):
                await sub.signal(cid, "nope")
            await sub.cancel_region(cid, "call:slow")
            res = await sub.wait(cid)
        assert res.state is wf.CaseState.DONE

    async def test_cancel_region_on_the_runtime(self) -> None:
        reg = wf.Registry()
        waiting_child(reg)
        term = wf.region("outer", wf.call("slow", registry=reg))
        async with wf.open_substrate() as sub:
            cid = await sub.new_case(term, {}, trace_level="full")
            await sub.wait_state(cid, "waiting_signal")
            await sub.cancel_region(cid, "outer")
            res = await sub.wait(cid)
        assert res.state is wf.CaseState.DONE
        assert "finished" not in [e.name for e in res.trace if e.kind == "task_completed"]


# -- determinism, snapshots, durable cases --------------------------------------


def coin_registry() -> wf.Registry:
    reg = wf.Registry()
    flip = wf.xor(effect("heads", {"side": "h"}), wf.seq(effect("tails", {"side": "t"}),
                                                          noop("t2")))  # fmt: skip
    reg.register("coin", wf.par(flip, effect("other", {"o": 1})))
    return reg


class TestDeterminism:
    @pytest.mark.parametrize("seed", [0, 1, 5])
    def test_seeded_run_replays(self, seed: int) -> None:
        reg = coin_registry()
        term = wf.seq(wf.call("coin", ctx_out=["side"], registry=reg), noop("after"))
        st = start(term, scheduler=Seeded(seed))
        assert drive(st, random.Random(seed)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(term), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx

    def test_snapshot_restore_mid_call(self) -> None:
        reg = wf.Registry()
        reg.register("ask", wf.seq(wf.task("q", lambda c: {"asked": c["who"]}),
                                   wf.wait_signal("answer", store_as="a")))  # fmt: skip
        # recursion and an mi around the call: several nested ctx layers
        term = wf.mi(wf.call("ask", ctx_in={"who": "item"}, ctx_out={"ans": "a"}, registry=reg),
                     items=("x", "y"), collect="answers")  # fmt: skip
        ref = run(term)
        ref.feed_signal("answer", 1)
        assert ref.run() is Status.BLOCKED
        restored = via_json(ref)
        for st in (ref, restored):
            st.feed_signal("answer", 2)
            assert st.run() is Status.DONE
            assert violations(st) == []
        assert restored.ctx == ref.ctx
        assert sorted(dict(r)["ans"] for r in ref.ctx["answers"]) == [1, 2]

    def test_snapshot_restore_mid_recursion(self) -> None:
        reg = wf.Registry()

        @reg.workflow("nest")
        def nest() -> wf.Term:
            deeper = wf.call("nest", ctx_in={"n": "m"}, ctx_out={"out": "out"}, registry=reg)
            return wf.xor(
                wf.branch(is_small, wf.wait_signal("bottom", store_as="out")),
                wf.seq(wf.task("dec", dec), deeper),
            )

        term = wf.call("nest", ctx_in=["n"], ctx_out=["out"], registry=reg)
        ref = run(term, {"n": 4})
        assert ref.status is Status.BLOCKED
        restored = via_json(ref)
        assert restored.snapshot() == ref.snapshot()
        for st in (ref, restored):
            st.feed_signal("bottom", "deep")
            assert st.run() is Status.DONE
            assert dict(st.ctx) == {"n": 4, "out": "deep"}


def test_a_snapshot_whose_token_left_the_calls_ctx_layer_is_refused() -> None:
    import attrs

    reg = wf.Registry()
    reg.register("ask", wf.seq(noop("q"), wf.wait_signal("answer", store_as="a")))
    st = run(wf.seq(wf.call("ask", registry=reg), noop("after")), {"k": 1})
    snap = st.snapshot()
    assert [s.index for s in snap.scopes] == [-1, -2]  # the root, the call's layer
    bad = attrs.evolve(snap, tokens=tuple(attrs.evolve(t, scope=snap.root) for t in snap.tokens))
    with pytest.raises(SerializationError, match="reads 1 ctx layers; the program gives it 2"):
        ExecState.restore(st.program, bad)


def ask_name(ctx: Ctx) -> Mapping[str, Any]:
    return {"asked": ctx["who"]}


def greet(ctx: Ctx) -> Mapping[str, Any]:
    return {"greeting": f"hello {ctx['reply']}"}


async def test_durable_case_resumes_mid_call(tmp_path: Any) -> None:
    reg = wf.Registry()
    reg.register("ask", wf.seq(wf.task("ask", ask_name),
                               wf.wait_signal("answer", store_as="a")))  # fmt: skip
    parent = wf.seq(wf.call("ask", ctx_in={"who": "user"}, ctx_out={"reply": "a"},
                            registry=reg), wf.task("greet", greet))  # fmt: skip
    reg.register("greeter", parent)
    assert wf.validate(parent, durable=True, signals={"answer"}) == []
    db = tmp_path / "cases.db"
    async with wf.open_substrate(path=db, registry=reg) as sub:
        cid = await sub.new_case("greeter", {"user": "ada"}, case_id="g1")
        await sub.wait_state(cid, "waiting_signal")
        await trio.testing.wait_all_tasks_blocked()
    async with wf.open_substrate(path=db, registry=reg) as sub:
        assert sub.case_ids() == ["g1"]
        await sub.wait_state("g1", "waiting_signal")
        await sub.signal("g1", "answer", "Ada")
        res = await sub.wait("g1")
    assert res.state is wf.CaseState.DONE
    assert dict(res.ctx) == {"user": "ada", "reply": "Ada", "greeting": "hello Ada"}


# -- the validator and bad input -------------------------------------------------


class TestValidation:
    def test_a_correct_call_has_no_finding(self) -> None:
        assert wf.validate(quoting(quote_registry())) == []

    def test_recursion_is_explored_to_the_bound_and_the_cut_is_a_warning(self) -> None:
        issues = wf.validate(fact_of(fact_registry(max_depth=4), max_depth=4))
        assert [(i.code, i.severity) for i in issues] == [("WF200", "warning")]
        assert "max_depth=4" in issues[0].message

    def test_a_child_that_can_never_finish_is_a_deadlock_inside_the_call(self) -> None:
        reg = wf.Registry()
        reg.register("stuck", wf.seq(wf.wait_signal("never"), noop("x")))
        term = wf.par(wf.call("stuck", registry=reg), noop("y"))
        issues = wf.validate(term, signals=["go"])
        dead = [i for i in issues if i.code == "WF201"]
        assert dead
        assert dead[0].path.startswith("par[0].call[0]")

    def test_structural_checks_see_inside_the_called_workflow(self) -> None:
        reg = wf.Registry()
        reg.register("bad", wf.seq(wf.wait_signal("never"), noop("x")))
        reg.register("good", wf.wait_signal("go"))
        term = wf.seq(wf.call("good", registry=reg), wf.call("bad", registry=reg))
        issues = wf.validate(term, signals=["go"], explore=False)
        # the undeclared wait inside the callee; "go" is waited for (in a callee)
        assert [(i.code, i.path) for i in issues] == [
            ("WF105", "call('bad')[0].seq[0].wait_signal('never')")
        ]

    def test_durable_validation_sees_lambdas_inside_the_called_workflow(self) -> None:
        reg = wf.Registry()
        reg.register("lam", wf.task("t", lambda ctx: None))
        issues = wf.validate(wf.call("lam", registry=reg), durable=True, explore=False)
        assert [i.code for i in issues] == ["WF107"]

    def test_an_unregistered_name_is_refused_at_compile(self) -> None:
        term = wf.seq(noop("a"), wf.call("nobody", registry=wf.Registry()))
        with pytest.raises(wf.TermError, match="nobody"):
            wf.compile(term)
        with pytest.raises(wf.TermError, match="nobody"):
            wf.validate(term)

    def test_registering_a_call_to_an_unknown_workflow_fails(self) -> None:
        reg = wf.Registry()
        with pytest.raises(wf.TermError, match="later"):
            reg.register("early", wf.call("later", registry=reg))
        assert "early" not in reg

    def test_a_region_with_a_calls_region_id_is_refused(self) -> None:
        reg = quote_registry()
        term = wf.par(wf.region("call:quote", noop("a")), wf.call("quote", registry=reg))
        with pytest.raises(wf.TermError, match="call:quote"):
            wf.compile(term)

    @pytest.mark.parametrize(
        ("kw", "match"),
        [
            ({"name": ""}, "name"),
            ({"name": 3}, "name"),
            ({"ctx_in": "n"}, "ctx_in"),
            ({"ctx_in": {"n": 1}}, "ctx_in"),
            ({"ctx_out": {"": "x"}}, "ctx_out"),
            ({"version": 0}, "version"),
            ({"max_depth": 0}, "max_depth"),
            ({"max_depth": True}, "max_depth"),
            ({"scope": ""}, "scope"),
            ({"registry": object()}, "registry"),
        ],
    )
    def test_bad_arguments(self, kw: dict[str, Any], match: str) -> None:
        args: dict[str, Any] = {"name": "x", **kw}
        with pytest.raises(wf.TermTypeError, match=match):
            wf.call(**args)

    def test_repr_and_equality(self) -> None:
        reg = wf.Registry()
        a = wf.call("x", ctx_in={"n": "m"}, max_depth=3, registry=reg)
        assert a == wf.call("x", ctx_in={"n": "m"}, max_depth=3, registry=reg)
        assert a != wf.call("x", ctx_in={"n": "m"}, max_depth=3, registry=wf.Registry())
        assert repr(a) == "call('x', ctx_in={'n': 'm'}, max_depth=3)"


async def test_call_waits_do_not_block_other_cases() -> None:
    """Two cases of one recursive workflow run side by side on one substrate."""
    reg = fact_registry()
    async with wf.open_substrate(registry=reg) as sub:
        a = await sub.new_case(fact_of(reg), {"n": 4})
        b = await sub.new_case(fact_of(reg), {"n": 6})
        ra, rb = await sub.wait(a), await sub.wait(b)
    assert (ra.ctx["f"], rb.ctx["f"]) == (24, 720)
    await trio.lowlevel.checkpoint()


def test_graph_draws_a_call_as_one_box() -> None:
    from wftrio.graph import diagram, to_mermaid

    term = quoting(quote_registry())
    labels = [n.label for n in diagram(term).nodes]
    assert "call quote" in labels
    assert "call quote" in to_mermaid(term)


def is_zero(ctx: Ctx) -> bool:
    return bool(ctx["n"] == 0)


class TestMutualRecursion:
    @staticmethod
    def even_odd(reg: wf.Registry) -> dict[str, wf.Term]:
        def other(name: str, answer: bool) -> wf.Term:
            return wf.xor(
                wf.branch(is_zero, wf.task(f"{name}:0", lambda c: {"yes": answer})),
                wf.seq(wf.task(f"{name}:dec", dec),
                       wf.call("odd" if name == "even" else "even", ctx_in={"n": "m"},
                               ctx_out=["yes"], registry=reg)),
            )  # fmt: skip

        return {"even": other("even", True), "odd": other("odd", False)}

    @pytest.mark.parametrize(("n", "even"), [(0, True), (3, False), (6, True)])
    def test_workflows_calling_each_other(self, n: int, even: bool) -> None:
        reg = wf.Registry()
        entries = reg.register_together(self.even_odd(reg))
        assert [e.name for e in entries] == ["even", "odd"]
        st = run(wf.call("even", ctx_in=["n"], ctx_out=["yes"], registry=reg), {"n": n})
        assert st.ctx["yes"] is even

    def test_one_by_one_they_cannot_be_registered(self) -> None:
        reg = wf.Registry()
        with pytest.raises(wf.TermError, match="odd"):
            reg.register("even", self.even_odd(reg)["even"])

    def test_all_or_nothing(self) -> None:
        reg = wf.Registry()
        group = {**self.even_odd(reg), "bad": wf.call("nobody", registry=reg)}
        with pytest.raises(wf.TermError, match="nobody"):
            reg.register_together(group)
        assert len(reg) == 0

    @pytest.mark.parametrize(
        ("arg", "err"),
        [({}, wf.RegistrationError), ([], wf.RegistrationTypeError),
         ({"x": 1}, wf.RegistrationTypeError), ({"": noop("a")}, wf.RegistrationError)],
    )  # fmt: skip
    def test_bad_arguments(self, arg: Any, err: type[Exception]) -> None:
        with pytest.raises(err):
            wf.Registry().register_together(arg)


def test_the_command_line_sends_signals_to_and_cancels_a_called_workflow(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from wftrio.cli import main

    module = tmp_path / "calling.py"
    module.write_text(
        "import wftrio as wf\n"
        "REG = wf.Registry()\n"
        "REG.register('ask', wf.wait_signal('answer', store_as='a'))\n"
        "WORKFLOW = wf.call('ask', ctx_out=['a'], registry=REG)\n",
        encoding="utf-8",
    )
    assert main(["run", str(module), "--signal", "answer=42@1"]) == 0
    assert '"a": 42' in capsys.readouterr().out
    assert main(["run", str(module), "--cancel-region", "call:ask@1"]) == 0


def test_a_late_branch_of_the_child_finishes_in_the_childs_scope() -> None:
    reg = wf.Registry()
    late = wf.seq(wf.wait_signal("x"), wf.task("late", lambda c: {"y": 1}))
    reg.register("race", wf.join(wf.first(1), wf.task("fast", lambda c: {"r": "fast"}), late))
    st = run(wf.seq(wf.call("race", ctx_out=["r"], registry=reg),
                    noop("after")), {"k": 0}, trace_level="full")  # fmt: skip
    assert st.status is Status.BLOCKED  # the late branch still waits
    assert completed(st) == ["fast", "after"]
    st.feed_signal("x")
    assert st.run() is Status.DONE
    assert completed(st)[-1] == "late"
    assert dict(st.ctx) == {"k": 0, "r": "fast"}  # y stayed in the child's scope
    assert violations(st) == []
