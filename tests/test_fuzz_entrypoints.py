"""Malformed values at every public entry point (issue 10).

Hypothesis throws wrong types, negatives, NaN and infinities, huge ints, bools
where ints go, non-str keys, non-JSON payloads, bad unicode, ``None`` and async
functions where sync ones go at the term constructors, ``open_substrate``,
``new_case``, the case API, snapshot restore, replay logs and the command
line, and checks three things:

* the value is refused with a :class:`wftrio.WftrioError` that is also the
  matching builtin (``TypeError`` / ``ValueError`` / ``LookupError``) and
  names the argument in its message;
* nothing changes for the other cases of the same substrate: a neighbour
  case started before the bad call completes with the right ctx;
* nothing hangs: every substrate run is under ``trio.fail_after`` with the
  autojump clock.

Every pool draws its whole range of malformed values: no value is kept out
because the code mishandled it.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import json
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wftrio as wf
from wftrio import patterns as P
from wftrio.cli import main as cli_main
from wftrio.engine import ExecState
from wftrio.errors import OptionError, SerializationError, WftrioError
from wftrio.serialize import dumps_log, dumps_snapshot, loads_log, loads_snapshot
from wftrio.terms import After, First, OnSignal, Terminate
from wftrio.trace import ReplayLog

BUILTINS = (TypeError, ValueError, LookupError)

# Deterministic in CI: under the conftest's default "ci" profile every run draws
# the same examples (a seed per test); other profiles ("deep") stay random to hunt.
BASE = settings(
    derandomize=settings.get_current_profile_name() == "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much],
)


async def async_fn(ctx: Mapping[str, Any]) -> None:
    return None


def sync_fn(ctx: Mapping[str, Any]) -> None:
    return None


class Opaque:
    """An object no entry point knows what to do with."""

    def __repr__(self) -> str:
        return "Opaque()"


T = wf.task("t", sync_fn)

# every kind of malformed value; each entry point filters out what it accepts
bad_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63),
    st.integers(max_value=-(2**63)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e300]),
    st.text(max_size=5),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.tuples(st.integers()),
    st.dictionaries(st.integers(), st.integers(), max_size=2),  # non-str keys
    st.sets(st.text(max_size=2), max_size=2),
    st.complex_numbers(max_magnitude=10),
    st.builds(Opaque),
    st.just(async_fn),
    st.just(sync_fn),
    st.just(T),
    st.just(wf.first(1)),
)


def is_int(v: object, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def is_number(v: object, low: float, *, strict: bool = False) -> bool:
    return (
        isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
        and (v > low if strict else v >= low)
    )


def has_surrogate(v: object) -> bool:
    return isinstance(v, str) and any("\ud800" <= c <= "\udfff" for c in v)


def is_name(v: object) -> bool:
    return isinstance(v, str) and v != "" and not has_surrogate(v)


def is_sync_callable(v: object) -> bool:
    return callable(v) and not inspect.iscoroutinefunction(v)


def is_term(v: object) -> bool:
    return isinstance(v, wf.Term)


def refused(call: Callable[[], object], arg: str) -> WftrioError:
    """Call ``call``; it must raise a WftrioError (and builtin) naming ``arg``."""
    with pytest.raises(WftrioError) as info:
        call()
    err = info.value
    assert isinstance(err, BUILTINS), f"{type(err).__mro__} is no builtin error"
    assert arg in str(err), f"{arg!r} not named in: {err}"
    return err


# ---------------------------------------------------------------------------
# term constructors

Maker = Callable[[Any], object]

CONSTRUCTORS: dict[str, tuple[Maker, str, Callable[[Any], bool]]] = {
    "task.name": (lambda v: wf.task(v, sync_fn), "name", is_name),
    "task.fn": (lambda v: wf.task("t", v), "fn", callable),
    "task.timeout": (
        lambda v: wf.task("t", async_fn, timeout=v),
        "timeout",
        lambda v: v is None or is_number(v, 0, strict=True),
    ),
    "task.cost": (
        lambda v: wf.task("t", async_fn, cost=v),
        "cost",
        lambda v: v is None or is_number(v, 0),
    ),
    "task.kind": (
        lambda v: wf.task("t", async_fn, kind=v),
        "kind",
        lambda v: v is None or is_name(v),
    ),
    "task.retry": (lambda v: wf.task("t", async_fn, retry=v), "retry", lambda v: v is None),
    "task.on_error": (
        lambda v: wf.task("t", async_fn, on_error=v),
        "on_error",
        lambda v: v is None or is_term(v),
    ),
    "seq": (lambda v: wf.seq(T, v), "seq[1]", is_term),
    "par": (lambda v: wf.par(T, v), "par[1]", is_term),
    "join.policy": (
        lambda v: wf.join(v, T),
        "policy",
        lambda v: v in ("all", "sync_merge") or isinstance(v, First),
    ),
    "join.branch": (lambda v: wf.join(wf.first(1), T, v), "join[1]", is_term),
    "first.n": (lambda v: wf.first(v), "n", lambda v: is_int(v, 1)),
    "first.cancel_rest": (
        lambda v: wf.first(1, cancel_rest=v),
        "cancel_rest",
        lambda v: isinstance(v, bool),
    ),
    "xor": (lambda v: wf.xor(T, v), "xor[1]", is_term),
    "branch.cond": (lambda v: wf.branch(v, T), "cond", is_sync_callable),
    "branch.term": (lambda v: wf.branch(sync_fn, v), "term", is_term),
    "choice": (lambda v: wf.choice(T, v), "choice[1]", is_term),
    "loop.body": (lambda v: wf.loop(v, times=1), "body", is_term),
    "loop.times": (lambda v: wf.loop(T, times=v), "times", lambda v: v is None or is_int(v, 0)),
    "loop.while_": (
        lambda v: wf.loop(T, while_=v),
        "while_",
        lambda v: v is None or is_sync_callable(v),
    ),
    "loop.until": (
        lambda v: wf.loop(T, until=v),
        "until",
        lambda v: v is None or is_sync_callable(v),
    ),
    "defer": (
        lambda v: wf.defer(v),
        "defer[0]",
        lambda v: isinstance(v, OnSignal | After),
    ),
    "on_signal.name": (lambda v: wf.on_signal(v, T), "name", is_name),
    "on_signal.term": (lambda v: wf.on_signal("s", v), "term", is_term),
    "after.seconds": (lambda v: wf.after(v, T), "seconds", lambda v: is_number(v, 0)),
    "wait_signal.name": (lambda v: wf.wait_signal(v), "name", is_name),
    "wait_signal.store_as": (
        lambda v: wf.wait_signal("s", v),
        "store_as",
        lambda v: v is None or is_name(v),
    ),
    "region.scope_id": (lambda v: wf.region(v, T), "scope_id", is_name),
    "region.term": (lambda v: wf.region("r", v), "term", is_term),
    "region.compensate": (
        lambda v: wf.region("r", T, compensate=v),
        "compensate",
        lambda v: v is None or is_term(v),
    ),
    "region.allow": (
        lambda v: wf.region("r", T, allow=v),
        "allow",
        lambda v: (
            v is None
            or (isinstance(v, list | tuple | set | frozenset | dict) and all(is_name(k) for k in v))
        ),
    ),
    "mi.body": (lambda v: wf.mi(v, count=1), "body", is_term),
    "mi.count": (
        lambda v: wf.mi(T, count=v),
        "count",
        lambda v: is_int(v, 0) or is_sync_callable(v),
    ),
    "mi.items": (
        lambda v: wf.mi(T, items=v),
        "items",
        lambda v: (
            is_sync_callable(v)
            or (isinstance(v, Iterable) and not isinstance(v, str | bytes | Mapping))
        ),
    ),
    "mi.join": (
        lambda v: wf.mi(T, count=3, join=v),
        "join",
        lambda v: v in ("all", "none") or (is_int(v, 1) and v <= 3) or is_sync_callable(v),
    ),
    "mi.collect": (
        lambda v: wf.mi(T, count=1, collect=v),
        "collect",
        lambda v: v is None or is_name(v),
    ),
    "mi.item_key": (
        lambda v: wf.mi(T, count=1, item_key=v),
        "item_key",
        lambda v: is_name(v) and v != "index",
    ),
    "approval.name": (lambda v: P.approval(v), "name", is_name),
    "approval.approver": (
        lambda v: P.approval("a", approver=v),
        "approver",
        lambda v: (
            v is None
            or is_name(v)
            or (isinstance(v, list | tuple | set | frozenset) and all(is_name(x) for x in v))
        ),
    ),
    "approval.then": (
        lambda v: P.approval("a", then=v),
        "then",
        lambda v: v is None or is_term(v),
    ),
}


@pytest.mark.parametrize("entry", sorted(CONSTRUCTORS))
def test_constructors_refuse_malformed_values(entry: str) -> None:
    make, arg, accepts = CONSTRUCTORS[entry]

    @BASE
    @given(bad_values.filter(lambda v: not accepts(v)))
    def check(value: Any) -> None:
        refused(lambda: make(value), arg)

    check()


def is_str_collection(v: object) -> bool:
    return (
        isinstance(v, Iterable)
        and not isinstance(v, str | bytes)
        and all(isinstance(k, str) and k for k in v)
    )


# the other values users build: policies, decisions, options of a substrate
VALUES: dict[str, tuple[Maker, str, Callable[[Any], bool]]] = {
    "Retry.attempts": (lambda v: wf.Retry(v), "attempts", lambda v: is_int(v, 1)),
    "Retry.backoff": (lambda v: wf.Retry(3, v), "backoff", lambda v: is_number(v, 0)),
    "Retry.factor": (lambda v: wf.Retry(3, 1.0, v), "factor", lambda v: is_number(v, 1)),
    "Budget.max_effects": (
        lambda v: wf.Budget(max_effects=v),
        "max_effects",
        lambda v: v is None or is_int(v, 0),
    ),
    "Budget.max_time": (
        lambda v: wf.Budget(max_time=v),
        "max_time",
        lambda v: v is None or is_number(v, 0) or v == math.inf,  # inf: no limit
    ),
    "Budget.max_cost": (
        lambda v: wf.Budget(max_cost=v),
        "max_cost",
        lambda v: v is None or is_number(v, 0) or v == math.inf,  # inf: no limit
    ),
    "approve.by": (lambda v: wf.approve(v), "by", is_name),
    "reject.by": (lambda v: wf.reject(v), "by", is_name),
    "approve.note": (
        lambda v: wf.approve("a", v),
        "note",
        lambda v: v is None or isinstance(v, str),
    ),
    "approval_signal.name": (lambda v: wf.approval_signal(v), "name", is_name),
    "open_substrate.effect_handler": (
        lambda v: wf.open_substrate(effect_handler=v),
        "effect_handler",
        lambda v: v is None or isinstance(v, Mapping) or hasattr(v, "handle"),
    ),
    "open_substrate.budget": (
        lambda v: wf.open_substrate(budget=v),
        "budget",
        lambda v: v is None or isinstance(v, wf.Budget | Mapping),
    ),
    "open_substrate.allow": (
        lambda v: wf.open_substrate(allow=v),
        "allow",
        lambda v: v is None or is_str_collection(v),
    ),
}


@pytest.mark.parametrize("entry", sorted(VALUES))
def test_policies_and_options_refuse_malformed_values(entry: str) -> None:
    make, arg, accepts = VALUES[entry]

    @BASE
    @given(bad_values.filter(lambda v: not accepts(v)))
    def check(value: Any) -> None:
        refused(lambda: make(value), arg)

    check()


def test_terminate_takes_no_arguments() -> None:
    assert isinstance(wf.terminate(), Terminate)
    with pytest.raises(TypeError):  # Python's own arity check
        wf.terminate(1)  # type: ignore[call-arg]


# ---------------------------------------------------------------------------
# the substrate: options, new_case, the case API

NEIGHBOUR = wf.seq(
    wf.wait_signal("go", store_as="got"), wf.task("finish", lambda ctx: {"n": ctx["n"] + 1})
)

SUBSTRATE_OPTIONS: dict[str, Callable[[Any], bool]] = {
    "step_quanta": lambda v: is_int(v, 1),
    "trace_level": lambda v: v in ("none", "min", "full"),
    "scheduler": lambda v: v == "deterministic",
    "timeout": lambda v: v is None or (is_number(v, 0, strict=True) or v == math.inf),
    "retain_finished": lambda v: v is None or is_int(v, 0),
    "sink_buffer": lambda v: is_int(v, 1),
    "inbox_capacity": lambda v: is_int(v, 1),
    "shutdown": lambda v: v in ("cancel", "drain"),
    "validate": lambda v: isinstance(v, bool),
    "sinks": lambda v: (
        v is None
        or (isinstance(v, list | tuple) and all(callable(x) or hasattr(x, "write") for x in v))
    ),
}


@pytest.mark.parametrize("option", sorted(SUBSTRATE_OPTIONS))
def test_open_substrate_refuses_malformed_options(option: str) -> None:
    accepts = SUBSTRATE_OPTIONS[option]

    @BASE
    @given(bad_values.filter(lambda v: not accepts(v)))
    def check(value: Any) -> None:
        refused(lambda: wf.open_substrate(**{option: value}), option)

    check()


@BASE
@given(st.text(min_size=1, max_size=8))
def test_open_substrate_refuses_unknown_options(name: str) -> None:
    # every keyword the substrate takes (store=, path=, registry= included:
    # hypothesis draws "store" now and then)
    known = set(inspect.signature(wf.Substrate).parameters) - {"unknown"}
    assert {"store", "path", "registry", "budget"} <= known
    if name in known:
        return
    refused(lambda: wf.open_substrate(**{name: 1}), repr(name))


CASE_OPTIONS = {
    k: SUBSTRATE_OPTIONS[k] for k in ("step_quanta", "trace_level", "scheduler", "timeout")
} | {
    "validate": lambda v: isinstance(v, bool),
    **{k: VALUES[f"open_substrate.{k}"][2] for k in ("effect_handler", "budget", "allow")},
}


def run_on_substrate(body: Callable[[wf.Substrate], Any], **options: Any) -> None:
    """Run ``body(sub)`` next to a neighbour case, then check the neighbour finishes.

    Everything runs under the autojump clock and ``fail_after``: a hang fails.
    """

    async def main() -> None:
        with trio.fail_after(3600):
            async with wf.open_substrate(**options) as sub:
                neighbour = await sub.new_case(NEIGHBOUR, {"n": 1})
                await body(sub)
                await sub.signal(neighbour, "go", "ok")
                result = await sub.wait(neighbour)
                assert result.ctx == {"n": 2, "got": "ok"}

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def refused_async(call: Callable[[], Any], arg: str) -> WftrioError:
    with pytest.raises(WftrioError) as info:
        await call()
    err = info.value
    assert isinstance(err, BUILTINS), f"{type(err).__mro__} is no builtin error"
    assert arg in str(err), f"{arg!r} not named in: {err}"
    return err


FUZZ = settings(BASE, max_examples=25)


@FUZZ
@given(option=st.sampled_from(sorted(CASE_OPTIONS)), data=st.data())
def test_new_case_refuses_malformed_options(option: str, data: st.DataObject) -> None:
    value = data.draw(bad_values.filter(lambda v: not CASE_OPTIONS[option](v)))

    async def body(sub: wf.Substrate) -> None:
        await refused_async(lambda: sub.new_case(T, **{option: value}), option)
        assert len(sub.case_ids()) == 1  # nothing was started

    run_on_substrate(body)


# run()'s own options, next to the case options it passes on
RUN_OPTIONS = CASE_OPTIONS | {
    "signals": lambda v: (
        isinstance(v, list | tuple)
        and all(isinstance(p, tuple | list) and len(p) == 2 and is_name(p[0]) for p in v)
    ),
    "clock": lambda v: v is None or isinstance(v, trio.abc.Clock),
}


@FUZZ
@given(option=st.sampled_from(sorted(RUN_OPTIONS)), data=st.data())
def test_run_refuses_malformed_options(option: str, data: st.DataObject) -> None:
    value = data.draw(bad_values.filter(lambda v: not RUN_OPTIONS[option](v)))
    refused(lambda: wf.run(T, **{option: value}), option)


@FUZZ
@given(bad_values.filter(lambda v: not is_term(v) and not isinstance(v, str)))
def test_new_case_refuses_what_is_not_a_term(value: Any) -> None:
    async def body(sub: wf.Substrate) -> None:
        err = await refused_async(lambda: sub.new_case(value), "term")
        assert isinstance(err, TypeError)

    run_on_substrate(body)


@FUZZ
@given(st.text(max_size=8))
def test_new_case_refuses_a_name_nobody_registered(name: str) -> None:
    # a str is a workflow name: looked up in the substrate's (empty) registry
    async def body(sub: wf.Substrate) -> None:
        with pytest.raises((wf.UnknownWorkflow, OptionError)) as info:
            await sub.new_case(name)
        assert repr(name) in str(info.value) or "term=''" in str(info.value)
        assert len(sub.case_ids()) == 1  # nothing was started

    run_on_substrate(body, registry=wf.Registry())


def bad_ctx(v: object) -> bool:
    return v is not None and (not isinstance(v, Mapping) or not all(isinstance(k, str) for k in v))


@FUZZ
@given(bad_values.filter(bad_ctx))
def test_new_case_refuses_a_ctx_that_is_not_a_mapping(value: Any) -> None:
    async def body(sub: wf.Substrate) -> None:
        await refused_async(lambda: sub.new_case(T, value), "ctx")

    run_on_substrate(body)


def bad_case_id(v: object) -> bool:
    return v is not None and (not isinstance(v, str) or v == "")


@FUZZ
@given(bad_values.filter(bad_case_id))
def test_new_case_refuses_a_case_id_that_is_not_a_str(value: Any) -> None:
    async def body(sub: wf.Substrate) -> None:
        await refused_async(lambda: sub.new_case(T, None, value), "case_id")

    run_on_substrate(body)


@FUZZ
@given(bad_values)
def test_unknown_case_ids_are_unknown_everywhere(value: Any) -> None:
    async def body(sub: wf.Substrate) -> None:
        known = set(sub.case_ids())
        if isinstance(value, str) and value in known:
            return
        # "case" is how UnknownCase names the case_id argument
        await refused_async(lambda: sub.signal(value, "go"), "case")
        await refused_async(lambda: sub.cancel(value), "case")
        await refused_async(lambda: sub.cancel_region(value, "r"), "case")
        await refused_async(lambda: sub.wait_state(value), "case")
        await refused_async(lambda: sub.wait(value), "case")
        refused(lambda: sub.status(value), "case")
        refused(lambda: sub.events(value), "case")
        refused(lambda: sub.trace(value, "full"), "case")
        refused(lambda: sub.forget(value), "case")

    run_on_substrate(body)


# names the workflow has: NEIGHBOUR waits for "go"; trace levels
KNOWN_NAMES = {"go", "none", "min", "full"}


@FUZZ
@given(bad_values.filter(lambda v: not (isinstance(v, str) and v in KNOWN_NAMES)))
def test_signal_names_and_scope_ids_must_be_known(value: Any) -> None:
    async def body(sub: wf.Substrate) -> None:
        case = await sub.new_case(NEIGHBOUR, {"n": 0})
        await refused_async(lambda: sub.signal(case, value), "name")
        await refused_async(lambda: sub.cancel_region(case, value), "scope_id")
        refused(lambda: sub.trace(case, value), "level")
        await sub.cancel(case)

    run_on_substrate(body)


def is_timeout(v: object) -> bool:
    return v is None or is_number(v, 0)


@FUZZ
@given(bad_values)
def test_wait_state_and_wait_refuse_malformed_arguments(value: Any) -> None:
    async def body(sub: wf.Substrate) -> None:
        case = await sub.new_case(NEIGHBOUR, {"n": 0})
        if not (isinstance(value, str) and value in set(wf.CaseState)):
            await refused_async(lambda: sub.wait_state(case, value), "states")
        if not is_timeout(value):
            await refused_async(lambda: sub.wait(case, timeout=value), "timeout")
        await sub.cancel(case)

    run_on_substrate(body)


json_payloads = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3)
    ),
    max_leaves=6,
)


@FUZZ
@given(payload=json_payloads | bad_values)
def test_any_payload_reaches_its_case_and_no_other(payload: Any) -> None:
    async def body(sub: wf.Substrate) -> None:
        case = await sub.new_case(NEIGHBOUR, {"n": 10})
        await sub.signal(case, "go", payload)
        result = await sub.wait(case)
        assert result.ctx["n"] == 11
        assert result.ctx["got"] is payload or result.ctx["got"] == payload

    run_on_substrate(body)


# ---------------------------------------------------------------------------
# snapshots: restore of a malformed snapshot


def _snapshot() -> tuple[wf.Program, dict[str, Any]]:
    term = wf.seq(
        wf.par(wf.wait_signal("go", store_as="got"), wf.task("a", lambda ctx: {"n": 1})),
        wf.task("b", lambda ctx: {"m": 1}),
    )
    program = wf.compile(term)
    state = ExecState(program, {"k": 1})
    state.run()
    state.take_outbox()
    return program, json.loads(dumps_snapshot(state.snapshot()))


PROGRAM, SNAPSHOT = _snapshot()


def _leaves(node: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{path}[{i}]")
    if path != "$":
        yield path, node


def _set(doc: Any, path: str, value: Any) -> None:
    parts = re.findall(r"\.([^.\[]+)|\[(\d+)\]", path)
    for key, index in parts[:-1]:
        doc = doc[key] if key else doc[int(index)]
    key, index = parts[-1]
    doc[key if key else int(index)] = value


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


# fields whose value is free-form JSON (ctx values, payloads): any value is fine
FREE = re.compile(r"\.data\b|\.base\b|\.payload\b")
# fields that may be null (a token outside any frame, or not waiting)
OPTIONAL = re.compile(r"^\$\.tokens\[\d+\]\.(frame|wait)$")
SNAPSHOT_PATHS = sorted(p for p, v in _leaves(SNAPSHOT) if v is not None and not FREE.search(p))

json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.just([]),
    st.just([1, "x"]),
    st.just({"x": 1}),
)


@BASE
@given(path=st.sampled_from(SNAPSHOT_PATHS), value=json_values)
def test_restore_refuses_a_field_of_the_wrong_type(path: str, value: Any) -> None:
    doc = copy.deepcopy(SNAPSHOT)
    old: Any = dict(_leaves(doc))[path]
    if _json_type(value) == _json_type(old):
        return
    _set(doc, path, value)
    with pytest.raises(SerializationError) as info:
        ExecState.restore(PROGRAM, loads_snapshot(json.dumps(doc)))
    assert isinstance(info.value, ValueError)
    if value is None and OPTIONAL.search(path):
        # null is a valid value here: what breaks is the snapshot's consistency,
        # reported at whichever side of the inconsistency is checked first
        assert info.value.paths, str(info.value)
        return
    # the message names the field, or the record holding it (a tagged union's tag)
    message = str(info.value)
    named = [path[:i] for i in range(len(path), 1, -1) if path[i : i + 1] in ("", ".", "[")]
    # the consistency checks after loading name a field without the "$." root
    named += [p.removeprefix("$.") for p in named if p.count(".") + p.count("[") > 1]
    assert any(p in message for p in named), (path, message)


@BASE
@given(st.binary(max_size=40) | st.text(max_size=40))
def test_loads_snapshot_refuses_garbage(text: str | bytes) -> None:
    with pytest.raises(SerializationError):
        loads_snapshot(text)


# ---------------------------------------------------------------------------
# replay logs


@BASE
@given(st.binary(max_size=40) | st.text(max_size=40) | json_values.map(json.dumps))
def test_loads_log_refuses_garbage(text: str | bytes) -> None:
    with pytest.raises(SerializationError) as info:
        loads_log(text)
    assert isinstance(info.value, ValueError)


def _log() -> ReplayLog:
    """The replay log of a Seeded case that took a choice and two signals."""
    term = wf.seq(
        wf.xor(wf.task("l", sync_fn), wf.task("r", sync_fn)),
        wf.wait_signal("go"),
        wf.wait_signal("again"),
    )
    result = wf.run(
        term, scheduler=wf.Seeded(1), trace_level="min", signals=[("go", 1), ("again", 2)]
    )
    return wf.replay_log(result.trace)


LOG = _log()
LOG_DOC = json.loads(dumps_log(LOG))
# the fields a replay relies on (data is free-form, as in a snapshot)
LOG_PATHS = sorted(p for p, v in _leaves(LOG_DOC) if not FREE.search(p) and v is not None)
log_values = json_values | st.integers(max_value=-1) | st.sampled_from([1e300, 2e9, -0.5])


def _load_log(text: str) -> ReplayLog | SerializationError:
    try:
        return loads_log(text)
    except SerializationError as exc:
        return exc


@settings(BASE, max_examples=80)
@given(path=st.sampled_from(LOG_PATHS), value=log_values)
def test_loads_log_and_replay_agree_on_every_field(path: str, value: Any) -> None:
    """A field changed: loads_log refuses it naming the path, or Replay takes the log."""
    doc = copy.deepcopy(LOG_DOC)
    _set(doc, path, value)
    log = _load_log(json.dumps(doc))
    if isinstance(log, SerializationError):
        # the field itself, the record holding it, (a list for a record) its fields,
        # or (steps and times go back) the same field of the next input
        named = [path[:i] for i in range(len(path), 1, -1) if path[i : i + 1] in ("", ".", "[")]
        field = re.sub(r"\[\d+\]", "[]", path)
        assert any(
            q in named or q.startswith(path) or re.sub(r"\[\d+\]", "[]", q) == field
            for q in log.paths
        ), (path, log.paths)
        return
    wf.Replay(log)  # what loads_log returns, a replay takes


@FUZZ
@given(bad_values.filter(lambda v: not isinstance(v, ReplayLog)))
def test_replay_refuses_what_is_not_a_log(value: Any) -> None:
    err = refused(lambda: wf.Replay(value), "log")
    assert isinstance(err, TypeError)


@FUZZ
@given(bad_values.filter(lambda v: type(v) is not int))
def test_seeded_refuses_a_seed_that_is_not_an_int(value: Any) -> None:
    refused(lambda: wf.Seeded(value), "seed")


# ---------------------------------------------------------------------------
# the command line

EXAMPLE = "examples/vending_machine.py"


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


words = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
# never a real module: importing one could run anything (antigravity opens a browser)
targets = words.map(lambda w: f"no_such_module_{w}")
COMMANDS = {"run", "replay", "validate", "graph", "bench"}
numbers = st.sampled_from(
    ["-1", "nan", "-inf", "inf", "1e300", "1e999", "1e999x", "", "0x10", "1_0"]
) | st.floats().map(repr)


@settings(BASE, max_examples=40)
@given(
    argv=st.one_of(
        st.tuples(st.just("run"), targets).map(list),
        st.tuples(st.just("run"), st.just(EXAMPLE), st.just("--ctx"), words).map(list),
        st.tuples(st.just("run"), st.just(EXAMPLE), st.just("--seed"), words).map(list),
        st.tuples(
            st.just("run"),
            st.just(EXAMPLE),
            st.just("--signal"),
            st.tuples(st.sampled_from(["go", "coin_50", "coin_100"]), numbers).map("@".join),
        ).map(list),
        st.tuples(st.just("validate"), st.just(EXAMPLE), st.just("--max-states"), numbers).map(
            list
        ),
        st.tuples(st.just("graph"), targets).map(list),
        st.lists(words.filter(lambda w: w not in COMMANDS), max_size=3),
    )
)
def test_cli_refuses_bad_arguments_in_one_line(argv: list[str]) -> None:
    code, err = run_cli(argv)
    assert "Traceback" not in err
    assert code in (0, 1, 2)
    if code == 2:
        assert err.strip(), "exit status 2 without a message"
        assert err.strip().splitlines()[-1].startswith("wftrio")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run", EXAMPLE, "--ctx", "{bad"], "--ctx"),
        (["run", EXAMPLE, "--ctx", "[1]"], "--ctx"),
        (["run", EXAMPLE, "--signal", "coin_50@-1"], "--signal"),
        (["run", EXAMPLE, "--signal", "coin_50@nan"], "--signal"),
        (["run", EXAMPLE, "--signal", "coin_50=notjson"], "--signal"),
        (["run", EXAMPLE, "--seed", "x"], "--seed"),
        (["validate", EXAMPLE, "--max-states", "-5"], "max_states"),
        (["graph", EXAMPLE, "--format", "png"], "--format"),
    ],
)
def test_cli_names_the_bad_argument(argv: list[str], named: str) -> None:
    code, err = run_cli(argv)
    assert code == 2
    assert named in err.strip().splitlines()[-1]


_TRACE: list[dict[str, Any]] = []


def recorded_trace() -> list[dict[str, Any]]:
    """The trace of one run of the example, recorded by ``wftrio run --trace-out``."""
    if not _TRACE:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "trace.jsonl"
            assert run_cli(["run", EXAMPLE, "--trace-out", str(out)])[0] == 0
            _TRACE.extend(json.loads(line) for line in out.read_text().splitlines())
    return _TRACE


@settings(BASE, max_examples=40)
@given(
    data=st.data(),
    value=json_values | st.integers(-3, 40) | st.sampled_from([math.inf, 1e300, -1.0, 2e9]),
)
def test_cli_replay_refuses_a_malformed_trace(data: st.DataObject, value: Any) -> None:
    events = copy.deepcopy(recorded_trace())
    index = data.draw(st.integers(0, len(events) - 1))
    event = events[index]
    fields = sorted(k for k in event if k != "data")
    if "at_step" in event["data"]:
        fields.append("data.at_step")  # an input's step: behind the case, out of order
    field = data.draw(st.sampled_from(fields))
    target, key = (event["data"], "at_step") if field == "data.at_step" else (event, field)
    if field not in ("data.at_step", "time") and _json_type(value) == _json_type(target[key]):
        return
    target[key] = value
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bad.jsonl"
        path.write_text("\n".join(json.dumps(e) for e in events))
        code, err = run_cli(["replay", EXAMPLE, str(path)])
    assert "Traceback" not in err
    assert code in (0, 1, 2)
    if code == 2:
        assert err.strip().splitlines()[-1].startswith("wftrio: ")
