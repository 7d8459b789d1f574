"""The checks a snapshot's free-form data passes, and program fingerprints.

Ctx values, mi items and results, signal payloads and effect payloads are
copied into and out of a snapshot by :func:`jsonable_copy`, which refuses
anything JSON cannot hold faithfully, text that is not valid Unicode and
nesting deeper than :data:`MAX_DEPTH`, naming the offending key.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from wftrio.engine.program import Instr, Program
from wftrio.errors import SerializationError

__all__ = [
    "MAX_DEPTH",
    "instr_arg",
    "jsonable_copy",
    "program_fingerprint",
    "ser_error",
    "valid_text",
]

MAX_DEPTH = 200
"""The deepest nesting of lists and dicts a snapshot's data may have."""


def ser_error(message: str, path: str | None = None) -> SerializationError:
    """A :class:`SerializationError` naming ``path`` (a field of the snapshot)."""
    return SerializationError(message, paths=() if path is None else (path,))


def valid_text(s: str) -> bool:
    """Whether ``s`` is valid Unicode (no lone surrogates), i.e. encodable as UTF-8."""
    if s.isascii():  # O(1) in CPython
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def jsonable_copy(value: Any, path: str) -> Any:
    """Return a deep copy of ``value``, checking that it is a JSON value.

    JSON values are ``None``, ``bool``, ``int``, ``float``, ``str`` (and
    their subclasses, e.g. ``StrEnum`` members), ``list`` and ``dict`` with
    ``str`` keys.

    Raises:
        SerializationError: some part of ``value`` is not a JSON value (a
            tuple, set, bytes, object, non-str key, or a cycle), is text that
            is not valid Unicode, or is nested deeper than :data:`MAX_DEPTH`;
            the message and ``paths`` name it, starting from ``path``.
    """
    return _copy(value, path, set(), 0)


def _copy(value: Any, path: str, active: set[int], depth: int) -> Any:
    if isinstance(value, str):
        if not valid_text(value):
            raise ser_error(f"{path}: text {value!r:.60} is not valid Unicode", path)
        return value
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, list | dict | MappingProxyType):
        if depth >= MAX_DEPTH:
            raise ser_error(
                f"{path}: nested deeper than {MAX_DEPTH} lists and dicts; a snapshot holds "
                "no deeper data",
                path,
            )
        key = id(value)
        if key in active:
            raise ser_error(f"{path}: circular reference; JSON cannot hold cycles", path)
        active.add(key)
        depth += 1
        try:
            if isinstance(value, list):
                return [_copy(v, f"{path}[{i}]", active, depth) for i, v in enumerate(value)]
            out: dict[str, Any] = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise ser_error(
                        f"{path}: key {k!r} is a {type(k).__name__}; JSON object keys are strings",
                        path,
                    )
                if not valid_text(k):
                    raise ser_error(f"{path}: key {k!r:.60} is not valid Unicode", path)
                out[k] = _copy(v, f"{path}[{k!r}]", active, depth)
            return out
        finally:
            active.discard(key)
    hint = " (JSON has no tuples: use a list)" if isinstance(value, tuple) else ""
    raise ser_error(
        f"{path}: {type(value).__name__} {value!r:.60} is not a JSON value{hint}; ctx values, "
        "mi items and signal payloads must be None, bool, int, float, str, list or dict "
        "with str keys to be snapshotted",
        path,
    )


# ---------------------------------------------------------------------------
# instruction operands and program fingerprints


def _arg_items(args: Any) -> list[tuple[str, Any]]:
    """An instruction's operands as (name, value) pairs, sorted by name.

    Operands are a dict, or a record per opcode (attrs or NamedTuple).
    """
    if isinstance(args, Mapping):
        items = list(args.items())
    elif attrs.has(type(args)):
        items = [(a.name, getattr(args, a.name)) for a in attrs.fields(type(args))]
    else:
        items = list(args._asdict().items())
    return sorted(items)


def instr_arg(ins: Instr, name: str, default: Any = None) -> Any:
    """Operand ``name`` of ``ins``'s operand record (``default`` when its opcode has none)."""
    return getattr(ins.ops, name, default)


_FINGERPRINTS: weakref.WeakKeyDictionary[Program, str] = weakref.WeakKeyDictionary()


def _stable(value: Any) -> Any:
    """A process-independent stand-in for an instruction argument."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        return [_stable(v) for v in value]
    return "<callable>" if callable(value) else f"<{type(value).__name__}>"


def program_fingerprint(program: Program) -> str:
    """A short string identifying ``program``'s instruction table.

    Stable across processes (it hashes opcodes, node paths, successors and
    the non-callable arguments: task names, region ids, counts, ...), so a
    snapshot taken in one process can be checked against a Program compiled
    in another.
    """
    fp = _FINGERPRINTS.get(program)
    if fp is None:
        rows = [
            [ins.op, ins.path, ins.next, [[k, _stable(v)] for k, v in _arg_items(ins.args)]]
            for ins in program.instrs
        ]
        blob = json.dumps([program.entry, rows], separators=(",", ":")).encode()
        fp = f"{len(program.instrs)}:{hashlib.sha256(blob).hexdigest()[:20]}"
        _FINGERPRINTS[program] = fp
    return fp
