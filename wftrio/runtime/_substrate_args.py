"""The arguments of ``open_substrate``, checked: the case defaults (parsed
once when every one is left at its default), the store, and the rest."""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Mapping
from typing import Any

import attrs

from wftrio.errors import OptionError
from wftrio.registry import Registry
from wftrio.runtime._types import CaseOptions, CaseState, parse_case_options
from wftrio.stores import MemoryStore, SQLiteStore
from wftrio.stores._postgres import PostgresStore

__all__ = [
    "CASE_FIELDS",
    "case_defaults",
    "case_state",
    "check_ctx",
    "check_substrate_args",
    "choose_store",
    "count",
    "first_leaf",
    "seconds",
]

#: the case options in ``CaseOptions``' field order (scheduler, step_quanta, ...)
CASE_FIELDS = tuple(f.name for f in attrs.fields(CaseOptions))

_parsed_defaults: CaseOptions | None = None  # the defaults parsed once (frozen)


def case_defaults(given: tuple[object, ...], defaults: tuple[object, ...]) -> CaseOptions:
    """The substrate's case options from ``given`` (values in ``CASE_FIELDS`` order).

    ``defaults`` are the signature's default objects: when every given value
    *is* its default, the options parsed the first time are shared.

    Raises:
        OptionError, SchedulerError: an invalid value.
    """
    global _parsed_defaults
    at_default = all(map(operator.is_, given, defaults))
    if at_default and _parsed_defaults is not None:
        return _parsed_defaults
    named = dict(zip(CASE_FIELDS, given, strict=True))
    opts = parse_case_options(CaseOptions(), named, "open_substrate()")
    if at_default:
        _parsed_defaults = opts
    return opts


def check_substrate_args(
    retain_finished: object,
    shutdown: object,
    inbox_capacity: object,
    sink_buffer: object,
    registry: object,
) -> None:
    """Raise OptionError for an invalid substrate-wide argument."""
    if retain_finished is not None and not _int_at_least(retain_finished, 0):
        raise OptionError(f"retain_finished={retain_finished!r}: expected None or an int >= 0")
    if shutdown not in ("cancel", "drain"):
        raise OptionError(f"shutdown={shutdown!r}: expected 'cancel' or 'drain'")
    if not count(inbox_capacity):
        raise OptionError(f"inbox_capacity={inbox_capacity!r}: expected an int >= 1")
    if not count(sink_buffer):
        raise OptionError(f"sink_buffer={sink_buffer!r}: expected an int >= 1")
    if registry is not None and not isinstance(registry, Registry):
        raise OptionError(f"registry={registry!r}: expected None or a wf.Registry")


def choose_store(store: object, path: Any) -> MemoryStore | SQLiteStore | PostgresStore:
    """The store of ``store=`` or ``path=`` (a ``MemoryStore`` when neither is given).

    Raises:
        OptionError: both given, or either of the wrong type.
    """
    if store is not None and path is not None:
        raise OptionError("open_substrate(): pass store= or path=, not both")
    if path is not None:
        if not isinstance(path, str | os.PathLike):
            raise OptionError(f"path={path!r}: expected a file path")
        return SQLiteStore(path)
    if store is None:
        return MemoryStore()
    if not isinstance(store, MemoryStore | SQLiteStore | PostgresStore):
        raise OptionError(
            f"store={store!r}: expected a wf.MemoryStore, wf.SQLiteStore or wf.PostgresStore"
        )
    return store


def case_state(state: object) -> CaseState:
    """``state`` as a CaseState (``wait_state``'s arguments); OptionError otherwise."""
    if isinstance(state, str):
        try:
            return CaseState(state)
        except ValueError:
            pass
    raise OptionError(
        f"wait_state(): states holds {state!r}, which is not a case state; expected one of "
        f"{', '.join(repr(s.value) for s in CaseState)}"
    )


def first_leaf(
    group: BaseExceptionGroup[BaseException], types: tuple[type[BaseException], ...]
) -> BaseException | None:
    """The first exception of one of ``types`` in ``group`` (nested groups searched)."""
    for exc in group.exceptions:
        if isinstance(exc, types):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = first_leaf(exc, types)
            if found is not None:
                return found
    return None


def _int_at_least(x: object, low: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= low


def count(x: object) -> bool:
    return _int_at_least(x, 1)


def seconds(x: object) -> bool:
    """Whether ``x`` is a finite number >= 0 (not a bool)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x >= 0


def check_ctx(ctx: object) -> None:
    """Refuse a ``new_case`` ctx that is not a Mapping with str keys.

    Raises:
        OptionError: not a Mapping, or a key that is not a str.
    """
    if type(ctx) is not dict and not isinstance(ctx, Mapping):
        raise OptionError(f"new_case(): ctx must be a Mapping or None, got {type(ctx).__name__}")
    try:
        # a C-speed scan first: str.join takes str keys only (about
        # half the time of collecting the keys' types in a set)
        "".join(ctx)
    except TypeError:
        bad = next((k for k in ctx if not isinstance(k, str)), None)
        if bad is not None:
            raise OptionError(f"new_case(): ctx keys must be str, got {bad!r}") from None
