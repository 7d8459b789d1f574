"""The engine's object graph is described once (wftrio.engine.schema), and followed.

Every test here fails when a field is added to an engine object in one
place only: its class's ``__slots__`` without the schema, the schema
without the snapshot records, the state keys or the invariant checker, or
a consumer's declaration without its code.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import pkgutil
from collections import deque
from typing import Any

import attrs
import pytest

import wftrio as wf
import wftrio.engine
from wftrio.effects import Effect
from wftrio.engine import EffectMeta, ExecState, RecordedError, Status, snapshot
from wftrio.engine._snapshot.records import FIELDS, RECORD_ONLY
from wftrio.engine.consistency import CHECKED, NOT_CHECKED
from wftrio.engine.objects import EMPTY, CtxLayer, Frame, JoinInst, LoopFrame, MIInst, RegionInst
from wftrio.engine.schema import SCHEMA, Kind, fields_where, slot_names
from wftrio.errors import EngineError
from wftrio.governance import Governor
from wftrio.validation.clone import clone_state
from wftrio.validation.statekey import KEYED, state_key

# ---------------------------------------------------------------------------
# declarations


def _engine_classes() -> set[type]:
    """Every slotted class defined in wftrio.engine (and the governor)."""
    out: set[type] = {Governor}
    for info in pkgutil.walk_packages(wftrio.engine.__path__, "wftrio.engine."):
        mod = importlib.import_module(info.name)
        for obj in vars(mod).values():
            if (
                inspect.isclass(obj)
                and obj.__module__ == mod.__name__
                and "__slots__" in obj.__dict__
            ):
                out.add(obj)
    return out


# slotted engine classes that are not part of a case's object graph, and why
_NOT_STATE = {
    "_EmptyDict": "the shared read-only EMPTY (no per-case state)",
    "_IdleList": "the shared read-only IDLE_LIST of idle states (no per-case state)",
    "_Copier": "the explorer's copier itself",
    "Linker": "links a Program into handlers once; shared by every case, not case state",
    "FrozenDict": "a frozen ctx value (a value: a dict that cannot change)",
    "FrozenList": "a frozen ctx value (a value: a list that cannot change)",
    "CtxSnapshot": "a copy of the ctx shared by effects (a value, plus its hash memo)",
    "Recording": "ExecState's trace-recording base: its slots are ExecState's (checked there)",
}


def test_every_slotted_engine_class_is_in_the_schema_or_a_value() -> None:
    missing = []
    for cls in _engine_classes():
        if cls in SCHEMA or cls.__name__ in _NOT_STATE:
            continue
        if attrs.has(cls) or issubclass(cls, BaseException | tuple):
            continue  # frozen values (commands, records, wait records, errors)
        missing.append(cls.__qualname__)
    assert not missing, f"slotted engine classes missing from wftrio.engine.schema: {missing}"


@pytest.mark.parametrize("cls", list(SCHEMA), ids=lambda c: c.__name__)
def test_schema_names_exactly_the_slots(cls: type) -> None:
    assert SCHEMA[cls].names() == slot_names(cls)


@pytest.mark.parametrize("cls", list(SCHEMA), ids=lambda c: c.__name__)
def test_snapshot_records_hold_exactly_the_snapshotted_fields(cls: type) -> None:
    record, mapping = FIELDS[cls]
    assert set(mapping) == fields_where(cls, snapshot=True)
    if record is None:  # abstract (Frame): every subclass's record holds its fields
        for sub in SCHEMA:
            if sub is not cls and issubclass(sub, cls):
                assert set(mapping) <= set(FIELDS[sub][1])
        return
    held = {name for names in mapping.values() for name in names}
    record_fields = {a.name for a in attrs.fields(record)}
    assert held <= record_fields, f"{record.__name__} lacks {held - record_fields}"
    unexplained = record_fields - held - RECORD_ONLY.get(record, frozenset())
    assert not unexplained, f"{record.__name__} fields {unexplained} hold no engine field"


@pytest.mark.parametrize("cls", list(SCHEMA), ids=lambda c: c.__name__)
def test_state_keys_read_exactly_the_keyed_fields(cls: type) -> None:
    assert KEYED.get(cls, frozenset()) == fields_where(cls, key=True)


@pytest.mark.parametrize("cls", list(SCHEMA), ids=lambda c: c.__name__)
def test_invariant_checker_says_what_it_does_with_every_field(cls: type) -> None:
    checked = CHECKED.get(cls, frozenset())
    left = set(NOT_CHECKED.get(cls, {}))
    assert not checked & left
    assert checked | left == SCHEMA[cls].names()


def test_state_rebuild_takes_every_snapshotted_field() -> None:
    params = set(inspect.signature(ExecState.from_parts).parameters)
    renamed = {"_next_id": "next_id", "level": "trace_level", "root_id": "causal_root"}
    want = {renamed.get(n, n) for n in fields_where(ExecState, snapshot=True)}
    assert want <= params, f"ExecState.from_parts lacks {want - params}"


# ---------------------------------------------------------------------------
# behaviour: a state holding every class of the schema


async def _remote(ctx: Any) -> dict[str, Any]:
    return {}


def _state() -> ExecState:
    term = wf.region(
        "r",
        wf.par(
            wf.loop(wf.wait_signal("s"), times=2),
            wf.mi(wf.task("e", _remote), count=2),
            wf.defer(
                wf.on_signal("go", wf.task("g", lambda c: {"g": 1})),
                wf.after(5, wf.task("h", lambda c: None)),
            ),
            wf.join(wf.first(1, cancel_rest=True), wf.wait_signal("x"), wf.wait_signal("y")),
        ),
    )
    st = ExecState(wf.compile(term), {"k": 1}, budget=wf.Budget(max_effects=9))
    assert st.run() is Status.BLOCKED
    st.take_outbox()
    return st


def _objects(st: ExecState) -> dict[int, Any]:
    """Every object of the graph reachable from ``st``, walked through the schema's REF fields."""
    seen: dict[int, Any] = {id(st): st}
    todo: list[Any] = [st]

    def visit(v: Any) -> None:
        if type(v) in SCHEMA and id(v) not in seen:
            seen[id(v)] = v
            todo.append(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                visit(k)
                visit(x)
        elif isinstance(v, list | tuple | set):
            for x in v:
                visit(x)

    while todo:
        o = todo.pop()
        for f in SCHEMA[type(o)].fields:
            if f.kind is Kind.REF:
                visit(getattr(o, f.name))
    return seen


def test_the_sample_state_holds_every_concrete_class() -> None:
    kinds = {type(o) for o in _objects(_state()).values()}
    assert kinds == set(SCHEMA) - {Frame}


def test_clone_follows_the_schema_field_by_field() -> None:
    st = _state()
    new = clone_state(st)
    pairs: dict[int, Any] = {}
    # pair originals with copies by walking both graphs in the same order
    originals, copies = list(_objects(st).values()), list(_objects(new).values())
    assert [type(o) for o in originals] == [type(c) for c in copies]
    for o, c in zip(originals, copies, strict=True):
        pairs[id(o)] = c
    for o, c in zip(originals, copies, strict=True):
        assert o is not c
        for f in SCHEMA[type(o)].fields:
            a, b = getattr(o, f.name), getattr(c, f.name)
            where = f"{type(o).__name__}.{f.name}"
            if f.kind in (Kind.VALUE, Kind.CONST):
                assert a is b, where
            elif f.kind is Kind.DATA:
                assert a == b, where
                if isinstance(a, dict | list | deque) and a is not EMPTY and f.name != "base":
                    assert a is not b, f"{where} is shared with the original"
            elif f.kind is Kind.REF:
                _same_refs(a, b, pairs, where)


def _same_refs(a: Any, b: Any, pairs: dict[int, Any], where: str) -> None:
    if type(a) in SCHEMA:
        assert pairs[id(a)] is b, where
    elif isinstance(a, dict) and a is not EMPTY:
        assert a is not b, where
        assert len(a) == len(b), where
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            _same_refs(ka, kb, pairs, where)
            _same_refs(va, vb, pairs, where)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for x, y in zip(a, b, strict=True):
            _same_refs(x, y, pairs, where)
    else:
        assert a == b, where


# values for fields the sample state holds as None
_INSTEAD_OF_NONE: dict[tuple[type, str], Any] = {
    (ExecState, "error"): RecordedError("E", "m"),
    (EffectMeta, "spec"): Effect("k", 1, None),
    (Governor, "allow"): frozenset({"k"}),
    (JoinInst, "held"): 2,
}


def _perturbed(cls: type, name: str, v: Any) -> Any:
    """A different value of the same kind as ``v``."""
    if v is None:
        return _INSTEAD_OF_NONE[(cls, name)]
    t = type(v)
    if t is bool:
        return not v
    if t is int or t is float:
        return v + 7
    if isinstance(v, enum.Enum):
        members = list(t)
        return members[(members.index(v) + 1) % len(members)]
    if isinstance(v, str):
        return v + "~"
    if isinstance(v, frozenset):
        return v | {"~"}
    if isinstance(v, tuple):  # a wait: another signal
        return ("signal", "~")
    if attrs.has(t):
        f = attrs.fields(t)[0]
        old = getattr(v, f.name)
        return attrs.evolve(v, **{f.name: 1 if old is None else old + 1})
    raise AssertionError(f"no perturbation for {cls.__name__}.{name} = {v!r}")


def _name(x: Any) -> str:
    return x.__name__ if isinstance(x, type) else str(x)


def _value_fields(flag: str) -> list[tuple[type, str]]:
    return [
        (cls, f.name)
        for cls, cs in SCHEMA.items()
        if cls is not Frame  # abstract: its fields are tested on its subclasses
        for f in cs.fields
        if f.kind is Kind.VALUE and getattr(f, flag)
    ]


def _reaches(cls: type, name: str, image: Any) -> bool:
    """Whether changing ``cls.name`` on some object of the sample state changes ``image(st)``.

    (Some changes are invisible by design: an effect wait's id is renamed
    by the state key, so every object of the class is tried.)
    """
    n = sum(type(o) is cls for o in _objects(_state()).values())
    assert n, f"no {cls.__name__} in the sample state"
    for i in range(n):
        st = _state()
        before = image(st)
        o = [o for o in _objects(st).values() if type(o) is cls][i]
        setattr(o, name, _perturbed(cls, name, getattr(o, name)))
        try:
            if image(st) != before:
                return True
        except EngineError:  # a changed id breaks the snapshot's identity check: it was read
            return True
    return False


@pytest.mark.parametrize(("cls", "name"), _value_fields("snapshot"), ids=_name)
def test_every_snapshotted_value_reaches_the_snapshot(cls: type, name: str) -> None:
    assert _reaches(cls, name, snapshot), f"{cls.__name__}.{name} does not reach the snapshot"


@pytest.mark.parametrize(("cls", "name"), _value_fields("key"), ids=_name)
def test_every_keyed_value_reaches_the_state_key(cls: type, name: str) -> None:
    # (ExecState.status: BLOCKED -> DONE, a final state's key)
    assert _reaches(cls, name, state_key), f"{cls.__name__}.{name} does not reach the state key"


def test_round_trip_restores_every_snapshotted_scalar() -> None:
    st = _state()
    back = ExecState.restore(st.program, snapshot(st), budget=wf.Budget(max_effects=9))
    a, b = list(_objects(st).values()), list(_objects(back).values())
    assert [type(o) for o in a] == [type(o) for o in b]
    for x, y in zip(a, b, strict=True):
        for f in SCHEMA[type(x)].fields:
            if f.kind is Kind.VALUE and f.snapshot and f.name != "t0":
                assert getattr(x, f.name) == getattr(y, f.name), f"{type(x).__name__}.{f.name}"


def test_classes_are_covered_by_the_sample() -> None:
    # the perturbation tests above only mean something if these exist in it
    kinds = {type(o) for o in _objects(_state()).values()}
    assert {JoinInst, LoopFrame, MIInst, RegionInst, CtxLayer, EffectMeta, Governor} <= kinds
