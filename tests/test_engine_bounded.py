"""No reduction step does unbounded work (issue 10, item 17).

An ``mi`` spawns its instances ``SPAWN_CHUNK`` per step, so a case with
300,000 instances gives the trio loop back after every burst of
``step_quanta`` steps like any other case; where a run is split into bursts
never changes the case (a replay splits it elsewhere).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import trio

import wftrio as wf
from wftrio.engine import ExecState, Status
from wftrio.engine._ops import SPAWN_CHUNK
from wftrio.runtime import open_substrate
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.testing.invariants import check_invariants

body = wf.task("inst", lambda c: {"sq": c["index"] ** 2})


def test_one_step_spawns_at_most_a_chunk_of_instances() -> None:
    st = ExecState(wf.compile(wf.mi(wf.wait_signal("go"), count=30_000)), trace_level="none")
    before = 0
    for _ in range(300):
        assert st.run(max_steps=1) is Status.RUNNING
        now = len(st.tokens) - 1  # the instances, without the spawner
        assert now - before <= SPAWN_CHUNK
        before = now
    assert before > 0


def test_bursts_of_any_size_give_the_same_case_with_effects() -> None:
    # found by hypothesis: when the chunk followed the burst's budget, a run in
    # bursts of one step interleaved spawning and effects differently from one
    # long run, so its replay (other bursts) diverged
    async def eff(ctx: Any) -> dict[str, int]:
        return {"a": 1}

    term = wf.mi(wf.task("e0", eff), count=2 * SPAWN_CHUNK + 3)
    runs = []
    for burst in (1, 7, 1_000_000):
        st = ExecState(wf.compile(term))
        while st.run(max_steps=burst) is Status.RUNNING:
            pass
        runs.append([(e.kind, e.token, dict(e.data)) for e in st.events])
    assert runs[0] == runs[1] == runs[2]


def test_a_chunked_spawn_gives_the_same_case_as_one_run() -> None:
    term = wf.seq(wf.mi(body, items=list(range(50)), collect="out"), wf.task("z", lambda c: None))
    whole = ExecState(wf.compile(term))
    whole.run()
    bits = ExecState(wf.compile(term))
    while bits.run(max_steps=7) is Status.RUNNING:
        check_invariants(bits)
    assert bits.events == whole.events
    assert bits.ctx == whole.ctx
    assert [r["sq"] for r in whole.ctx["out"]] == [i * i for i in range(50)]


def test_a_snapshot_taken_while_spawning_resumes_identically() -> None:
    term = wf.mi(wf.seq(body, wf.wait_signal("go")), items=[{"k": i} for i in range(30)], join=20)
    prog = wf.compile(term)
    st = ExecState(prog)
    st.run(max_steps=10)
    again = ExecState.restore(prog, loads_snapshot(dumps_snapshot(st.snapshot())))
    check_invariants(again)
    for s in (st, again):
        s.run()
        for _ in range(30):
            s.feed_signal("go")
        assert s.run() is Status.DONE
    assert again.events[-5:] == st.events[-5:]
    assert again.ctx == st.ctx


@pytest.mark.parametrize("seed", [1, 2])
def test_seeded_spawning_interleaves_instances_and_replays(seed: int) -> None:
    term = wf.seq(wf.mi(body, count=20, collect="out"), wf.task("z", lambda c: None))
    st = ExecState(wf.compile(term), scheduler=wf.Seeded(seed))
    assert st.run() is Status.DONE
    log = wf.replay_log(st.events)
    from wftrio.engine.replay import run_with_inputs

    again = ExecState(wf.compile(term), scheduler=wf.Replay(log))
    run_with_inputs(again, log.inputs)
    assert again.events == st.events


class Item(Mapping[str, int]):
    """An mi item that counts how often the engine takes it in (freezing reads it once)."""

    taken = 0

    def __getitem__(self, key: str) -> int:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def items(self) -> Any:
        Item.taken += 1
        return super().items()


async def test_a_huge_mi_gives_the_loop_back_every_burst() -> None:
    n, quanta = 5_000, 50
    Item.taken = 0
    term = wf.mi(wf.wait_signal("go"), items=[Item() for _ in range(n)], join="none")
    worst = 0
    async with open_substrate() as sub:
        cid = await sub.new_case(term, step_quanta=quanta, trace_level="none")
        # a neighbour: between two of its checkpoints, how many instances were spawned?
        last = Item.taken
        while Item.taken < n:
            await trio.lowlevel.checkpoint()
            worst = max(worst, Item.taken - last)
            last = Item.taken
        await sub.cancel(cid)
    assert 0 < worst <= 2 * quanta * SPAWN_CHUNK


@pytest.mark.parametrize(
    "inner",
    [
        wf.mi(body, items=["p", "q"], join=1, collect="res"),
        wf.join(wf.first(1), wf.task("t0", lambda c: None), wf.wait_signal("late")),
    ],
    ids=["partial_mi", "discriminator"],
)
def test_late_work_of_a_loop_that_went_on_is_not_a_branch_of_the_join_above(
    inner: wf.Term,
) -> None:
    # found by hypothesis: a late instance (or branch) whose loop already exited
    # was counted as a live branch of the par around the loop
    st = ExecState(wf.compile(wf.par(wf.loop(inner, times=2))))
    while not st.finished:
        status = st.run(max_steps=1)
        check_invariants(st)
        if status is Status.BLOCKED:
            st.feed_signal("late")
    assert st.status is Status.DONE


def test_taking_the_oldest_of_many_waiters_does_not_rescan_the_taken_ones() -> None:
    # a plain dict iterates past the slots of deleted keys, so taking the oldest
    # waiter k times cost O(k**2); the waiter table keeps arrival order in a
    # linked list instead, also after a restore
    prog = wf.compile(wf.mi(wf.wait_signal("go"), count=50))
    st = ExecState(prog)
    st.run()
    again = ExecState.restore(prog, st.snapshot())
    for s in (st, again):
        assert isinstance(s.waiters["go"], OrderedDict)
        for _ in range(50):
            s.feed_signal("go")
        assert s.run() is Status.DONE
    assert again.ctx == st.ctx
