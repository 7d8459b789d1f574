"""A store file seen from outside its owning process: reading it, posting requests to it.

The command line (``wftrio cases|show|signal|cancel STORE``) works on a
store file while another process owns it, without taking its ownership
lock:

* **Reading** uses a read-only connection (``mode=ro``); WAL lets it read
  the last committed state while the owner writes.
* **Requests** (a signal, a cancellation) go into the ``inbox`` table, in
  a short transaction of their own (``busy_timeout`` waits out the owner's
  commits).  The owning :class:`~wftrio.stores.SQLiteStore` polls the
  table (cheaply: ``PRAGMA data_version`` tells it whether anything was
  committed since it last looked) and hands each row to its substrate,
  which admits it as it would ``sub.signal`` / ``cancel`` /
  ``cancel_region``: the request is committed with an id of its own, and
  the inbox row deleted, in one transaction, so a row becomes a request
  exactly once.  A row the substrate refuses (the case finished meanwhile,
  a signal its workflow never waits for) is marked ``refused`` with the
  reason, for the poster to read.  With no owner, rows wait for the next
  process that opens the store: it takes them once its cases are resumed.

This module holds the tables the inbox needs and the functions on both
sides of it; the owner's polling loop is in ``_sqlite.py``.
"""

from __future__ import annotations

import contextvars
import fcntl
import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import attrs

from wftrio.errors import (
    CaseClosed,
    SerializationError,
    StoreCorrupt,
    StoreError,
    UnknownCase,
    UnknownRegion,
    UnknownSignal,
    UnstorableValue,
)
from wftrio.serialize import loads_trace
from wftrio.stores._base import RequestKind
from wftrio.trace import TraceEvent

__all__ = [
    "FROM_INBOX",
    "INBOX_SCHEMA",
    "CaseSummary",
    "InboxRow",
    "StoredCtx",
    "StoredRequestRow",
    "TokenWait",
    "connect_reader",
    "connect_writer",
    "is_owned",
    "note_workflows",
    "pending_rows",
    "post_request",
    "read_case",
    "read_case_names",
    "read_cases",
    "read_ctx",
    "refuse_row",
    "row_outcome",
    "stored_ctx",
    "take_row",
    "token_waits",
    "waits_of",
]

INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    payload TEXT NOT NULL,
    posted REAL NOT NULL,
    refused TEXT
);
CREATE TABLE IF NOT EXISTS workflows (
    workflow TEXT NOT NULL,
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    signals TEXT NOT NULL,
    regions TEXT NOT NULL,
    PRIMARY KEY (workflow, version, fingerprint)
);
"""
"""The tables of the cross-process inbox (``inbox``), of what each stored
workflow version waits for (``workflows``: its signal names and region ids,
so a poster can refuse a signal no step waits for without the workflow's
code).  When a case was created is the ``cases`` table's own ``created``
column (the store's clock)."""

FROM_INBOX: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "wftrio_from_inbox", default=None
)
"""Set (to an inbox row id) while the owner admits that row through the
substrate's ``signal`` / ``cancel`` / ``cancel_region``: the store commits
the request and deletes the row in one transaction."""

BUSY_MS = 5000
"""How long a connection from outside waits for the owner's write lock."""


@attrs.frozen
class InboxRow:
    """A request posted to the store's inbox, not yet taken by its owner.

    Attributes:
        id: its row id (increasing in posting order).
        case_id: the case it is for.
        kind: ``"signal"``, ``"cancel"`` or ``"cancel_region"``.
        name: the signal name or region id (``None`` for ``"cancel"``).
        payload: the signal payload (JSON).
        problem: why the row cannot be a request (not one a poster wrote),
            or ``None``.
    """

    id: int
    case_id: str
    kind: RequestKind
    name: str | None
    payload: Any
    problem: str | None = None


@attrs.frozen
class StoredRequestRow:
    """A committed request of a case, as ``wftrio show`` lists it."""

    req: int
    kind: str
    name: str | None
    payload: Any
    consumed: bool


@attrs.frozen
class CaseSummary:
    """One stored case as ``wftrio cases`` shows it.

    Attributes:
        case_id: the case id.
        workflow: its workflow name.
        version: its workflow version.
        state: its final state (``done``, ``failed``, ``cancelled``) or, if
            unfinished, the last state its events record (``running``,
            ``waiting_signal``, ``waiting_effect``; ``new`` before any).
        finished: whether it has a final state.
        created: wall-clock time it was stored (``None`` if unknown).
        waits: what an unfinished case waits for, one phrase each.
        trace_level: the level its events were recorded at.
        events: how many events are stored.
    """

    case_id: str
    workflow: str
    version: int
    state: str
    finished: bool
    created: float | None
    waits: tuple[str, ...]
    trace_level: str
    events: int


@attrs.frozen
class StoredCtx:
    """A stored case's ctx as a reader outside its owning process sees it.

    Attributes:
        ctx: the ctx.
        kind: ``current`` (as of the case's last committed burst that
            changed it), ``final`` (the case has finished), or ``initial``
            (the store holds no later one: the case has not committed a
            change yet, or its owner is a wftrio from before ``latest_ctx``).
        seq: events committed when it was stored (``None`` for ``initial``).
    """

    ctx: dict[str, Any]
    kind: Literal["current", "final", "initial"]
    seq: int | None


def stored_ctx(
    case_id: str, initial: str, latest: Sequence[Any] | None, finished: bool
) -> StoredCtx:
    """The :class:`StoredCtx` of a case from its ``cases.ctx`` text and its
    ``latest_ctx`` row ``(seq, ctx)`` (``None``: no row) (both stores).

    Raises:
        StoreCorrupt: a text that is no JSON object.
    """
    text = initial if latest is None else latest[1]
    try:
        ctx = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreCorrupt(f"stored case {case_id!r}: its ctx is not JSON: {exc}", case_id) from exc
    if not isinstance(ctx, dict):
        raise StoreCorrupt(f"stored case {case_id!r}: its ctx is no JSON object", case_id)
    if latest is None:
        return StoredCtx(ctx, "initial", None)
    return StoredCtx(ctx, "final" if finished else "current", int(latest[0]))


# -- connections -------------------------------------------------------------


def _uri(path: str, mode: str) -> str:
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode={mode}"


def _check_store(conn: sqlite3.Connection, path: str) -> None:
    try:
        found = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a wftrio store: {exc}") from exc
    if not {"cases", "events", "requests"} <= found:
        raise StoreError(f"{path} is not a wftrio store (it has no cases table)")


def _connect(path: str | os.PathLike[str], mode: str) -> sqlite3.Connection:
    """A connection to a store file in URI ``mode`` (never takes its ownership lock).

    Raises:
        StoreError: no such file, or not a wftrio store.
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise StoreError(f"no such store file: {p}")
    try:
        conn = sqlite3.connect(_uri(p, mode), uri=True, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {p}: {exc}") from exc
    _check_store(conn, p)
    return conn


def connect_reader(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to a store file (see :func:`_connect`)."""
    return _connect(path, "ro")


def connect_writer(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection that posts to a store file's inbox (see :func:`_connect`)."""
    conn = _connect(path, "rw")
    conn.executescript(INBOX_SCHEMA)
    return conn


def is_owned(path: str | os.PathLike[str]) -> bool:
    """Whether a process owns the store (holds its ``<path>.lock`` flock).

    Probes with a shared lock, released at once: an owner opening the store
    at that very moment retries briefly instead of failing.
    """
    try:
        fd = os.open(os.fspath(path) + ".lock", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


# -- the owner's side (called in the store's transactions) --------------------


def pending_rows(conn: sqlite3.Connection, after: int) -> list[InboxRow]:
    """Inbox rows posted after row ``after`` and not refused, oldest first.

    A row that is not one a poster wrote (unknown kind, payload not JSON)
    comes back with its ``problem``, to be refused.
    """
    out: list[InboxRow] = []
    rows = conn.execute(
        "SELECT id, case_id, kind, name, payload FROM inbox "
        "WHERE id > ? AND refused IS NULL ORDER BY id",
        (after,),
    ).fetchall()
    for rid, case_id, kind, name, payload in rows:
        problem = None
        try:
            value = json.loads(payload)
        except (TypeError, ValueError):
            value, problem = None, "its payload is not JSON"
        if kind not in ("signal", "cancel", "cancel_region") or not isinstance(case_id, str):
            problem = f"unknown request kind {kind!r}"
        if name is not None and not isinstance(name, str):
            problem = f"a name that is no str: {name!r}"
        out.append(InboxRow(rid, str(case_id), kind, name, value, problem))
    return out


def take_row(conn: sqlite3.Connection, row_id: int) -> None:
    """Delete an inbox row its request was committed for (same transaction)."""
    if conn.execute("DELETE FROM inbox WHERE id = ?", (row_id,)).rowcount != 1:
        raise StoreError(f"inbox row {row_id} was taken already")


def refuse_row(conn: sqlite3.Connection, row_id: int, reason: str) -> None:
    """Mark an inbox row refused, with the reason its poster reads."""
    conn.execute("UPDATE inbox SET refused = ? WHERE id = ?", (reason or "refused", row_id))


def note_workflows(
    conn: sqlite3.Connection, rows: Iterable[tuple[str, int, str, Any, Any]]
) -> None:
    """Record workflow versions' signal names and region ids (once each)."""
    conn.executemany(
        "INSERT OR IGNORE INTO workflows VALUES (?, ?, ?, ?, ?)",
        [(n, v, f, json.dumps(sorted(s)), json.dumps(sorted(r))) for n, v, f, s, r in rows],
    )


def _workflow_of(conn: sqlite3.Connection, case_id: str) -> tuple[str, int, str, str | None, str]:
    row = conn.execute(
        "SELECT workflow, version, fingerprint, state, trace_level FROM cases WHERE case_id = ?",
        (case_id,),
    ).fetchone()
    if row is None:
        raise UnknownCase(f"the store holds no case {case_id!r}")
    return row  # type: ignore[no-any-return]


def _known(conn: sqlite3.Connection, workflow: str, version: int, fp: str) -> Any:
    try:
        row = conn.execute(
            "SELECT signals, regions FROM workflows WHERE workflow = ? AND version = ? "
            "AND fingerprint = ?",
            (workflow, version, fp),
        ).fetchone()
    except sqlite3.OperationalError:  # a store written before the table existed
        return None
    return None if row is None else (json.loads(row[0]), json.loads(row[1]))


def post_request(
    conn: sqlite3.Connection, case_id: str, kind: RequestKind, name: str | None, payload: Any
) -> int:
    """Check a request against the store, then post it to the inbox; return its row id.

    Nothing is written when a check fails.

    Raises:
        UnknownCase: the store holds no such case.
        CaseClosed: the case has finished.
        UnknownSignal: the case's workflow never waits for signal ``name``
            (checked when the store knows its signal names).
        UnknownRegion: the workflow has no region ``name`` (likewise).
        UnstorableValue: ``payload`` is not JSON.
    """
    try:
        body = json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise UnstorableValue(f"the payload must be JSON: {exc}") from None
    conn.execute("BEGIN IMMEDIATE")
    try:
        workflow, version, fp, state, _ = _workflow_of(conn, case_id)
        if state is not None:
            raise CaseClosed(f"case {case_id!r} has finished ({state}); it takes no requests")
        known = _known(conn, workflow, version, fp)
        if known is not None and kind == "signal" and name not in known[0]:
            raise UnknownSignal(
                f"case {case_id!r} never waits for signal {name!r}; its workflow "
                f"{workflow}@{version} waits for {', '.join(known[0]) or 'no signals'}"
            )
        if known is not None and kind == "cancel_region" and name not in known[1]:
            raise UnknownRegion(
                f"case {case_id!r} has no region {name!r}; its workflow {workflow}@{version} "
                f"has {', '.join(known[1]) or 'no regions'}"
            )
        cur = conn.execute(
            "INSERT INTO inbox (case_id, kind, name, payload, posted) VALUES (?, ?, ?, ?, ?)",
            (case_id, kind, name, body, time.time()),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    assert cur.lastrowid is not None
    return cur.lastrowid


def row_outcome(conn: sqlite3.Connection, row_id: int) -> str | None:
    """``None`` while an inbox row waits; ``""`` once taken; else why it was refused.

    A refused row is deleted once read (its poster reports the reason).
    """
    row = conn.execute("SELECT refused FROM inbox WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        return ""
    if row[0] is None:
        return None
    conn.execute("DELETE FROM inbox WHERE id = ?", (row_id,))
    return str(row[0])


# -- reading -------------------------------------------------------------------


def _events(conn: sqlite3.Connection, case_id: str) -> list[TraceEvent]:
    bodies = [
        b
        for (b,) in conn.execute(
            "SELECT body FROM events WHERE case_id = ? ORDER BY seq", (case_id,)
        )
    ]
    try:
        return loads_trace("\n".join(bodies)) if bodies else []
    except SerializationError as exc:
        raise StoreCorrupt(f"stored case {case_id!r}: unreadable events: {exc}", case_id) from exc


@attrs.frozen
class TokenWait:
    """One thing a token of an unfinished case waits for (see :func:`token_waits`).

    Attributes:
        token: the waiting token (``None`` if the event named none).
        region: the innermost region it waits in, or ``None``.
        what: ``signal NAME``, ``timer Ns`` or ``effect NAME``.
    """

    token: int | None
    region: str | None
    what: str


def token_waits(events: Sequence[TraceEvent]) -> tuple[list[TokenWait], str]:
    """What each token of a case waits for, and the case's last recorded state.

    Derived from its events as :func:`waits_of` says: signal waits and
    timers first (trace level ``"full"`` only), then effects in flight.
    """
    effects: dict[Any, TokenWait] = {}
    waits: dict[tuple[Any, ...], TokenWait] = {}
    state = "new"
    for ev in events:
        kind = ev.kind
        if kind == "case_state":
            state = str(ev.name)
        elif kind == "effect_requested":
            effects[ev.data.get("eid")] = TokenWait(ev.token, ev.scope, f"effect {ev.name}")
        elif kind in ("effect_completed", "effect_failed", "effect_cancelled"):
            effects.pop(ev.data.get("eid"), None)
        elif kind == "signal_waiting":
            waits[("s", ev.token, ev.name)] = TokenWait(ev.token, ev.scope, f"signal {ev.name}")
        elif kind == "timer_started":
            seconds = ev.data.get("seconds")
            waits[("t", ev.data.get("tid"))] = TokenWait(ev.token, ev.scope, f"timer {seconds}s")
        elif kind == "region_cancelled":
            waits = {k: w for k, w in waits.items() if w.region != ev.name}
        elif ev.token is not None:
            waits = {k: w for k, w in waits.items() if w.token != ev.token}
    return [*waits.values(), *effects.values()], state


def waits_of(events: Sequence[TraceEvent], signals: Sequence[str] | None = None) -> tuple[str, ...]:
    """What an unfinished case waits for, derived from its stored events.

    Effects in flight come from ``effect_requested`` events without an
    outcome (any trace level).  Signal waits (``signal_waiting``) and
    timers (``timer_started``) are recorded at trace level ``"full"`` only;
    a wait ends when its token moves on (any later event of that token),
    is withdrawn, or its region is cancelled.  A case waiting for a signal
    whose wait is not recorded shows the signal names its workflow takes
    (``signals``), when known.
    """
    found, state = token_waits(events)
    out = [f"{w.what} (region {w.region})" if w.region is not None else w.what for w in found]
    if state == "waiting_signal" and not any(w.startswith("signal ") for w in out):
        if signals:
            out.insert(0, "a signal: " + " | ".join(signals))
        elif not out:
            out.append("a signal")
    return tuple(out)


def _state_of(events: Sequence[TraceEvent]) -> str:
    for ev in reversed(events):
        if ev.kind == "case_state":
            return str(ev.name)
    return "new"


def _summary(conn: sqlite3.Connection, row: Sequence[Any]) -> CaseSummary:
    case_id, workflow, version, fp, level, state, created = row
    known = _known(conn, workflow, version, fp)
    if state is not None:
        n = conn.execute("SELECT count(*) FROM events WHERE case_id = ?", (case_id,)).fetchone()
        return CaseSummary(case_id, workflow, version, state, True, created, (), level, n[0])
    try:
        events = _events(conn, case_id)
    except StoreCorrupt:
        return CaseSummary(case_id, workflow, version, "corrupt", False, created, (), level, 0)
    waits = waits_of(events, known[0] if known else None)
    queued = conn.execute(
        "SELECT count(*) FROM requests WHERE case_id = ? AND consumed = 0", (case_id,)
    ).fetchone()[0] + _inbox_count(conn, case_id)
    if queued:
        waits = (*waits, f"({queued} request{'s' if queued > 1 else ''} not yet taken)")
    return CaseSummary(
        case_id, workflow, version, _state_of(events), False, created, waits, level, len(events)
    )


def _inbox_count(conn: sqlite3.Connection, case_id: str) -> int:
    try:
        n = conn.execute(
            "SELECT count(*) FROM inbox WHERE case_id = ? AND refused IS NULL", (case_id,)
        ).fetchone()
    except sqlite3.OperationalError:  # a store written before the table existed
        return 0
    return int(n[0])


def _select_cases(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> list[Any]:
    return conn.execute(
        "SELECT c.case_id, c.workflow, c.version, c.fingerprint, c.trace_level, c.state, "
        f"c.created FROM cases c {where}",
        args,
    ).fetchall()


def read_cases(conn: sqlite3.Connection, *, unfinished: bool = False) -> list[CaseSummary]:
    """Every stored case (or only the unfinished ones), in the order they were stored.

    Reads in one transaction, so the table is one committed state of the store.
    """
    conn.execute("BEGIN")
    try:
        where = "WHERE c.state IS NULL " if unfinished else ""
        rows = _select_cases(conn, where + "ORDER BY c.rowid", ())
        return [_summary(conn, r) for r in rows]
    finally:
        conn.execute("COMMIT")


def read_case(
    conn: sqlite3.Connection, case_id: str
) -> tuple[CaseSummary, list[TraceEvent], list[StoredRequestRow]]:
    """One stored case: its summary, its events and its committed requests.

    Raises:
        UnknownCase: the store holds no such case.
        StoreCorrupt: its events cannot be read.
    """
    conn.execute("BEGIN")
    try:
        rows = _select_cases(conn, "WHERE c.case_id = ?", (case_id,))
        if not rows:
            raise UnknownCase(f"the store holds no case {case_id!r}")
        summary = _summary(conn, rows[0])
        events = _events(conn, case_id)
        reqs = [
            StoredRequestRow(req, kind, name, json.loads(payload), bool(consumed))
            for req, kind, name, payload, consumed in conn.execute(
                "SELECT req, kind, name, payload, consumed FROM requests WHERE case_id = ? "
                "ORDER BY req",
                (case_id,),
            )
        ]
        return summary, events, reqs
    finally:
        conn.execute("COMMIT")


def read_case_names(
    conn: sqlite3.Connection, case_id: str
) -> tuple[dict[str, Any], tuple[str, ...] | None, tuple[str, ...] | None]:
    """A stored case's initial ctx, and its workflow's signal names and region ids.

    The names are ``None`` when the store does not know them (a store
    written before the ``workflows`` table existed).

    Raises:
        UnknownCase: the store holds no such case.
    """
    workflow, version, fp, _, _ = _workflow_of(conn, case_id)
    (ctx,) = conn.execute("SELECT ctx FROM cases WHERE case_id = ?", (case_id,)).fetchone()
    known = _known(conn, workflow, version, fp)
    if known is None:
        return json.loads(ctx), None, None
    return json.loads(ctx), tuple(known[0]), tuple(known[1])


def read_ctx(conn: sqlite3.Connection, case_id: str) -> StoredCtx:
    """A stored case's latest stored ctx (see :class:`StoredCtx`).

    Raises:
        UnknownCase: the store holds no such case.
        StoreCorrupt: its ctx is not JSON.
    """
    row = conn.execute("SELECT ctx, state FROM cases WHERE case_id = ?", (case_id,)).fetchone()
    if row is None:
        raise UnknownCase(f"the store holds no case {case_id!r}")
    try:
        latest = conn.execute(
            "SELECT seq, ctx FROM latest_ctx WHERE case_id = ?", (case_id,)
        ).fetchone()
    except sqlite3.OperationalError:  # a store no process of this version has opened yet
        latest = None
    return stored_ctx(case_id, row[0], latest, row[1] is not None)
