"""Where the console reads cases from and sends requests to: a live substrate or a store file.

Two sources behind one small interface, so the HTTP API and the pages
never ask which one they have:

* :class:`LiveSource` wraps a :class:`~wftrio.Substrate` open in the same
  trio run: it reads ``sub.status`` / ``sub.events`` and calls
  ``sub.new_case`` / ``signal`` / ``cancel`` / ``cancel_region``.  On a
  durable SQLite store it also shows the stored cases the substrate does
  not hold in memory (finished ones it forgot, ones it could not resume),
  read from the file.
* :class:`StoreSource` reads a store file that another process owns (or
  nobody does), read-only, with the functions the command line uses
  (:mod:`wftrio.stores._outside`); its signals and cancellations go
  through the store's cross-process inbox, and it starts no cases.

Neither imports Starlette: this module is the console's model.
"""

from __future__ import annotations

import abc
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
import trio

from wftrio.errors import ApiError, UnknownCase, WftrioError
from wftrio.receipts import Receipt, receipts
from wftrio.registry import Registry
from wftrio.runtime import Substrate
from wftrio.runtime._workflow import region_names, signal_names
from wftrio.stores import SQLiteStore
from wftrio.stores._base import RequestKind
from wftrio.stores._outside import (
    TokenWait,
    connect_reader,
    connect_writer,
    is_owned,
    post_request,
    read_case,
    read_case_names,
    read_cases,
    read_ctx,
    row_outcome,
    token_waits,
    waits_of,
)
from wftrio.terms import Term
from wftrio.trace import TraceEvent

__all__ = ["CaseDetail", "CaseRow", "LiveSource", "Posted", "Source", "StoreSource", "as_source"]

INBOX_WAIT = 5.0
"""Seconds a request posted to a store's inbox is waited for (taken or refused by its owner)."""


@attrs.frozen
class CaseRow:
    """One case as the case list shows it.

    Attributes:
        case_id: the case id.
        workflow: its registered workflow name (``None``: started from a term).
        version: that workflow's version, or ``None``.
        state: a :class:`~wftrio.CaseState` value (``new`` for a stored case
            with no event yet, ``corrupt`` for one whose events are unreadable).
        finished: whether it has a final state.
        created: wall-clock time it was stored (store cases) or started
            (memory cases), or ``None`` if not known.
        waits: what it waits for, one phrase each (``signal paid``).
        events: trace events known for it.
        source: ``memory`` (a live substrate's case) or ``store`` (read from a file).
    """

    case_id: str
    workflow: str | None
    version: int | None
    state: str
    finished: bool
    created: float | None
    waits: tuple[str, ...]
    events: int
    source: Literal["memory", "store"]

    def to_json(self) -> dict[str, Any]:
        """The row as the API's JSON object."""
        d = attrs.asdict(self)
        d["waits"] = list(self.waits)
        return d


@attrs.frozen
class CaseDetail:
    """One case as ``GET /api/cases/{id}`` shows it.

    Attributes:
        row: its list row.
        ctx: its ctx: current (live, or read from a store as of the case's
            last committed burst that changed it), final (finished), or
            initial (read from a store that holds no later ctx of the case:
            :class:`~wftrio.stores._outside.StoredCtx`); ``ctx_is`` says which.
        ctx_is: ``current``, ``final`` or ``initial``.
        tokens: what each waiting token waits for (from its trace events:
            signal waits and timers are recorded at trace level ``"full"``).
        waiting_signals: signal names some token waits for now.
        pending_signals: signals received and not consumed yet, by name.
        live_regions: regions with a live activation (memory cases only).
        signals: every signal name the workflow takes (``None``: unknown).
        regions: every region id of the workflow (``None``: unknown).
        budget: what it used of its effect budget and its limits (memory
            cases), or ``None``.
        steps: reduction steps taken (memory cases), or ``None``.
        error: why it failed, or ``None``.
        reason: why it was cancelled, or ``None``.
        trace_level: the level its events are recorded at.
    """

    row: CaseRow
    ctx: dict[str, Any]
    ctx_is: Literal["current", "final", "initial"]
    tokens: tuple[TokenWait, ...]
    waiting_signals: tuple[str, ...]
    pending_signals: dict[str, int]
    live_regions: tuple[str, ...]
    signals: tuple[str, ...] | None
    regions: tuple[str, ...] | None
    budget: dict[str, Any] | None
    steps: int | None
    error: str | None
    reason: str | None
    trace_level: str

    def to_json(self) -> dict[str, Any]:
        """The detail as the API's JSON object (the row's fields, then the rest)."""
        d = self.row.to_json()
        d.update(
            ctx=self.ctx,
            ctx_is=self.ctx_is,
            tokens=[attrs.asdict(w) for w in self.tokens],
            waiting_signals=list(self.waiting_signals),
            pending_signals=self.pending_signals,
            live_regions=list(self.live_regions),
            signals=None if self.signals is None else sorted(self.signals),
            regions=None if self.regions is None else sorted(self.regions),
            budget=self.budget,
            steps=self.steps,
            error=self.error,
            reason=self.reason,
            trace_level=self.trace_level,
        )
        return d


@attrs.frozen
class Posted:
    """What became of a request: ``delivered`` (the case's inbox took it),
    ``taken`` (the owning process committed it) or ``queued`` (stored in the
    inbox of a store nobody took it from yet)."""

    status: Literal["delivered", "taken", "queued"]


class Source(abc.ABC):
    """What the console reads and changes; see the module docstring."""

    kind: Literal["live", "store"]
    registry: Registry | None

    @abc.abstractmethod
    def rows(self) -> list[CaseRow]:
        """Every known case, oldest first."""
        raise NotImplementedError

    @abc.abstractmethod
    def detail(self, case_id: str) -> CaseDetail:
        """One case (raises ``UnknownCase``)."""
        raise NotImplementedError

    @abc.abstractmethod
    def events(self, case_id: str) -> list[TraceEvent]:
        """Its trace events (raises ``UnknownCase``)."""
        raise NotImplementedError

    def receipts(self, case_id: str) -> list[Receipt]:
        """Its receipts, from its events (raises ``UnknownCase``)."""
        return receipts(self.events(case_id))

    @abc.abstractmethod
    def term(self, case_id: str) -> Term | None:
        """The workflow term of a case, or ``None`` when it is not known here."""
        raise NotImplementedError

    @abc.abstractmethod
    async def start(
        self, workflow: str, ctx: Mapping[str, Any], case_id: str | None, version: int | None
    ) -> str:
        """Start a case of a registered workflow; return its id."""
        raise NotImplementedError

    @abc.abstractmethod
    async def request(
        self, case_id: str, kind: RequestKind, name: str | None, payload: Any
    ) -> Posted:
        """Send a signal, a cancel or a cancel_region to a case."""
        raise NotImplementedError


def _budget_json(usage: Any) -> dict[str, Any]:
    b = usage.budget
    limits = None
    if b is not None:
        limits = {"effects": b.max_effects, "time": b.max_time, "cost": b.max_cost}
    return {
        "effects": usage.effects,
        "time": usage.time,
        "cost": usage.cost,
        "limits": limits,
        "remaining": usage.remaining if b is not None else None,
    }


def _store_row(summary: Any) -> CaseRow:
    return CaseRow(
        summary.case_id,
        summary.workflow,
        summary.version,
        summary.state,
        summary.finished,
        summary.created,
        summary.waits,
        summary.events,
        "store",
    )


def _read(path: str, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    """Run ``fn`` on a read-only connection to the store file."""
    conn = connect_reader(path)
    try:
        return fn(conn)
    except sqlite3.Error as exc:
        raise ApiError(f"the store cannot be read: {exc}", 503) from exc
    finally:
        conn.close()


def _store_detail(path: str, case_id: str) -> CaseDetail:
    def read(conn: sqlite3.Connection) -> Any:
        summary, events, _ = read_case(conn, case_id)
        return summary, events, read_case_names(conn, case_id), read_ctx(conn, case_id)

    summary, events, (_, signals, regions), stored = _read(path, read)
    waiting = _waiting_signals(events)
    pending: dict[str, int] = {}
    for ev in events:
        if ev.kind == "signal_received" and not ev.data.get("transient"):
            pending[str(ev.name)] = pending.get(str(ev.name), 0) + 1
        elif ev.kind == "signal_consumed":
            pending[str(ev.name)] = pending.get(str(ev.name), 0) - 1
    error = next((str(e.data.get("error")) for e in events if e.kind == "case_failed"), None)
    return CaseDetail(
        _store_row(summary),
        stored.ctx,
        stored.kind,
        () if summary.finished else tuple(token_waits(events)[0]),
        waiting,
        {k: v for k, v in pending.items() if v > 0},
        (),
        signals,
        regions,
        None,
        None,
        error,
        None,
        summary.trace_level,
    )


def _waiting_signals(events: Sequence[TraceEvent]) -> tuple[str, ...]:
    return tuple(sorted({w.split()[1] for w in waits_of(events) if w.startswith("signal ")}))


class StoreSource(Source):
    """A store file owned by another process (or none): read-only, requests via its inbox.

    Args:
        path: the store file.
        registry: where workflow terms are looked up by name for the graph
            (default: the one ``wf.workflow`` fills); the store itself
            keeps no terms.

    Raises:
        StoreError: no such file, or not a wftrio store.
    """

    kind: Literal["live", "store"] = "store"

    def __init__(self, path: str | os.PathLike[str], registry: Registry | None = None) -> None:
        self.path = os.fspath(path)
        connect_reader(self.path).close()  # fail now on a file that is no store
        self.registry = registry

    def rows(self) -> list[CaseRow]:
        return [_store_row(s) for s in _read(self.path, read_cases)]

    def detail(self, case_id: str) -> CaseDetail:
        return _store_detail(self.path, case_id)

    def events(self, case_id: str) -> list[TraceEvent]:
        events: list[TraceEvent] = _read(self.path, lambda c: read_case(c, case_id)[1])
        return events

    def term(self, case_id: str) -> Term | None:
        row = self.detail(case_id).row
        return _registered_term(self.registry, row.workflow, row.version)

    async def start(
        self, workflow: str, ctx: Mapping[str, Any], case_id: str | None, version: int | None
    ) -> str:
        owner = "another process owns" if is_owned(self.path) else "this console only reads"
        raise ApiError(
            f"{owner} the store {self.path}: cases are started by the process that runs them",
            409,
        )

    async def request(
        self, case_id: str, kind: RequestKind, name: str | None, payload: Any
    ) -> Posted:
        conn = connect_writer(self.path)
        try:
            row = post_request(conn, case_id, kind, name, payload)
            with trio.move_on_after(INBOX_WAIT):
                while is_owned(self.path):
                    outcome = row_outcome(conn, row)
                    if outcome == "":
                        return Posted("taken")
                    if outcome is not None:
                        raise ApiError(f"the process owning the store refused it: {outcome}", 409)
                    await trio.sleep(0.02)
            return Posted("queued")
        except sqlite3.Error as exc:
            raise ApiError(f"the store cannot be written: {exc}", 503) from exc
        finally:
            conn.close()


def _registered_term(
    registry: Registry | None, name: str | None, version: int | None
) -> Term | None:
    if name is None:
        return None
    from wftrio.registry import default_registry

    try:
        return (registry or default_registry).get(name, version).term
    except WftrioError:
        return None


class LiveSource(Source):
    """A substrate open in the same trio run (its store in memory or a SQLite file)."""

    kind: Literal["live", "store"] = "live"

    def __init__(self, sub: Substrate) -> None:
        if not isinstance(sub, Substrate):
            raise TypeError(f"expected a wf.Substrate, got {type(sub).__name__}")
        self.sub = sub
        self.registry = sub.registry
        store = sub.store
        self.path = store.path if isinstance(store, SQLiteStore) else None

    def _row(self, case_id: str) -> CaseRow:
        info = self.sub.status(case_id)
        created = None
        if info.started_at is not None:  # trio time: how long ago, on the wall clock
            created = time.time() - (trio.current_time() - info.started_at)
        waits = [f"signal {n}" for n in info.waiting_signals]
        waits += [f"effect {n}" for n in info.effect_names]
        if info.timers:
            waits.append(f"{info.timers} timer{'s' if info.timers > 1 else ''}")
        return CaseRow(
            case_id,
            info.workflow,
            info.workflow_version,
            info.state.value,
            info.state.final,
            created,
            tuple(waits),
            info.events + info.events_dropped,
            "memory",
        )

    def rows(self) -> list[CaseRow]:
        out = [self._row(cid) for cid in self.sub.case_ids()]
        if self.path is not None:
            held = set(self.sub.case_ids())
            out += [r for r in StoreSource(self.path).rows() if r.case_id not in held]
        return out

    def _held(self, case_id: str) -> bool:
        return case_id in self.sub.case_ids()

    def detail(self, case_id: str) -> CaseDetail:
        if not self._held(case_id):
            if self.path is not None:
                return _store_detail(self.path, case_id)
            raise UnknownCase(f"no case {case_id!r} on this substrate")
        info = self.sub.status(case_id)
        term = info.term
        err = info.error
        tokens = () if info.state.final else tuple(token_waits(self.sub.events(case_id))[0])
        return CaseDetail(
            self._row(case_id),
            info.ctx,
            "final" if info.state.final else "current",
            tokens,
            info.waiting_signals,
            dict(info.pending_signals),
            info.live_regions,
            tuple(signal_names(term)) if term is not None else None,
            tuple(region_names(term)) if term is not None else None,
            _budget_json(info.budget),
            info.steps,
            None if err is None else f"{type(err).__name__}: {err}",
            info.reason,
            info.trace_level,
        )

    def events(self, case_id: str) -> list[TraceEvent]:
        if not self._held(case_id) and self.path is not None:
            return StoreSource(self.path).events(case_id)
        return self.sub.events(case_id)

    def term(self, case_id: str) -> Term | None:
        if not self._held(case_id):
            row = self.detail(case_id).row
            return _registered_term(self.registry, row.workflow, row.version)
        return self.sub.status(case_id).term

    async def start(
        self, workflow: str, ctx: Mapping[str, Any], case_id: str | None, version: int | None
    ) -> str:
        if case_id is not None and self.path is not None and not self._held(case_id):
            known = {r.case_id for r in StoreSource(self.path).rows()}
            if case_id in known:
                raise ApiError(f"case {case_id!r} already exists in the store", 409)
        return await self.sub.new_case(workflow, ctx, case_id, version=version)

    async def request(
        self, case_id: str, kind: RequestKind, name: str | None, payload: Any
    ) -> Posted:
        if not self._held(case_id) and self.path is not None:
            self.detail(case_id)  # UnknownCase if the file does not hold it either
            raise ApiError(
                f"case {case_id!r} is stored but not running in this process (it finished "
                "or could not be resumed); it takes no requests",
                409,
            )
        if kind == "signal":
            assert name is not None
            await self.sub.signal(case_id, name, payload)
        elif kind == "cancel":
            await self.sub.cancel(case_id)
        else:
            assert name is not None
            await self.sub.cancel_region(case_id, name)
        return Posted("delivered")


def as_source(sub_or_store: Any, registry: Registry | None = None) -> Source:
    """A :class:`Source` for ``wftrio.web.app``'s argument.

    Raises:
        TypeError: neither a Substrate, a store file path nor a Source.
        StoreError: a path that is no wftrio store.
    """
    if isinstance(sub_or_store, Source):
        return sub_or_store
    if isinstance(sub_or_store, Substrate):
        return LiveSource(sub_or_store)
    if isinstance(sub_or_store, SQLiteStore):
        return StoreSource(sub_or_store.path, registry)
    if isinstance(sub_or_store, str) and sub_or_store.startswith(("postgresql://", "postgres://")):
        from wftrio.web._pgsource import PgSource  # a PostgresStore database (docs/SCALING.md)

        return PgSource(sub_or_store, registry)
    if isinstance(sub_or_store, str | os.PathLike):
        return StoreSource(sub_or_store, registry)
    raise TypeError(
        "wftrio.web.app(): expected a wf.Substrate, a wf.SQLiteStore or a store file path, "
        f"got {type(sub_or_store).__name__}"
    )
