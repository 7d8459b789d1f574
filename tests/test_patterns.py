"""Derived patterns: their term forms, and their behaviour on the real reducer."""

from __future__ import annotations

import importlib
import inspect
import random
from collections.abc import Mapping
from typing import Any

import pytest
from reducer_helpers import completed, drive, effect, inc, noop, outbox_of, run, start

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import ExecState, StartEffect, StartTimer, Status
from wftrio.engine.replay import run_with_inputs
from wftrio.scheduling import Replay, Seeded
from wftrio.terms import walk

A, B, C = noop("a"), noop("b"), noop("c")


def yes(ctx: Mapping[str, Any]) -> bool:
    return True


def count_f(ctx: Mapping[str, Any]) -> int:
    return 2


def items_f(ctx: Mapping[str, Any]) -> list[int]:
    return [1, 2]


# ---------------------------------------------------------------------------
# catalogue and documentation


class TestCatalogue:
    def test_entries(self) -> None:
        assert P.CATALOGUE
        for n, (name, fn) in P.CATALOGUE.items():
            assert isinstance(n, int)
            assert 1 <= n <= 43
            assert fn.__name__ == name
            assert getattr(P, name) is fn
            assert name in P.__all__
            assert f"WCP-{n}" in (fn.__doc__ or ""), name

    def test_every_public_function_names_its_wcp_and_term_form(self) -> None:
        for name in P.__all__:
            obj = getattr(P, name)
            if name == "CATALOGUE":
                continue
            doc = inspect.getdoc(obj) or ""
            assert "WCP-" in doc, name
            assert "Term form" in doc or "special case" in doc, name

    def test_all_is_sorted_and_complete(self) -> None:
        # the façade re-exports every public function of the algebra's pattern modules
        impl = importlib.import_module("wftrio.algebra.patterns")
        public = set()
        others = (
            "wftrio.algebra.mi_patterns",
            "wftrio.algebra.join_patterns",
            "wftrio.algebra.call_patterns",
            "wftrio.algebra.sync_patterns",
        )
        for mod in (impl, *map(importlib.import_module, others)):
            public |= {
                n
                for n, v in vars(mod).items()
                if not n.startswith("_") and inspect.isfunction(v) and v.__module__ == mod.__name__
            }
        assert public | {"CATALOGUE"} == set(P.__all__)
        assert all(getattr(P, n) is getattr(impl, n) for n in P.__all__)


# ---------------------------------------------------------------------------
# term forms


def kernel_only(term: wf.Term) -> bool:
    return all(type(node).__module__ == "wftrio.algebra.nodes" for _, node in walk(term))


ALIASES: list[tuple[wf.Term, wf.Term]] = [
    (P.sequence(A, B), wf.seq(A, B)),
    (P.parallel_split(A, B), wf.par(A, B)),
    (P.synchronization(A, B), wf.par(A, B)),
    (P.exclusive_choice(wf.branch(yes, A), B), wf.xor(wf.branch(yes, A), B)),
    (P.simple_merge(A, B), wf.xor(A, B)),
    (P.multi_choice(wf.branch(yes, A), B), wf.choice(wf.branch(yes, A), B)),
    (P.structured_synchronizing_merge(A, B), wf.join("sync_merge", A, B)),
    (P.discriminator(A, B, C), wf.join(wf.first(1), A, B, C)),
    (P.cancelling_discriminator(A, B), wf.join(wf.first(1, cancel_rest=True), A, B)),
    (P.n_out_of_m(2, A, B, C), wf.join(wf.first(2), A, B, C)),
    (P.n_out_of_m(2, A, B, C, cancel_rest=True), wf.join(wf.first(2, cancel_rest=True), A, B, C)),
    (P.partial_join(2, A, B, C), wf.join(wf.first(2), A, B, C)),
    (P.cancelling_partial_join(2, A, B), wf.join(wf.first(2, cancel_rest=True), A, B)),
    (P.mi_without_sync(A, count=3), wf.mi(A, count=3, join="none")),
    (
        P.mi_with_design_time_knowledge(A, items=[1, 2], collect="o"),
        wf.mi(A, items=[1, 2], collect="o"),
    ),
    (P.mi_with_runtime_knowledge(A, count=count_f), wf.mi(A, count=count_f)),
    (P.mi_with_runtime_knowledge(A, items=items_f), wf.mi(A, items=items_f)),
    (P.static_partial_join_mi(A, 2, count=3), wf.mi(A, count=3, join=2)),
    (P.deferred_choice(wf.on_signal("s", A)), wf.defer(wf.on_signal("s", A))),
    (P.structured_loop(A, times=2), wf.loop(A, times=2)),
    (P.persistent_trigger("s", "x"), wf.wait_signal("s", store_as="x")),
    (P.cancel_activity("r", A, compensate=B), wf.region("r", A, compensate=B)),
    (P.cancel_region("r", wf.seq(A, B)), wf.region("r", wf.seq(A, B))),
    (P.cancel_mi_activity("r", A, count=2), wf.region("r", wf.mi(A, count=2))),
    (P.explicit_termination(), wf.terminate()),
    (P.multi_merge(A, B, then=C), wf.par(wf.seq(A, C), wf.seq(B, C))),
]


class TestTermForms:
    @pytest.mark.parametrize(("got", "want"), ALIASES, ids=[repr(w)[:40] for _, w in ALIASES])
    def test_alias_is_the_kernel_term(self, got: wf.Term, want: wf.Term) -> None:
        assert got == want

    def test_encodings_use_kernel_nodes_only(self) -> None:
        for term in (
            P.interleaved_parallel_routing([A, B], C),
            P.milestone("m", A),
            P.critical_section("L", A),
        ):
            assert kernel_only(term)
            wf.compile(term)

    def test_design_time_rejects_callables(self) -> None:
        with pytest.raises(wf.TermTypeError, match="mi_with_design_time_knowledge"):
            P.mi_with_design_time_knowledge(A, count=count_f)  # type: ignore[arg-type]

    def test_runtime_rejects_fixed_numbers(self) -> None:
        with pytest.raises(wf.TermTypeError, match=r"mi_with_runtime_knowledge\(count=3\)"):
            P.mi_with_runtime_knowledge(A, count=3)  # type: ignore[arg-type]

    def test_kernel_validation_applies(self) -> None:
        with pytest.raises(wf.TermError, match="n=4 exceeds the 3 branches"):
            P.n_out_of_m(4, A, B, C)
        with pytest.raises(wf.TermError, match="par\\(\\): needs at least one branch"):
            P.parallel_split()


# ---------------------------------------------------------------------------
# behaviour


class TestDiscriminators:
    def test_discriminator(self) -> None:
        st = run(wf.seq(P.discriminator(wf.wait_signal("x"), noop("b"), noop("c")), inc("after")))
        assert completed(st) == ["b", "after", "c"]
        assert st.status is Status.BLOCKED
        st.feed_signal("x")
        assert st.run() is Status.DONE
        assert st.ctx == {"n": 1}

    def test_cancelling_discriminator(self) -> None:
        st = run(
            wf.seq(
                P.cancelling_discriminator(wf.seq(wf.wait_signal("x"), noop("a")), effect("e")),
                noop("after"),
            )
        )
        st.feed_signal("x")
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "after"]
        assert not st.effects


class TestMultiMerge:
    def test_continuation_runs_once_per_branch_as_each_arrives(self) -> None:
        st = run(
            wf.seq(
                P.multi_merge(noop("a"), wf.seq(wf.wait_signal("go"), noop("b")), then=inc("then")),
                noop("after"),
            )
        )
        assert st.status is Status.BLOCKED
        assert completed(st) == ["a", "then"]
        st.feed_signal("go")
        assert st.run() is Status.DONE
        assert completed(st) == ["a", "then", "b", "then", "after"]
        assert st.ctx == {"n": 2}

    def test_then_with_region_rejected(self) -> None:
        with pytest.raises(wf.TermError, match=r"multi_merge\(then=.*region"):
            P.multi_merge(A, B, then=wf.region("r", C))

    def test_needs_branches(self) -> None:
        with pytest.raises(wf.TermError, match="multi_merge"):
            P.multi_merge(then=A)


def steps_of(st: Any) -> list[str]:
    """Completed task names, without the pattern's bookkeeping tasks."""
    return [n for n in completed(st) if ":" not in n]


class TestInterleavedParallelRouting:
    def term(self) -> wf.Term:
        return P.interleaved_parallel_routing(
            [noop("a1"), noop("a2")], noop("b"), [noop("c1"), noop("c2"), noop("c3")]
        )

    def test_deterministic_runs_chains_in_written_order(self) -> None:
        st = run(self.term(), {"k": 1})
        assert st.status is Status.DONE
        assert steps_of(st) == ["a1", "a2", "b", "c1", "c2", "c3"]
        assert st.ctx == {"k": 1, "interleaved": [0, 0, 1, 2, 2, 2]}

    @pytest.mark.parametrize("seed", range(25))
    def test_each_step_once_chain_order_kept(self, seed: int) -> None:
        st = run(self.term(), scheduler=Seeded(seed))
        assert st.status is Status.DONE
        got = steps_of(st)
        assert sorted(got) == ["a1", "a2", "b", "c1", "c2", "c3"]
        assert got.index("a1") < got.index("a2")
        assert got.index("c1") < got.index("c2") < got.index("c3")
        names = {0: "a", 1: "b", 2: "c"}
        assert [names[i] for i in st.ctx["interleaved"]] == [s[0] for s in got]

    def test_order_is_chosen_at_run_time(self) -> None:
        orders = {tuple(steps_of(run(self.term(), scheduler=Seeded(s)))) for s in range(40)}
        assert len(orders) >= 5
        assert any(o[0] == "c1" for o in orders)
        assert any(o.index("b") > o.index("c1") for o in orders)

    def test_mutual_exclusion_of_effect_steps(self) -> None:
        # every step is a real effect; alongside runs an unrelated branch
        term = wf.par(
            P.interleaved_parallel_routing(
                [effect("a1"), effect("a2")], effect("b"), effect("c"), key="ipr"
            ),
            wf.seq(effect("other1"), effect("other2")),
        )
        steps = {"a1", "a2", "b", "c"}
        saw_other_overlap = False
        for seed in range(30):
            st = start(term, scheduler=Seeded(seed))
            max_live = 0

            def watch(st_: Any, pending: list[Any]) -> None:
                nonlocal max_live, saw_other_overlap
                live = [p for p in pending if isinstance(p, StartEffect) and p.name in steps]
                max_live = max(max_live, len(live))
                if live and any(
                    isinstance(p, StartEffect) and p.name.startswith("other") for p in pending
                ):
                    saw_other_overlap = True

            assert drive(st, random.Random(seed), watch) is Status.DONE
            assert max_live == 1
            assert sorted(n for n in completed(st) if n in steps) == sorted(steps)
        # the exclusion is among the steps only: the other branch still overlaps them
        assert saw_other_overlap

    def test_seeded_run_replays(self) -> None:
        term = P.interleaved_parallel_routing([effect("a1"), effect("a2")], effect("b"), noop("c"))
        prog = wf.compile(term)
        st = start(term, scheduler=Seeded(7))
        assert drive(st, random.Random(7)) is Status.DONE
        log = wf.replay_log(st.events)
        again = ExecState(prog, None, scheduler=Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events
        assert again.ctx == st.ctx

    def test_steps_may_be_composite(self) -> None:
        st = run(
            P.interleaved_parallel_routing(
                wf.par(noop("p1"), noop("p2")), wf.loop(inc("l"), times=2), key="k"
            )
        )
        assert steps_of(st) == ["p1", "p2", "l", "l"]
        assert st.ctx == {"n": 2, "k": [0, 1]}

    def test_single_chain(self) -> None:
        st = run(P.interleaved_parallel_routing([noop("x"), noop("y")]))
        assert steps_of(st) == ["x", "y"]

    def test_inside_mi_instances_is_instance_local(self) -> None:
        st = run(
            wf.mi(P.interleaved_parallel_routing(noop("x"), noop("y")), count=2, collect="out")
        )
        assert st.status is Status.DONE
        assert st.ctx == {"out": [{"interleaved": [0, 1]}, {"interleaved": [0, 1]}]}

    def test_interleaved_routing(self) -> None:
        st = run(
            P.interleaved_routing(noop("x"), noop("y"), noop("z"), key="o"), scheduler=Seeded(3)
        )
        assert sorted(steps_of(st)) == ["x", "y", "z"]
        assert sorted(st.ctx["o"]) == [0, 1, 2]
        with pytest.raises(wf.TermTypeError, match="interleaved_routing"):
            P.interleaved_routing([noop("x")])  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("args", "kw", "match"),
        [
            ((), {}, "needs at least one chain"),
            (([],), {}, r"interleaved_parallel_routing\[0\]"),
            (("x",), {}, r"interleaved_parallel_routing\[0\]"),
            (([noop("a"), 3],), {}, r"interleaved_parallel_routing\[0\]\[1\]"),
            ((noop("a"),), {"key": ""}, "key must be a non-empty string"),
        ],
    )
    def test_errors(self, args: tuple[Any, ...], kw: dict[str, Any], match: str) -> None:
        with pytest.raises(wf.TermError, match=match):
            P.interleaved_parallel_routing(*args, **kw)

    def test_duplicate_regions_across_steps_rejected(self) -> None:
        r = wf.region("r", noop("x"))
        with pytest.raises(wf.TermError, match="duplicate region id 'r'"):
            P.interleaved_parallel_routing(r, r)


class TestMilestone:
    def term(self) -> wf.Term:
        return wf.seq(noop("before"), P.milestone("m", noop("body")), noop("after"))

    def test_reached_before_the_branch_gets_there(self) -> None:
        st = start(self.term())
        st.feed_signal("m:reached")
        assert st.run() is Status.DONE
        assert completed(st) == ["before", "body", "after"]

    def test_waits_for_the_milestone(self) -> None:
        st = run(self.term())
        assert st.status is Status.BLOCKED
        assert st.blocked_on()["signals"] == ["m:expired", "m:reached"]
        st.feed_signal("m:reached")
        assert st.run() is Status.DONE
        assert completed(st) == ["before", "body", "after"]

    def test_expired_while_waiting(self) -> None:
        st = run(self.term())
        st.feed_signal("m:expired")
        assert st.run() is Status.DONE
        assert completed(st) == ["before", "m:missed", "after"]

    def test_reached_and_expired_before_means_missed(self) -> None:
        st = start(self.term())
        st.feed_signal("m:reached")
        st.feed_signal("m:expired")
        assert st.run() is Status.DONE
        assert completed(st) == ["before", "m:missed", "after"]
        assert st.pending_signals() == {"m:reached": 1}

    def test_otherwise(self) -> None:
        st = start(P.milestone("m", noop("body"), otherwise=noop("late")))
        st.feed_signal("m:expired")
        st.run()
        assert completed(st) == ["late"]

    def test_bad_name(self) -> None:
        with pytest.raises(wf.TermTypeError, match="milestone"):
            P.milestone("", noop("x"))


def section(i: int, lock: str = "L") -> wf.Term:
    return P.critical_section(lock, wf.seq(noop(f"in{i}"), effect(f"w{i}"), noop(f"out{i}")))


def overlapping(names: list[str]) -> bool:
    """Whether two in/out bracketed sections overlap in a completion order."""
    inside: str | None = None
    for n in names:
        if n.startswith("in"):
            if inside is not None:
                return True
            inside = n[2:]
        elif n.startswith("out"):
            assert inside == n[3:]
            inside = None
    return False


class TestCriticalSection:
    def test_second_section_waits_on_the_lock(self) -> None:
        st = run(wf.par(section(1), section(2)))
        assert st.status is Status.BLOCKED
        (eff,) = outbox_of(st, StartEffect)
        assert eff.name == "w1"
        (timer,) = outbox_of(st, StartTimer)
        assert timer.seconds == 0.01
        assert st.ctx["lock:L"].startswith("critical:L@")
        st.take_outbox()
        # the lock is still held: the retry re-arms the timer
        st.fire_timer(timer.tid)
        assert st.run() is Status.BLOCKED
        (timer2,) = outbox_of(st, StartTimer)
        assert not outbox_of(st, StartEffect)
        st.take_outbox()
        st.feed_effect(eff.eid, None)
        st.run()
        assert "out1" in completed(st)
        assert st.ctx["lock:L"] is None
        st.fire_timer(timer2.tid)
        assert st.run() is Status.BLOCKED
        (eff2,) = outbox_of(st, StartEffect)
        assert eff2.name == "w2"
        st.feed_effect(eff2.eid, None)
        assert st.run() is Status.DONE
        assert st.ctx == {"lock:L": None}

    @pytest.mark.parametrize("seed", range(20))
    def test_sections_never_overlap(self, seed: int) -> None:
        st = start(wf.par(section(1), section(2), section(3)), scheduler=Seeded(seed))
        assert drive(st, random.Random(seed)) is Status.DONE
        names = [n for n in completed(st) if n[:2] in ("in", "ou")]
        assert len(names) == 6
        assert not overlapping(names)
        assert st.ctx == {"lock:L": None}

    def test_checker_sees_overlap_without_the_lock(self) -> None:
        def plain(i: int) -> wf.Term:
            return wf.seq(noop(f"in{i}"), effect(f"w{i}"), noop(f"out{i}"))

        st = start(wf.par(plain(1), plain(2)))
        assert drive(st) is Status.DONE
        assert overlapping([n for n in completed(st) if n[:2] in ("in", "ou")])

    def test_different_locks_do_not_exclude(self) -> None:
        st = run(wf.par(section(1, "L"), section(2, "M")))
        assert [c.name for c in outbox_of(st, StartEffect)] == ["w1", "w2"]

    def test_cancelling_a_section_releases_the_lock(self) -> None:
        s1 = P.critical_section("L", effect("w1"), section="s1")
        s2 = P.critical_section("L", wf.seq(effect("w2"), noop("done2")), section="s2")
        st = run(wf.par(s1, s2))
        assert st.ctx["lock:L"] == "s1"
        (timer,) = outbox_of(st, StartTimer)
        st.take_outbox()
        assert st.cancel_region("s1") == 1
        st.run()
        assert st.ctx["lock:L"] is None
        st.fire_timer(timer.tid)
        st.run()
        (eff2,) = outbox_of(st, StartEffect)
        assert eff2.name == "w2"
        assert st.ctx["lock:L"] == "s2"

    def test_same_section_term_twice_rejected(self) -> None:
        s = section(1)
        with pytest.raises(wf.TermError, match="duplicate region id 'critical:L@"):
            wf.par(s, s)

    @pytest.mark.parametrize("poll", [0, -1, float("inf"), "1", True])
    def test_bad_poll(self, poll: Any) -> None:
        with pytest.raises(wf.TermTypeError, match="critical_section\\(poll="):
            P.critical_section("L", A, poll=poll)

    def test_bad_lock_and_section(self) -> None:
        with pytest.raises(wf.TermTypeError, match="critical_section\\(lock="):
            P.critical_section("", A)
        with pytest.raises(wf.TermTypeError, match="critical_section\\(section="):
            P.critical_section("L", A, section="")
