"""Receipts as values: canonical hashing, (de)serialisation, derivation from traces."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

import wftrio as wf
from wftrio.engine import ExecState, StartEffect, Status
from wftrio.engine.frozen import FrozenDict
from wftrio.receipts import OUTCOMES, Receipt, canonical, canonical_json, receipts, stable_hash
from wftrio.serialize import read_jsonl, write_jsonl
from wftrio.trace import MIN_KINDS, TraceEvent

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=5), json_values, max_size=6))
def test_hash_ignores_key_order_and_roundtrips_json(d: dict[str, Any]) -> None:
    reordered = dict(reversed(list(d.items())))
    assert stable_hash(d) == stable_hash(reordered)
    text = canonical_json(d)
    assert json.loads(text) == json.loads(json.dumps(d))
    assert canonical_json(json.loads(text)) == text


def test_canonical_forms() -> None:
    @attrs.frozen
    class Point:
        x: int
        y: int

    class Opaque:
        pass

    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    assert canonical({1: (1, 2), "s": {3, 1, 2}}) == {"1": [1, 2], "s": [1, 2, 3]}
    assert canonical(float("nan")) == {"$float": "nan"}
    assert canonical([float("inf"), float("-inf")]) == [{"$float": "inf"}, {"$float": "-inf"}]
    assert canonical(Point(1, 2)) == {
        "$type": f"{__name__}.test_canonical_forms.<locals>.Point",
        "x": 1,
        "y": 2,
    }
    assert canonical(Opaque()) == {"$type": f"{__name__}.test_canonical_forms.<locals>.Opaque"}
    assert canonical(cyclic) == [1, {"$cycle": True}]
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    assert stable_hash({"a": 1}).startswith("sha256:")
    assert len(stable_hash(None)) == 71
    assert stable_hash({"a": 1}) != stable_hash({"a": 1.5})
    shared = [1]
    assert canonical([shared, shared]) == [[1], [1]]  # repetition is not a cycle


def test_receipt_data_roundtrip() -> None:
    r = Receipt(
        causal_id="c/t1/s2",
        kind="k",
        task="t",
        outcome="error",
        attempts=2,
        started=0.5,
        ended=1.5,
        request=stable_hash(1),
        error_type="OSError",
        error="no",
        detail={"x": [1]},
    )
    data = r.to_data()
    assert Receipt.from_data({**data, "unknown": 1}) == r
    assert json.loads(r.to_json()) == data
    assert not r.ok
    assert set(OUTCOMES) >= {"ok", "error", "timed_out", "cancelled"}


async def _fetch(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"f": 1}


def test_receipt_events_are_min_kinds_and_survive_jsonl() -> None:
    assert "receipt" in MIN_KINDS
    assert "effect_retry" in MIN_KINDS
    term = wf.seq(wf.task("a", lambda ctx: {"a": 1}), wf.task("f", _fetch))
    st_ = ExecState(wf.compile(term), case_id="j")
    st_.run()
    (cmd,) = st_.take_outbox()
    assert isinstance(cmd, StartEffect)
    st_.feed_effect(cmd.eid, {"f": 1})
    assert st_.run() is Status.DONE
    buf = io.StringIO()
    write_jsonl(st_.events, buf)
    back = list(read_jsonl(buf.getvalue().splitlines()))
    assert receipts(back) == receipts(st_.events)
    assert [r.source for r in receipts(back)] == ["step", "effect"]


def test_step_receipts_derivation_rules() -> None:
    ev = [
        TraceEvent(0, "replayed", "case_started", None, None, None, 0.0, {"root": "orig"}),
        TraceEvent(1, "replayed", "task_completed", "a", 1, None, 0.5, {"x": 1}),
        TraceEvent(2, "replayed", "receipt", "b", 1, None, 0.5, _receipt_data("b")),
        TraceEvent(3, "replayed", "task_completed", "b", 1, None, 0.5, {}),  # covered
        TraceEvent(4, "replayed", "task_completed", "b", 1, None, 0.6, {}),  # a new step
    ]
    rs = receipts(ev)
    assert [(r.task, r.source, r.causal_id) for r in rs] == [
        ("a", "step", "orig/t1/e1"),
        ("b", "effect", "orig/t1/s3"),
        ("b", "step", "orig/t1/e4"),
    ]
    assert rs[0].started == rs[0].ended == 0.5
    assert rs[0].result == stable_hash({"x": 1})
    assert receipts(ev, steps=False) == [rs[1]]
    assert receipts(ev[1:2])[0].causal_id == "replayed/t1/e1"  # no case_started: the case id
    assert receipts(ev[1:2], root="r")[0].causal_id == "r/t1/e1"


def _receipt_data(task: str) -> dict[str, Any]:
    return Receipt("orig/t1/s3", "k", task, "ok", 1, 0.0, 0.5, stable_hash(0)).to_data()


flat_values = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.sampled_from([True])
)


@given(st.dictionaries(st.text(max_size=5), flat_values | json_values, max_size=8))
def test_flat_dicts_take_the_json_shortcut_to_the_same_text(d: dict[str, Any]) -> None:
    # canonical_json skips the canonical tree for flat dicts of JSON scalars;
    # the text must be the tree's (non-finite floats and nesting take the tree)
    slow = json.dumps(canonical(d), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(d) == slow
    assert canonical_json(FrozenDict(d)) == slow
    assert canonical_json({"k": 1, 2: "v"}) == '{"2":"v","k":1}'  # non-str key: the tree
