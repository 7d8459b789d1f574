"""Arbitrary cycles (WCP-10): ``wf.machine``, a state machine desugared to ``loop(xor(...))``."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
from reducer_helpers import completed, drive, effect, inc, noop, put, run, start

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import ExecState, Status, program_fingerprint
from wftrio.engine.replay import run_with_inputs
from wftrio.graph import diagram, to_mermaid
from wftrio.scheduling import Replay, Seeded

Ctx = Mapping[str, Any]


def needs_rework(ctx: Ctx) -> bool:
    return bool(ctx.get("reviews", 0) < 3)


def review_cycle() -> wf.Term:
    """draft -> review -> (rework -> review)* -> publish -> end."""
    return wf.machine(
        "draft",
        {
            "draft": (noop("draft"), "review"),
            "review": (inc("review", "reviews"), [(needs_rework, "rework"), "publish"]),
            "rework": (noop("rework"), "review"),
            "publish": (noop("publish"), wf.END),
        },
    )


def user_steps(st: ExecState, key: str = "machine") -> list[str]:
    """The completed tasks, without the machine's own transition tasks."""
    return [n for n in completed(st) if not n.startswith(f"{key}:")]


class TestRuns:
    def test_review_cycle(self) -> None:
        st = run(review_cycle())
        assert st.status is Status.DONE
        assert user_steps(st) == [
            "draft", "review", "rework", "review", "rework", "review", "publish",
        ]  # fmt: skip
        assert st.ctx["reviews"] == 3
        assert st.ctx["machine"] == wf.END

    def test_trace_names_every_transition(self) -> None:
        st = run(review_cycle())
        moves = [n for n in completed(st) if n.startswith("machine:")]
        assert moves == [
            "machine:->draft",
            "machine:draft->review",
            "machine:review->rework",
            "machine:rework->review",
            "machine:review->rework",
            "machine:rework->review",
            "machine:review->publish",
            "machine:publish->end",
        ]

    def test_cycle_that_is_not_block_structured(self) -> None:
        # a -> b -> c -> d; c jumps back to a, d jumps back to b: two overlapping
        # back edges to different earlier states, which no nesting of loops writes
        def again_a(ctx: Ctx) -> bool:
            return bool(ctx["na"] < 2)

        def again_b(ctx: Ctx) -> bool:
            return bool(ctx["nb"] < 4)

        m = wf.machine(
            "a",
            {
                "a": (inc("a", "na"), "b"),
                "b": (inc("b", "nb"), "c"),
                "c": (noop("c"), [(again_a, "a"), "d"]),
                "d": (noop("d"), [(again_b, "b"), wf.END]),
            },
        )
        st = run(m)
        assert st.status is Status.DONE
        assert "".join(user_steps(st)) == "abcabcdbcdbcd"
        assert (st.ctx["na"], st.ctx["nb"]) == (2, 4)

    def test_default_transition_when_no_condition_holds(self) -> None:
        def never(ctx: Ctx) -> bool:
            return False

        m = wf.machine(
            "s",
            {
                "s": (noop("s"), [(never, "t"), "u"]),
                "t": (noop("t"), "end"),
                "u": (noop("u"), "end"),
            },
        )
        st = run(m)
        assert user_steps(st) == ["s", "u"]

    def test_first_true_condition_wins(self) -> None:
        def yes(ctx: Ctx) -> bool:
            return True

        m = wf.machine(
            "s",
            {
                "s": (noop("s"), [(yes, "t"), (yes, "u"), wf.END]),
                "t": (noop("t"), wf.END),
                "u": (noop("u"), wf.END),
            },
        )
        assert user_steps(run(m)) == ["s", "t"]

    def test_no_true_condition_and_no_default_fails_the_case(self) -> None:
        def never(ctx: Ctx) -> bool:
            return False

        m = wf.machine("s", {"s": (noop("s"), [(never, wf.END)])})
        st = run(m)
        assert st.status is Status.FAILED

    def test_on_the_runtime(self) -> None:
        res = wf.run(review_cycle(), {"reviews": 1})
        assert res.state is wf.CaseState.DONE
        assert res.ctx == {"reviews": 3, "machine": "end"}

    def test_states_may_run_effects(self) -> None:
        m = wf.machine(
            "fetch",
            {
                "fetch": (effect("fetch", {"got": 1}), [(needs_rework, "fetch"), "done"]),
                "done": (inc("done", "reviews"), wf.END),
            },
        )
        res = wf.run(m, {"reviews": 3})
        assert res.ctx["got"] == 1
        assert res.ctx["reviews"] == 4

    def test_two_machines_with_their_own_keys(self) -> None:
        def mk(key: str) -> wf.Term:
            return wf.machine("x", {"x": (inc(f"{key}.x", key + ".n"), wf.END)}, key=key)

        st = run(wf.par(mk("m1"), mk("m2")))
        assert st.status is Status.DONE
        assert (st.ctx["m1"], st.ctx["m2"]) == ("end", "end")


def coin_machine() -> wf.Term:
    """A loop whose path is the scheduler's choice: ``flip`` picks heads or tails."""

    def heads(ctx: Ctx) -> bool:
        return bool(ctx["side"] == "heads")

    def enough(ctx: Ctx) -> bool:
        return bool(ctx.get("flips", 0) >= 6)

    coin = wf.xor(put("heads", side="heads"), put("tails", side="tails"))
    flip = wf.seq(inc("flip", "flips"), coin)
    return wf.machine(
        "flip",
        {
            "flip": (flip, [(enough, wf.END), (heads, "flip"), "tails"]),
            "tails": (effect("tails_effect"), "flip"),
        },
    )


class TestDeterminism:
    @pytest.mark.parametrize("seed", [0, 1, 7])
    def test_seeded_run_replays(self, seed: int) -> None:
        term = coin_machine()
        st = start(term, scheduler=Seeded(seed))
        assert drive(st, random.Random(seed)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(wf.compile(term), None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx

    def test_seeds_take_different_paths(self) -> None:
        paths = set()
        for seed in range(8):
            st = start(coin_machine(), scheduler=Seeded(seed))
            drive(st, random.Random(seed))
            paths.add(tuple(completed(st)))
        assert len(paths) > 1

    def test_ids_are_a_function_of_the_term(self) -> None:
        a, b = review_cycle(), review_cycle()
        # the user's lambdas differ between calls (so the terms are not equal),
        # but everything the machine adds prints, compares and hashes as a value
        assert repr(a) == repr(b)
        m1 = wf.machine("s", {"s": (wf.task("s", needs_rework), wf.END)})
        m2 = wf.machine("s", {"s": (wf.task("s", needs_rework), wf.END)})
        assert m1 == m2
        assert hash(m1) == hash(m2)
        assert program_fingerprint(wf.compile(m1)) == program_fingerprint(wf.compile(m2))


class TestStatic:
    def test_validate_finds_nothing(self) -> None:
        assert wf.validate(review_cycle()) == []

    def test_compiles_to_a_loop_around_a_dispatching_xor(self) -> None:
        ops = {i.op for i in wf.compile(review_cycle()).instrs}
        assert ops == {"task", "xor", "loop_test", "end"}

    def test_graph_shows_states_and_transitions(self) -> None:
        d = diagram(review_cycle())
        assert {"draft", "review", "rework", "publish", "machine:review->rework"} <= set(
            d.labels("task")
        )
        assert "until machine:ended" in d.labels()
        edges = {e.label for e in d.edges}
        assert {"machine==draft", "machine==review", "needs_rework", "default"} <= edges
        text = to_mermaid(review_cycle())
        assert "machine==review" in text
        assert "machine:review-#gt;rework" in text

    def test_repr_names_states(self) -> None:
        text = repr(review_cycle())
        assert "branch(machine==draft, " in text
        assert "task('machine:publish->end'" in text

    def test_catalogue_alias(self) -> None:
        states = {"s": (noop("s"), wf.END)}
        assert P.CATALOGUE[10] == ("arbitrary_cycles", P.arbitrary_cycles)
        term = P.arbitrary_cycles("s", states)
        assert repr(term) == repr(wf.machine("s", states))


async def async_cond(ctx: Ctx) -> bool:
    return True


S = noop("s")


@pytest.mark.parametrize(
    ("args", "kw", "error", "match"),
    [
        (("nowhere", {"s": (S, wf.END)}), {}, wf.TermError, r"start='nowhere'.*unknown state"),
        ((3, {"s": (S, wf.END)}), {}, wf.TermTypeError, r"start"),
        (("s", {"s": (S, "t")}), {}, wf.TermError, r"states\['s'\]\.transitions\[0\].*'t'"),
        (
            ("s", {"s": (S, [(needs_rework, "x"), wf.END])}),
            {},
            wf.TermError,
            r"transitions\[0\]: unknown target state 'x'",
        ),
        (("s", {"s": (S, "s")}), {}, wf.TermError, r"no transition goes to wf.END"),
        (
            ("a", {"a": (S, [(needs_rework, "b"), wf.END]), "b": (S, "c"), "c": (S, "b")}),
            {},
            wf.TermError,
            r"states\['b'\]: no path of transitions from 'b' reaches wf.END",
        ),
        (("s", {"s": (S, wf.END), "end": (S, wf.END)}), {}, wf.TermError, r"states\['end'\]"),
        (("s", [("s", (S, wf.END))]), {}, wf.TermTypeError, r"states=.*mapping"),
        (("s", {}), {}, wf.TermError, r"states=\{\}"),
        (("s", {"s": S}), {}, wf.TermTypeError, r"states\['s'\] is .*\(term, transitions\)"),
        (("s", {"s": ("task", wf.END)}), {}, wf.TermTypeError, r"states\['s'\]\.term is 'task'"),
        (("s", {"s": (S, [])}), {}, wf.TermTypeError, r"states\['s'\]: transitions=\[\]"),
        (("s", {"s": (S, 3)}), {}, wf.TermTypeError, r"transitions=3"),
        (
            ("s", {"s": (S, [wf.END, (needs_rework, wf.END)])}),
            {},
            wf.TermError,
            r"transitions\[0\].*default.*last",
        ),
        (("s", {"s": (S, [(needs_rework,)])}), {}, wf.TermTypeError, r"transitions\[0\] is"),
        (("s", {"s": (S, [(3, wf.END)])}), {}, wf.TermTypeError, r"transitions\[0\].*cond"),
        (
            ("s", {"s": (S, [(async_cond, wf.END)])}),
            {},
            wf.TermTypeError,
            r"transitions\[0\].*cond=async_cond is async",
        ),
        (("s", {"s": (S, [(needs_rework, 5)])}), {}, wf.TermTypeError, r"target"),
        (("s", {"s": (S, wf.END)}), {"key": ""}, wf.TermTypeError, r"key"),
        (("s", {"": (S, wf.END)}), {}, wf.TermTypeError, r"state name"),
    ],
)
def test_bad_arguments(
    args: tuple[Any, ...], kw: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        wf.machine(*args, **kw)


def test_region_ids_repeated_across_states_are_refused() -> None:
    r = wf.region("r", noop("x"))
    with pytest.raises(wf.TermError, match="'r'"):
        wf.machine("a", {"a": (r, "b"), "b": (r, wf.END)})
