"""Requests and new cases committed to a ``PostgresStore`` database from any process.

Used by the workers (a request for a case another worker owns) and by
:class:`wftrio.Client` (a process with only the DSN).  A request is
committed under the case row's lock, its id taken from the row's
``next_req`` counter; ``NOTIFY`` wakes the owner, which delivers it
(docs/SCALING.md).
"""

from __future__ import annotations

import json
from typing import Any

from wftrio.errors import CaseClosed, UnknownCase, UnknownRegion, UnknownSignal, UnstorableValue
from wftrio.stores import _postgres_sql as sql
from wftrio.stores._base import RequestKind

__all__ = ["known_names", "post_request"]


def known_names(
    conn: Any, workflow: str, version: int, fingerprint: str
) -> tuple[list[str], list[str]] | None:
    """The signal names and region ids workers recorded for a workflow version, or ``None``."""
    row = conn.execute(
        "SELECT signals, regions FROM workflows WHERE workflow = %s AND version = %s "
        "AND fingerprint = %s",
        (workflow, version, fingerprint),
    ).fetchone()
    return None if row is None else (json.loads(row[0]), json.loads(row[1]))


def post_request(
    conn: Any,
    case_id: str,
    kind: RequestKind,
    name: str | None,
    payload: Any,
    transient: bool,
    *,
    owner: tuple[str, int] | None = None,
    checked: bool = False,
) -> int:
    """Commit a request for a case; return its id.

    ``owner``: ``(worker id, epoch)`` when the committing worker owns the
    case at that epoch (it delivers the request itself); otherwise the
    request is marked remote and the owner is notified.  ``checked``: the
    caller checked the signal name / region already.

    Raises:
        UnknownCase: the database holds no such case.
        CaseClosed: the case has finished.
        UnknownSignal: its workflow never waits for signal ``name`` (when known).
        UnknownRegion: its workflow has no region ``name`` (when known).
        UnstorableValue: ``payload`` is not JSON.
    """
    try:
        body = json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise UnstorableValue(f"the payload must be JSON: {exc}") from None
    with conn.transaction():
        row = conn.execute(
            "SELECT workflow, version, fingerprint, state, owner, epoch FROM cases "
            "WHERE case_id = %s FOR NO KEY UPDATE",
            (case_id,),
        ).fetchone()
        if row is None:
            raise UnknownCase(f"the database holds no case {case_id!r}")
        workflow, version, fp, state, who, epoch = row
        if state is not None:
            raise CaseClosed(f"case {case_id!r} has finished ({state}); it takes no requests")
        if not checked and kind != "cancel":
            known = known_names(conn, workflow, version, fp)
            if known is not None and kind == "signal" and not transient and name not in known[0]:
                raise UnknownSignal(
                    f"case {case_id!r} never waits for signal {name!r}; its workflow "
                    f"{workflow}@{version} waits for {', '.join(known[0]) or 'no signals'}"
                )
            if known is not None and kind == "cancel_region" and name not in known[1]:
                raise UnknownRegion(
                    f"case {case_id!r} has no region {name!r}; its workflow "
                    f"{workflow}@{version} has {', '.join(known[1]) or 'no regions'}"
                )
        (req,) = conn.execute(
            "UPDATE cases SET next_req = next_req + 1 WHERE case_id = %s RETURNING next_req - 1",
            (case_id,),
        ).fetchone()
        mine = owner is not None and (who, epoch) == owner
        conn.execute(
            "INSERT INTO requests (case_id, req, kind, name, payload, transient, remote) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (case_id, req, kind, name, body, transient, not mine),
        )
        if not mine:
            conn.execute("SELECT pg_notify(%s, %s)", (sql.NOTIFY_REQUESTS, case_id))
    return int(req)
