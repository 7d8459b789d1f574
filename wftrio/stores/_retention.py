"""Retention: deleting the finished cases of a durable store once they are old enough.

A durable store keeps every case it ever ran: its row, its events, its
requests and its last ctx.  :func:`purge_finished` deletes, in one
transaction, the cases that finished at least ``older_than`` seconds ago,
with everything stored for them.  Unfinished cases are never touched, nor
are cases whose finish time is unknown (a row marked corrupt).

It works on a store in use: a SQLite file owned by a running substrate
(the purge takes no ownership lock; SQLite serialises it with the owner's
commits) or a PostgreSQL database its workers use (one transaction, the
database's clock).  A purged case is gone for readers too (``wftrio cases``,
``show``, the web console), as a case forgotten by ``sub.forget`` is.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import attrs

from wftrio.errors import OptionError, StoreError
from wftrio.stores._pgoutside import is_dsn, pg_connect

__all__ = ["Purged", "purge_finished"]

# every table holding rows of a case (the cases row itself is deleted last)
_SQLITE_TABLES = ("events", "requests", "timers", "snapshots", "latest_ctx", "inbox")
_PG_TABLES = ("events", "requests", "timers", "snapshots", "latest_ctx", "ownership")


@attrs.frozen
class Purged:
    """What :func:`purge_finished` deleted (or, with ``dry_run``, would delete).

    Attributes:
        cases: finished cases old enough.
        events: their trace events.
        cutoff: the store-clock time (seconds since the epoch) they finished
            at or before.
    """

    cases: int
    events: int
    cutoff: float


def purge_finished(
    store: str | os.PathLike[str],
    older_than: float,
    *,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
) -> Purged:
    """Delete the cases of ``store`` that finished at least ``older_than`` seconds ago.

    Blocking (a store maintenance call: run it from a script, ``wftrio
    purge``, or ``trio.to_thread.run_sync`` in an application).

    Args:
        store: a SQLite store file, or the ``postgresql://`` DSN of a
            ``PostgresStore`` database.
        older_than: seconds since the case finished, >= 0.
        dry_run: count what would be deleted, delete nothing.
        clock: the SQLite store's wall clock (the one its ``SQLiteStore``
            uses; a PostgreSQL database's own clock is used for it).

    Raises:
        OptionError: ``older_than`` is not a finite number >= 0.
        StoreError: the store cannot be read, is not a wftrio store, or was
            not yet opened by a wftrio that stores finish times (open it
            once with a substrate first).
    """
    if (
        isinstance(older_than, bool)
        or not isinstance(older_than, int | float)
        or not math.isfinite(older_than)
        or older_than < 0
    ):
        raise OptionError(
            f"purge_finished(): older_than={older_than!r}, expected a finite number of seconds >= 0"
        )
    target = os.fspath(store)
    if is_dsn(target):
        return _purge_pg(target, float(older_than), dry_run)
    return _purge_sqlite(target, clock() - older_than, dry_run)


def _purge_sqlite(path: str, cutoff: float, dry_run: bool) -> Purged:
    if not os.path.exists(path):
        raise StoreError(f"no store file at {path!r}")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store {path!r}: {exc}") from exc
    try:
        cols = {row[1] for row in conn.execute("PRAGMA table_info(cases)")}
        if not cols:
            raise StoreError(f"{path!r} is not a wftrio store (it has no cases table)")
        if "finished" not in cols:
            raise StoreError(
                f"the store {path!r} was written by an earlier wftrio, which did not store "
                "when cases finished: open it once with a substrate of this version first"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            picked = "SELECT case_id FROM cases WHERE state IS NOT NULL AND finished <= ?"
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            cases = conn.execute(f"SELECT count(*) FROM ({picked})", (cutoff,)).fetchone()[0]
            events = conn.execute(
                f"SELECT count(*) FROM events WHERE case_id IN ({picked})", (cutoff,)
            ).fetchone()[0]
            if not dry_run:
                for table in _SQLITE_TABLES:
                    if table in tables:
                        conn.execute(f"DELETE FROM {table} WHERE case_id IN ({picked})", (cutoff,))
                conn.execute(f"DELETE FROM cases WHERE case_id IN ({picked})", (cutoff,))
            conn.execute("ROLLBACK" if dry_run else "COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(f"cannot purge the store {path!r}: {exc}") from exc
    finally:
        conn.close()
    return Purged(cases, events, cutoff)


def _purge_pg(dsn: str, older_than: float, dry_run: bool) -> Purged:
    import psycopg

    conn: Any = pg_connect(dsn)
    picked = "SELECT case_id FROM cases WHERE state IS NOT NULL AND finished <= %(cutoff)s"
    try:
        with conn.transaction(force_rollback=dry_run):
            row = conn.execute(
                "SELECT extract(epoch FROM clock_timestamp())::float8 - %s", (older_than,)
            ).fetchone()
            args = {"cutoff": row[0]}
            cases = conn.execute(f"SELECT count(*) FROM ({picked}) p", args).fetchone()[0]
            events = conn.execute(
                f"SELECT count(*) FROM events WHERE case_id IN ({picked})", args
            ).fetchone()[0]
            if not dry_run:
                for table in _PG_TABLES:
                    conn.execute(f"DELETE FROM {table} WHERE case_id IN ({picked})", args)
                conn.execute(f"DELETE FROM cases WHERE case_id IN ({picked})", args)
    except psycopg.errors.UndefinedColumn as exc:
        raise StoreError(
            f"{dsn} was written by an earlier wftrio, which did not store when cases "
            "finished: start a worker of this version on it first"
        ) from exc
    except psycopg.Error as exc:
        raise StoreError(f"cannot purge {dsn}: {exc}") from exc
    finally:
        conn.close()
    return Purged(cases, events, row[0])
