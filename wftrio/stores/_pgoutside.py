"""A ``PostgresStore`` database read from the command line (``wftrio cases|show DSN``).

The same summaries as a store file gives (:mod:`wftrio.stores._outside`),
read in one repeatable-read transaction, plus who owns each unfinished case.
"""

from __future__ import annotations

import json
from typing import Any

from wftrio.errors import SerializationError, StoreCorrupt, StoreError, UnknownCase
from wftrio.serialize import loads_trace
from wftrio.stores._outside import (
    CaseSummary,
    StoredCtx,
    StoredRequestRow,
    stored_ctx,
    token_waits,
    waits_of,
)
from wftrio.stores._pgclient import known_names
from wftrio.trace import TraceEvent

__all__ = ["is_dsn", "pg_connect", "pg_read_case", "pg_read_cases", "pg_read_ctx"]

_CASES = (
    "SELECT case_id, workflow, version, fingerprint, trace_level, state, created, owner, "
    "epoch FROM cases"
)


def is_dsn(text: str) -> bool:
    """Whether a STORE argument names a PostgreSQL database rather than a file."""
    return text.startswith(("postgresql://", "postgres://"))


def pg_connect(dsn: str) -> Any:
    """A connection to a wftrio database.

    Raises:
        StoreError: unreachable, or it holds no wftrio tables.
    """
    import psycopg

    try:
        conn = psycopg.connect(dsn, autocommit=True)
        ok = conn.execute("SELECT to_regclass('cases') IS NOT NULL").fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"cannot reach {dsn}: {exc}") from exc
    if not ok or not ok[0]:
        conn.close()
        raise StoreError(f"{dsn} is not a wftrio database (it has no cases table)")
    return conn


def _events(conn: Any, case_id: str) -> list[TraceEvent]:
    bodies = [
        b
        for (b,) in conn.execute(
            "SELECT body FROM events WHERE case_id = %s ORDER BY seq", (case_id,)
        )
    ]
    try:
        return loads_trace("\n".join(bodies)) if bodies else []
    except SerializationError as exc:
        raise StoreCorrupt(f"stored case {case_id!r}: unreadable events: {exc}", case_id) from exc


def _summary(conn: Any, row: tuple[Any, ...]) -> CaseSummary:
    case_id, workflow, version, fp, level, state, created, owner, epoch = row
    if state is not None:
        (n,) = conn.execute("SELECT count(*) FROM events WHERE case_id = %s", (case_id,)).fetchone()
        return CaseSummary(case_id, workflow, version, state, True, created, (), level, n)
    try:
        events = _events(conn, case_id)
    except StoreCorrupt:
        return CaseSummary(case_id, workflow, version, "corrupt", False, created, (), level, 0)
    known = known_names(conn, workflow, version, fp)
    waits = waits_of(events, known[0] if known else None)
    (queued,) = conn.execute(
        "SELECT count(*) FROM requests WHERE case_id = %s AND NOT consumed", (case_id,)
    ).fetchone()
    if queued:
        waits = (*waits, f"({queued} request{'s' if queued > 1 else ''} not yet taken)")
    who = f"worker {owner} (epoch {epoch})" if owner is not None else "no worker yet"
    waits = (*waits, f"[{who}]")
    _, last = token_waits(events)
    return CaseSummary(case_id, workflow, version, last, False, created, waits, level, len(events))


def pg_read_cases(conn: Any, *, unfinished: bool = False) -> list[CaseSummary]:
    """Every case (or only the unfinished ones), oldest first, from one committed state."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        where = " WHERE state IS NULL" if unfinished else ""
        rows = conn.execute(_CASES + where + " ORDER BY ord").fetchall()
        return [_summary(conn, r) for r in rows]


def pg_read_case(
    conn: Any, case_id: str
) -> tuple[CaseSummary, list[TraceEvent], list[StoredRequestRow]]:
    """One case: its summary, its events and its committed requests.

    Raises:
        UnknownCase: no such case.
        StoreCorrupt: its events cannot be read.
    """
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        row = conn.execute(_CASES + " WHERE case_id = %s", (case_id,)).fetchone()
        if row is None:
            raise UnknownCase(f"the database holds no case {case_id!r}")
        summary = _summary(conn, row)
        events = _events(conn, case_id)
        reqs = [
            StoredRequestRow(q, k, n, json.loads(p), bool(c))
            for q, k, n, p, c in conn.execute(
                "SELECT req, kind, name, payload, consumed FROM requests WHERE case_id = %s "
                "ORDER BY req",
                (case_id,),
            )
        ]
        return summary, events, reqs


def pg_read_ctx(conn: Any, case_id: str) -> StoredCtx:
    """A case's latest stored ctx (:class:`~wftrio.stores._outside.StoredCtx`).

    Raises:
        UnknownCase: no such case.
        StoreCorrupt: its ctx is not JSON.
    """
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        row = conn.execute("SELECT ctx, state FROM cases WHERE case_id = %s", (case_id,)).fetchone()
        if row is None:
            raise UnknownCase(f"the database holds no case {case_id!r}")
        latest = None
        (exists,) = conn.execute("SELECT to_regclass('latest_ctx') IS NOT NULL").fetchone()
        if exists:  # else: no worker of this version has opened the database yet
            latest = conn.execute(
                "SELECT seq, ctx FROM latest_ctx WHERE case_id = %s", (case_id,)
            ).fetchone()
        return stored_ctx(case_id, row[0], latest, row[1] is not None)
