"""JSON for wftrio: one cattrs converter for traces, replay logs and state snapshots.

Everything wftrio writes as JSON goes through :func:`converter`, the single
converter :func:`make_converter` makes once, from
``cattrs.preconf.json.make_converter()`` (cattrs' global converter is never
touched).  It is configured, not hand-written:

* primitives are structured strictly (``"5"`` is not an ``int``, ``1`` is not
  a ``bool``), and so are arrays and objects (``""`` or ``{}`` is not a list),
  so a malformed document fails instead of being coerced;
* trace events (a NamedTuple) are JSON objects, not arrays;
* the snapshot's frame, wait and scheduler unions are tagged unions
  (``"kind"`` / ``"on"`` fields);
* free-form data (ctx values, event data, payloads) passes through as JSON.

Loading reports every problem as a :class:`SerializationError` whose
``paths`` name the failing fields (``$.tokens[3].pc``); values that JSON
cannot represent faithfully (tuples, sets, objects, non-str keys) are
refused when dumping, naming the key, rather than silently changed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any, TypeVar

import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_mapping,
    is_mutable_sequence,
    is_sequence,
    list_structure_factory,
    namedtuple_dict_structure_factory,
    namedtuple_dict_unstructure_factory,
)
from cattrs.preconf import json as cattrs_json
from cattrs.strategies import configure_tagged_union

from wftrio.engine import (
    FrameSnap,
    SchedulerState,
    StateSnapshot,
    WaitSnap,
    jsonable_copy,
    pending_commands,
)
from wftrio.errors import ProgramMismatch, SerializationError
from wftrio.scheduling import replay_log_problems
from wftrio.trace import ReplayLog, TraceEvent

__all__ = [
    "ProgramMismatch",
    "SerializationError",
    "StateSnapshot",
    "converter",
    "dumps_log",
    "dumps_snapshot",
    "dumps_trace",
    "loads_log",
    "loads_snapshot",
    "loads_trace",
    "make_converter",
    "pending_commands",
    "read_jsonl",
    "write_jsonl",
]

_T = TypeVar("_T")


# ---------------------------------------------------------------------------
# the converter


def _strict(cl: type[Any], *accept: type[Any]) -> Any:
    """A structure hook taking only JSON values of type ``cl`` (or ``accept``)."""
    ok = (cl, *accept)

    def structure(value: Any, target: Any) -> Any:
        if type(value) not in ok:
            raise TypeError(f"expected {cl.__name__}, got {type(value).__name__} {value!r:.40}")
        if target is not cl:
            return target(value)  # a subclass (a StrEnum such as Status): validates
        return cl(value) if type(value) is not cl else value

    return structure


def _only(json_type: type[Any], name: str, inner: Any) -> Any:
    """Wrap the structure hook ``inner`` to take only a JSON ``json_type`` value.

    cattrs builds a tuple from any iterable and a dict from any mapping, so
    ``""`` or ``{}`` would pass where an array is expected; a malformed
    document must fail instead.
    """

    def structure(value: Any, target: Any) -> Any:
        if type(value) is not json_type:
            raise TypeError(f"expected {name}, got {type(value).__name__} {value!r:.40}")
        return inner(value, target)

    return structure


def _strict_containers(conv: cattrs.Converter) -> None:
    """Make arrays and objects structure only from JSON arrays and objects."""

    def is_tuple_type(t: Any) -> bool:
        return getattr(t, "__origin__", None) is tuple or t is tuple

    def array(t: Any) -> Any:
        if is_mutable_sequence(t):
            inner = list_structure_factory(t, conv)
        elif is_tuple_type(t) and not is_sequence(t):
            inner = conv.gen_structure_hetero_tuple(t)
        else:
            inner = homogenous_tuple_structure_factory(t, conv)
        return _only(list, "a JSON array", inner)

    def is_array(t: Any) -> bool:
        return is_sequence(t) or (is_tuple_type(t) and t is not tuple)

    conv.register_structure_hook_factory(is_array, array)
    conv.register_structure_hook_factory(
        is_mapping, lambda t: _only(dict, "a JSON object", conv.gen_structure_mapping(t))
    )


def make_converter() -> cattrs.Converter:
    """Make a converter configured for wftrio's JSON (see the module docs).

    wftrio itself uses one, made once (:func:`converter`); call this for a
    converter of your own to extend without changing wftrio's.
    """
    conv = cattrs_json.make_converter()
    # before the unions are configured: their per-class hooks are generated then
    conv.register_structure_hook(int, _strict(int))
    conv.register_structure_hook(float, _strict(float, int))
    conv.register_structure_hook(str, _strict(str))
    conv.register_structure_hook(bool, _strict(bool))
    _strict_containers(conv)

    # TraceEvent is a NamedTuple (cheap to build in the reducer); in JSON it is an object
    conv.register_unstructure_hook(
        TraceEvent, namedtuple_dict_unstructure_factory(TraceEvent, conv)
    )
    conv.register_structure_hook(TraceEvent, namedtuple_dict_structure_factory(TraceEvent, conv))

    def tag(cl: type[Any]) -> str:
        return str(cl.TAG)

    configure_tagged_union(FrameSnap, conv, tag_generator=tag, tag_name="kind")
    configure_tagged_union(SchedulerState, conv, tag_generator=tag, tag_name="kind")
    configure_tagged_union(WaitSnap, conv, tag_generator=tag, tag_name="on")
    optional_wait = WaitSnap | None
    conv.register_unstructure_hook(
        optional_wait, lambda v: None if v is None else conv.unstructure(v, WaitSnap)
    )
    wait_hook = conv.get_structure_hook(WaitSnap)
    conv.register_structure_hook(
        optional_wait, lambda v, _: None if v is None else wait_hook(v, WaitSnap)
    )
    return conv


_CONVERTER = make_converter()


def converter() -> cattrs.Converter:
    """The converter for all of wftrio's JSON (one per process; do not reconfigure it)."""
    return _CONVERTER


# ---------------------------------------------------------------------------
# loading and dumping


def _format(exc: BaseException, type_: type[Any] | None) -> str:
    if isinstance(exc, KeyError):
        return f"required field missing (or unknown tag) {exc.args[0]!r}"
    return cattrs.v.format_exception(exc, type_)


def _parse(text: str | bytes, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SerializationError(
            f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            paths=("$",),
        ) from exc
    except (TypeError, UnicodeDecodeError) as exc:
        raise SerializationError(f"{where}: cannot read JSON: {exc}", paths=("$",)) from exc
    except RecursionError as exc:
        raise SerializationError(
            f"{where}: the JSON is nested too deeply to read", paths=("$",)
        ) from exc


def _structure(obj: Any, cl: type[_T], where: str) -> _T:
    if not isinstance(obj, dict):
        raise SerializationError(
            f"{where}: expected a JSON object describing a {cl.__name__}, got "
            f"{type(obj).__name__} {obj!r:.40}",
            paths=("$",),
        )
    try:
        return _CONVERTER.structure(obj, cl)
    except RecursionError as exc:
        raise SerializationError(f"{where}: nested too deeply", paths=("$",)) from exc
    except cattrs.BaseValidationError as exc:
        messages = cattrs.transform_error(exc, path="$", format_exception=_format)
        paths = tuple(m.rpartition(" @ ")[2] for m in messages)
        raise SerializationError(f"{where}: " + "; ".join(messages), paths=paths) from exc


def _dump(obj: Any, where: str, *, sort_keys: bool = False) -> str:
    try:
        return json.dumps(_CONVERTER.unstructure(obj), sort_keys=sort_keys, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(f"{where}: cannot write JSON: {exc}") from exc


def dumps_trace(events: Iterable[TraceEvent]) -> str:
    """Write trace events as JSON lines (one event per line, the format of ``write_jsonl``).

    Raises:
        SerializationError: an event's data holds something that is not a
            JSON value; the message names it (``events[4].data['payload']``).
    """
    evs = list(events)
    for i, ev in enumerate(evs):
        jsonable_copy(ev.data, f"events[{i}].data")
    buf = io.StringIO()
    write_jsonl(evs, buf)
    return buf.getvalue()


def write_jsonl(events: Iterable[TraceEvent], fp: IO[str]) -> None:
    """Write ``events`` to ``fp`` as JSON lines (one event per line, keys sorted).

    Unlike :func:`dumps_trace` it does not check the events' data first: a
    value JSON cannot hold raises ``TypeError`` from :mod:`json`.
    """
    conv = _CONVERTER
    for ev in events:
        fp.write(json.dumps(conv.unstructure(ev), sort_keys=True))
        fp.write("\n")


def read_jsonl(lines: Iterable[str]) -> Iterator[TraceEvent]:
    """Read trace events written by :func:`write_jsonl` (blank lines are skipped).

    Raises:
        SerializationError: a line is not JSON or not a trace event; the
            message gives the line number and the failing field.
    """
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            where = f"trace line {lineno}"
            yield _structure(_parse(line, where), TraceEvent, where)


def loads_trace(text: str) -> list[TraceEvent]:
    """Read trace events written by :func:`dumps_trace` (or ``write_jsonl``).

    Blank lines are skipped.

    Raises:
        SerializationError: a line is not JSON or not a trace event; the
            message gives the line number and the failing field.
    """
    return list(read_jsonl(text.splitlines()))


def dumps_snapshot(snap: StateSnapshot) -> str:
    """Write a :class:`StateSnapshot` as one JSON document.

    Key order is kept (a restored ctx iterates in the same order).

    Raises:
        SerializationError: the snapshot holds a value JSON cannot represent
            (only possible for a snapshot not made by ``ExecState.snapshot``).
    """
    return _dump(snap, "snapshot")


def loads_snapshot(text: str | bytes) -> StateSnapshot:
    """Read a snapshot written by :func:`dumps_snapshot`.

    Raises:
        SerializationError: the text is not JSON or not a snapshot; ``paths``
            name the failing fields.
    """
    return _structure(_parse(text, "snapshot"), StateSnapshot, "snapshot")


def dumps_log(log: ReplayLog) -> str:
    """Write a :class:`~wftrio.trace.ReplayLog` as one JSON document.

    Raises:
        SerializationError: an input's data is not a JSON value (names it).
    """
    for i, ev in enumerate(log.inputs):
        jsonable_copy(ev.data, f"inputs[{i}].data")
    return _dump(log, "replay log", sort_keys=True)


def loads_log(text: str | bytes) -> ReplayLog:
    """Read a replay log written by :func:`dumps_log`.

    A log that no case could have recorded is refused here, as ``wf.Replay``
    would refuse it (see :func:`wftrio.scheduling.replay_log_problems`): a
    negative choice, inputs at steps or case times that go back, a time
    that never comes, a kind no case records.

    Raises:
        SerializationError: the text is not JSON or not a replay log;
            ``paths`` name the failing fields (``$.inputs[2].at_step``).
    """
    log = _structure(_parse(text, "replay log"), ReplayLog, "replay log")
    problems = replay_log_problems(log)
    if problems:
        raise SerializationError(
            "replay log: " + "; ".join(f"{msg} @ $.{path}" for path, msg in problems),
            paths=tuple(f"$.{path}" for path, _ in problems),
        )
    return log
