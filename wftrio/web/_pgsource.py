"""The console over a ``wf.PostgresStore`` database (``wftrio serve DSN``): read-mostly.

:class:`PgSource` reads the cases every worker shares (as ``wftrio cases
DSN`` does, :mod:`wftrio.stores._pgoutside`); a signal or cancellation is
committed for the case and its owning worker is notified (``taken``: it is
consumed exactly once by whoever owns the case); a case started here is
stored unowned and a free worker claims it (docs/SCALING.md).  It runs no
cases itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import trio

from wftrio.errors import ApiError, StoreError, WftrioError
from wftrio.registry import Registry
from wftrio.runtime import Client
from wftrio.stores._base import RequestKind
from wftrio.stores._outside import token_waits
from wftrio.stores._pgclient import known_names, post_request
from wftrio.stores._pgoutside import pg_connect, pg_read_case, pg_read_cases, pg_read_ctx
from wftrio.terms import Term
from wftrio.trace import TraceEvent
from wftrio.web._source import (
    CaseDetail,
    CaseRow,
    Posted,
    Source,
    _registered_term,
    _store_row,
    _waiting_signals,
)

__all__ = ["PgSource"]


class PgSource(Source):
    """A PostgresStore database shared by workers; see the module docstring.

    Args:
        dsn: the database's ``postgresql://`` DSN.
        registry: where workflow terms are looked up for the graph.

    Raises:
        StoreError: unreachable, or not a wftrio database.
    """

    kind: Literal["live", "store"] = "store"

    def __init__(self, dsn: str, registry: Registry | None = None) -> None:
        self.dsn = dsn
        pg_connect(dsn).close()  # fail now on a database that is no wftrio store
        self.registry = registry

    def _read(self, fn: Callable[[Any], Any]) -> Any:
        conn = pg_connect(self.dsn)
        try:
            return fn(conn)
        except WftrioError:
            raise
        except Exception as exc:  # psycopg's errors
            raise ApiError(f"the database cannot be read: {exc}", 503) from exc
        finally:
            conn.close()

    def rows(self) -> list[CaseRow]:
        return [_store_row(s) for s in self._read(pg_read_cases)]

    def detail(self, case_id: str) -> CaseDetail:
        def read(conn: Any) -> Any:
            summary, events, _ = pg_read_case(conn, case_id)
            wf, v, fp = conn.execute(
                "SELECT workflow, version, fingerprint FROM cases WHERE case_id = %s",
                (case_id,),
            ).fetchone()
            return summary, events, pg_read_ctx(conn, case_id), known_names(conn, wf, v, fp)

        summary, events, stored, known = self._read(read)
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
            _waiting_signals(events),
            {k: v for k, v in pending.items() if v > 0},
            (),
            None if known is None else tuple(known[0]),
            None if known is None else tuple(known[1]),
            None,
            None,
            error,
            None,
            summary.trace_level,
        )

    def events(self, case_id: str) -> list[TraceEvent]:
        events: list[TraceEvent] = self._read(lambda c: pg_read_case(c, case_id)[1])
        return events

    def term(self, case_id: str) -> Term | None:
        row = self.detail(case_id).row
        return _registered_term(self.registry, row.workflow, row.version)

    async def start(
        self, workflow: str, ctx: Mapping[str, Any], case_id: str | None, version: int | None
    ) -> str:
        def run() -> str:
            with Client(self.dsn) as client:
                return client.start(workflow, dict(ctx), version=version, case_id=case_id)

        try:
            return await trio.to_thread.run_sync(run)
        except StoreError as exc:
            raise ApiError(str(exc), 503) from exc

    async def request(
        self, case_id: str, kind: RequestKind, name: str | None, payload: Any
    ) -> Posted:
        def run() -> int:
            conn = pg_connect(self.dsn)
            try:
                return post_request(conn, case_id, kind, name, payload, False)
            finally:
                conn.close()

        await trio.to_thread.run_sync(run)
        return Posted("taken")
