"""A snapshot is untrusted input: restore checks it before anything runs (issue 10, item 2).

Each test tampers with one field of a real snapshot's JSON and expects
``SerializationError`` naming that field (never another exception, never a
state that runs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wftrio as wf
from wftrio.engine import ExecState, Program, Status, restore, snapshot
from wftrio.engine._snapshot import MAX_DEPTH
from wftrio.engine._snapshot.jsonvalues import instr_arg
from wftrio.errors import ProgramMismatch, SerializationError
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.testing import check_invariants

Doc = dict[str, Any]


async def remote(ctx: Any) -> dict[str, Any]:
    return {}


TERM = wf.par(
    wf.wait_signal("s0"),
    wf.task("e", remote),
    wf.defer(
        wf.on_signal("s1", wf.task("a", lambda c: None)), wf.after(5, wf.task("b", lambda c: None))
    ),
    wf.region("r", wf.loop(wf.wait_signal("s2"), times=2)),
    wf.task("pure", lambda c: {"k": 1}),
)


def _doc(**options: Any) -> tuple[Program, Doc]:
    prog = wf.compile(TERM)
    st = ExecState(prog, {"x": [1, {"y": "z"}]}, **options)
    assert st.run() is Status.BLOCKED
    st.take_outbox()
    return prog, json.loads(dumps_snapshot(st.snapshot()))


def _token(doc: Doc, on: str, key: str | None = None) -> int:
    for i, t in enumerate(doc["tokens"]):
        w = t["wait"]
        if w is not None and w["on"] == on and (key is None or w.get("name") == key):
            return i
    raise AssertionError(f"no token waiting on {on} {key}")


def _refused(prog: Program, doc: Doc, path: str, **options: Any) -> SerializationError:
    snap = loads_snapshot(json.dumps(doc))
    with pytest.raises(SerializationError) as info:
        restore(prog, snap, **options)
    assert not isinstance(info.value, ProgramMismatch)
    assert info.value.paths == (path,), str(info.value)
    return info.value


def test_an_untouched_snapshot_restores_and_runs() -> None:
    prog, doc = _doc()
    st = restore(prog, loads_snapshot(json.dumps(doc)))
    assert st.run() is Status.BLOCKED
    assert st.feed_signal("s0")


# --- negative counters ------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.__setitem__("steps", -1), "steps"),
        (lambda d: d.__setitem__("seq", -5), "seq"),
        (lambda d: d.__setitem__("elapsed", -0.5), "elapsed"),
        (lambda d: d["governance"].__setitem__("effects", -1), "governance.effects"),
        (lambda d: d["governance"].__setitem__("time", -2.0), "governance.time"),
        (lambda d: d["governance"].__setitem__("cost", -3.0), "governance.cost"),
        (lambda d: d["effects"][0].__setitem__("attempts", -1), "effects[0].attempts"),
        (lambda d: d.__setitem__("epoch", -1), "epoch"),
    ],
    ids=["steps", "seq", "elapsed", "gov.effects", "gov.time", "gov.cost", "attempts", "epoch"],
)
def test_negative_counters_are_refused(mutate: Callable[[Doc], None], path: str) -> None:
    prog, doc = _doc()
    assert doc["governance"] is not None  # an effect was admitted: usage recorded
    mutate(doc)
    assert "negative" in str(_refused(prog, doc, path))


def test_an_effect_epoch_after_the_states_is_refused() -> None:
    prog, doc = _doc()
    doc["effects"][0]["epoch"] = doc["epoch"] + 1
    assert "outside" in str(_refused(prog, doc, "effects[0].epoch"))


def test_negative_frame_counters_are_refused() -> None:
    prog, doc = _doc()
    k = next(i for i, f in enumerate(doc["frames"]) if f["kind"] == "loop")
    doc["frames"][k]["count"] = -1
    _refused(prog, doc, f"frames[{k}].count")
    prog, doc = _doc()
    k = next(i for i, f in enumerate(doc["frames"]) if f["kind"] == "join")
    doc["frames"][k]["arrived"] = -2
    _refused(prog, doc, f"frames[{k}].arrived")


# --- a final status with live tokens ---------------------------------------


@pytest.mark.parametrize("status", ["done", "failed", "cancelled"])
def test_a_finished_case_with_live_tokens_is_refused(status: str) -> None:
    prog, doc = _doc()
    doc["status"] = status
    _refused(prog, doc, "tokens")


def test_a_finished_case_with_only_a_pending_timer_is_refused() -> None:
    prog, doc = _doc()
    doc["status"] = "done"
    doc["tokens"] = []
    doc["ready"] = []
    doc["current"] = None
    _refused(prog, doc, "effects")


# --- waits without their pending entries (and the reverse) -----------------


def test_an_effect_wait_without_its_pending_effect_is_refused() -> None:
    prog, doc = _doc()
    i = _token(doc, "effect")
    doc["effects"] = []
    _refused(prog, doc, f"tokens[{i}].wait")


def test_a_signal_wait_without_its_waiter_entry_is_refused() -> None:
    prog, doc = _doc()
    i = _token(doc, "signal", "s0")
    del doc["waiters"]["s0"]
    _refused(prog, doc, f"tokens[{i}].wait")


def test_a_timer_wait_without_its_armed_timer_is_refused() -> None:
    prog, doc = _doc()
    i = _token(doc, "defer")
    k = next(k for k, a in enumerate(doc["tokens"][i]["wait"]["alts"]) if a["timer"] is not None)
    doc["timers"] = []
    _refused(prog, doc, f"tokens[{i}].wait.alts[{k}]")


def test_a_pending_effect_of_a_token_that_does_not_wait_on_it_is_refused() -> None:
    prog, doc = _doc()
    i = _token(doc, "signal", "s0")
    doc["effects"][0]["token"] = doc["tokens"][i]["id"]
    _refused(prog, doc, "effects[0]")


def test_an_armed_timer_of_another_alternative_is_refused() -> None:
    prog, doc = _doc()
    doc["timers"][0]["alt"] = 0  # the defer's alternative 0 is the signal
    _refused(prog, doc, "timers[0]")


# --- a pc that does not match the wait --------------------------------------


def _pc_of(prog: Program, op: str, **args: Any) -> int:
    for pc, ins in enumerate(prog.instrs):
        if ins.op == op and all(instr_arg(ins, k) == v for k, v in args.items()):
            return pc
    raise AssertionError(op)


@pytest.mark.parametrize(
    ("on", "key", "wrong"),
    [
        ("signal", "s0", ("wait_signal", {"name": "s2"})),  # another signal's wait
        ("signal", "s0", ("task", {"name": "pure"})),
        ("effect", None, ("wait_signal", {"name": "s0"})),
        ("defer", None, ("task", {"name": "a"})),
    ],
    ids=["signal-at-other-signal", "signal-at-task", "effect-at-wait", "defer-at-task"],
)
def test_a_pc_that_does_not_wait_that_way_is_refused(
    on: str, key: str | None, wrong: tuple[str, dict[str, Any]]
) -> None:
    prog, doc = _doc()
    i = _token(doc, on, key)
    doc["tokens"][i]["pc"] = _pc_of(prog, wrong[0], **wrong[1])
    assert "does not wait that way" in str(_refused(prog, doc, f"tokens[{i}].pc"))


# --- regions the program does not have --------------------------------------


def test_a_region_the_program_does_not_have_is_refused() -> None:
    prog, doc = _doc()
    (k,) = [k for k, r in enumerate(doc["regions"]) if r["scope_id"] == "r"]
    doc["regions"][k]["scope_id"] = "elsewhere"
    doc["region_index"] = {"elsewhere": doc["region_index"]["r"]}
    _refused(prog, doc, f"regions[{k}].scope_id")


def test_a_region_with_another_cancellation_continuation_is_refused() -> None:
    prog, doc = _doc()
    (k,) = [k for k, r in enumerate(doc["regions"]) if r["scope_id"] == "r"]
    doc["regions"][k]["cancel_pc"] = _pc_of(prog, "task", name="pure")
    _refused(prog, doc, f"regions[{k}].cancel_pc")


# --- deep nesting -----------------------------------------------------------


def _nested(depth: int) -> Any:
    v: Any = "bottom"
    for _ in range(depth):
        v = [v]
    return v


def test_deeply_nested_json_is_refused_without_recursion_error() -> None:
    _prog, doc = _doc()
    text = json.dumps(doc).replace('"x": [1, {"y": "z"}]', '"x": ' + "[" * 100_000 + "]" * 100_000)
    with pytest.raises(SerializationError) as info:
        loads_snapshot(text)
    assert info.value.paths == ("$",)


def test_deeply_nested_data_is_refused_on_restore() -> None:
    prog, doc = _doc()
    snap = loads_snapshot(json.dumps(doc))
    root = next(s for s in snap.scopes if s.id == snap.root)
    deep = attrs.evolve(root, data={"x": _nested(5_000)})
    bad = attrs.evolve(snap, scopes=tuple(deep if s is root else s for s in snap.scopes))
    with pytest.raises(SerializationError, match="nested deeper"):
        restore(prog, bad)


def test_nesting_up_to_the_limit_round_trips() -> None:
    prog = wf.compile(wf.wait_signal("go"))
    st = ExecState(prog, {"x": _nested(MAX_DEPTH - 1)})
    st.run()
    back = restore(prog, loads_snapshot(dumps_snapshot(snapshot(st))))
    assert back.ctx == st.ctx
    too_deep = ExecState(prog, {"x": _nested(MAX_DEPTH + 1)})
    too_deep.run()
    with pytest.raises(SerializationError, match="nested deeper"):
        snapshot(too_deep)


# --- text that is not valid Unicode -----------------------------------------


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.__setitem__("case_id", "\ud800"), "case_id"),
        (lambda d: d["waiters"].__setitem__("\udfff", d["waiters"].pop("s0")), "waiters"),
        (
            lambda d: d["scopes"][0]["data"].__setitem__("x", "bad \ud83d text"),
            "scopes[0].data['x']",
        ),
    ],
    ids=["case_id", "signal-name", "ctx-value"],
)
def test_text_that_is_not_valid_unicode_is_refused(
    mutate: Callable[[Doc], None], path: str
) -> None:
    prog, doc = _doc()
    mutate(doc)
    # json.dumps escapes the lone surrogate; json.loads gives it back as is
    err = _refused(prog, doc, path)
    assert "not valid Unicode" in str(err)


def test_a_ctx_with_invalid_unicode_cannot_be_snapshotted() -> None:
    st = ExecState(wf.compile(wf.wait_signal("go")), {"k": "\ud800"})
    st.run()
    with pytest.raises(SerializationError, match="not valid Unicode"):
        snapshot(st)


# --- allowlists and budgets come from the caller, never from the snapshot ----


def test_allowlist_and_budget_come_from_the_restore_options() -> None:
    allow = frozenset({"e"})
    budget = wf.Budget(max_effects=5)
    prog, doc = _doc(allow=allow, budget=budget)
    # restored with the case's own options: fine, and the usage comes along
    st = restore(prog, loads_snapshot(json.dumps(doc)), allow=allow, budget=budget)
    assert st.budget_usage().effects == 1
    assert st.governor is not None
    assert st.governor.allow == allow
    # without them, or with others: refused (the snapshot cannot grant them)
    _refused(prog, doc, "governance.allow")
    _refused(prog, doc, "governance.allow", allow=frozenset({"e", "more"}), budget=budget)
    _refused(prog, doc, "governance.budget", allow=allow)
    _refused(prog, doc, "governance.budget", allow=allow, budget=wf.Budget(max_effects=50))


def test_a_snapshot_cannot_widen_its_allowlist() -> None:
    allow = frozenset({"e"})
    prog, doc = _doc(allow=allow)
    doc["governance"]["allow"] = ["e", "launch_missiles"]
    _refused(prog, doc, "governance.allow", allow=allow)
    doc["governance"]["allow"] = None  # nor drop it
    _refused(prog, doc, "governance.allow", allow=allow)


def test_a_snapshot_without_governance_restores_without_options() -> None:
    prog = wf.compile(wf.wait_signal("go"))
    st = ExecState(prog)
    st.run()
    back = restore(prog, snapshot(st))
    assert back.governor is None
    with pytest.raises(SerializationError) as info:
        restore(prog, snapshot(st), allow=frozenset({"k"}))
    assert info.value.paths == ("governance.allow",)


# --- beyond the listed rules: frames and the engine's invariants -------------


def test_a_frame_continuation_the_program_does_not_have_is_refused() -> None:
    prog, doc = _doc()
    k = next(i for i, f in enumerate(doc["frames"]) if f["kind"] == "join")
    doc["frames"][k]["cont"] = _pc_of(prog, "task", name="pure")
    _refused(prog, doc, f"frames[{k}].cont")


def test_a_token_at_a_loop_step_without_its_loop_frame_is_refused() -> None:
    prog = wf.compile(wf.loop(wf.task("t", lambda c: None), times=3))
    st = ExecState(prog)
    st.run(2)  # inside the loop: the token holds its loop frame
    doc = json.loads(dumps_snapshot(st.snapshot()))
    (tok,) = doc["tokens"]
    tok["pc"] = _pc_of(prog, "loop_next")
    tok["frame"] = None
    _refused(prog, doc, "tokens[0].frame")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        # a waiting token listed as runnable
        (
            lambda d: d.__setitem__("ready", [d["tokens"][_token(d, "signal", "s0")]["id"]]),
            "tokens",
        ),
        (
            lambda d: d.__setitem__("current", d["tokens"][_token(d, "signal", "s0")]["id"]),
            "current",
        ),
        (lambda d: d["regions"][0].__setitem__("alive", False), "tokens"),
        (lambda d: d["regions"][0].__setitem__("tokens", []), "tokens"),
    ],
    ids=["blocked-in-ready", "blocked-current", "dead-region", "region-lost-its-token"],
)
def test_a_rebuilt_state_breaking_the_engines_invariants_is_refused(
    mutate: Callable[[Doc], None], path: str
) -> None:
    prog, doc = _doc()
    mutate(doc)
    assert "inconsistent" in str(_refused(prog, doc, path))


# --- fuzz: any one tampered value gives a consistent state or a typed error ---


def _leaves(v: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(v, dict):
        return [p for k, x in v.items() for p in _leaves(x, (*path, k))]
    if isinstance(v, list):
        return [p for i, x in enumerate(v) for p in _leaves(x, (*path, i))]
    return [path]


_PROG, _DOC = _doc()
_LEAVES = _leaves(_DOC)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 20),
    st.sampled_from([-1.0, 0.0, 1e300, float("inf")]),
    st.sampled_from(["s0", "s1", "s2", "r", "signal", "timer", "effect", "\ud800", ""]),
    st.just([]),
    st.just({}),
)


@settings(max_examples=300, deadline=None)
@given(leaf=st.sampled_from(_LEAVES), value=_VALUES)
def test_property_a_tampered_value_never_escapes_as_another_error(
    leaf: tuple[Any, ...], value: Any
) -> None:
    doc = json.loads(json.dumps(_DOC))
    target = doc
    for k in leaf[:-1]:
        target = target[k]
    target[leaf[-1]] = value
    try:
        snap = loads_snapshot(json.dumps(doc))
        state = restore(_PROG, snap)
    except SerializationError:
        return
    # accepted: the state keeps the engine's invariants
    check_invariants(state)


# --- tokens where the program does not put them ------------------------------


def test_a_token_outside_the_region_its_pc_is_in_is_refused() -> None:
    prog, doc = _doc()
    i = _token(doc, "signal", "s2")  # inside region "r"
    region = doc["tokens"][i]["region"]
    doc["tokens"][i]["region"] = None
    for r in doc["regions"]:
        if r["id"] == region:
            r["tokens"] = []
    _refused(prog, doc, f"tokens[{i}].region")


def test_a_token_without_the_join_its_pc_is_in_is_refused() -> None:
    prog, doc = _doc()
    i = _token(doc, "signal", "s0")  # a par branch: its frame is the par's join
    doc["tokens"][i]["frame"] = None
    _refused(prog, doc, f"tokens[{i}].frame")


def test_a_token_reading_the_wrong_ctx_layers_is_refused() -> None:
    prog = wf.compile(wf.mi(wf.wait_signal("go"), count=2))
    st = ExecState(prog)
    st.run()
    doc = json.loads(dumps_snapshot(st.snapshot()))
    doc["tokens"][0]["scope"] = doc["root"]  # an instance reading the case ctx directly
    _refused(prog, doc, "tokens[0].scope")


def test_a_join_expecting_more_arrivals_than_branches_is_refused() -> None:
    prog, doc = _doc()
    k = next(i for i, f in enumerate(doc["frames"]) if f["kind"] == "join")
    doc["frames"][k]["arrived"] = doc["frames"][k]["started"] - 1  # 4 live branches remain
    assert "branches still live" in str(_refused(prog, doc, "frames"))


def test_bytes_that_are_not_utf8_are_refused() -> None:
    _prog, doc = _doc()
    raw = json.dumps(doc, ensure_ascii=False).encode().replace(b'"case"', b'"\xff\xfe"', 1)
    with pytest.raises(SerializationError) as info:
        loads_snapshot(raw)
    assert info.value.paths == ("$",)


def test_a_cycle_of_region_parents_is_refused_not_walked_for_ever() -> None:
    # found by the tamper fuzz (it hung in the invariant checker)
    import json

    from wftrio.engine import ExecState
    from wftrio.errors import SerializationError
    from wftrio.serialize import dumps_snapshot, loads_snapshot

    term = wf.region("outer", wf.region("inner", wf.wait_signal("go")))
    prog = wf.compile(term)
    st = ExecState(prog)
    st.run()
    doc = json.loads(dumps_snapshot(st.snapshot()))
    ids = [r["id"] for r in doc["regions"]]
    assert len(ids) >= 2
    outer = next(r for r in doc["regions"] if r["parent"] is None)
    outer["parent"] = next(i for i in ids if i != outer["id"])  # outer's child is now its parent
    with pytest.raises(SerializationError, match="regions"):
        ExecState.restore(prog, loads_snapshot(json.dumps(doc)))
