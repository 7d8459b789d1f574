"""Many tokens waiting on one signal name: the wake-up order, and copies of the tables.

The ready stack turns into a deque once long and a name's waiters are an
``OrderedDict`` (``ExecState.make_ready`` / ``add_waiter``: constant time per
wake-up); neither may change which token runs when.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import wftrio as wf
from tests.reducer_helpers import completed, noop, run
from wftrio.engine import restore, snapshot
from wftrio.validation.clone import clone_state

N = 100  # past the length at which the ready stack becomes a deque


def _many() -> wf.Term:
    return wf.par(*(wf.seq(wf.wait_signal("go"), noop(f"t{i}")) for i in range(N)))


def test_a_burst_of_signals_wakes_tokens_as_one_at_a_time_does() -> None:
    one_by_one = run(_many())
    for _ in range(N):
        one_by_one.feed_signal("go")
        one_by_one.run()
    burst = run(_many())
    assert type(burst.waiters["go"]) is OrderedDict
    for _ in range(N):
        burst.feed_signal("go")
    assert type(burst.ready) is deque
    burst.run()
    assert burst.status == one_by_one.status == "done"
    assert completed(burst) == completed(one_by_one)
    assert len(completed(burst)) == N


def test_copies_and_snapshots_of_long_tables_continue_alike() -> None:
    st = run(_many())
    for _ in range(N // 2):
        st.feed_signal("go")
    twin = clone_state(st)
    assert type(twin.ready) is deque
    assert type(twin.waiters["go"]) is OrderedDict
    back = restore(st.program, snapshot(st))  # a plain dict and a list again
    for s in (st, twin, back):
        for _ in range(N - N // 2):
            s.feed_signal("go")
        assert s.run() == "done"
    assert completed(twin) == completed(st)
    done_after = completed(st)[-(N - N // 2) :]
    assert completed(back)[-(N - N // 2) :] == done_after
