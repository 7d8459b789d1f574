"""``wf.Client``: a process with only the DSN of a ``wf.PostgresStore`` database.

It starts cases (a free worker claims them), sends signals and
cancellations (committed, then the owning worker is woken by ``NOTIFY``),
and reads cases' states.  Its methods block (psycopg's synchronous API):
call them from plain code, or from trio through ``trio.to_thread.run_sync``.
"""

from __future__ import annotations

import json
import secrets
import time
from types import TracebackType
from typing import Any

from wftrio.effects import run_root
from wftrio.errors import (
    DuplicateCase,
    OptionError,
    StoreError,
    UnknownCase,
    UnknownWorkflow,
    UnstorableValue,
)
from wftrio.runtime._stored import dump_options
from wftrio.runtime._types import CaseOptions, parse_case_options
from wftrio.stores import _postgres_sql as sql
from wftrio.stores._pgclient import post_request

__all__ = ["Client"]

_NOT_FROM_A_CLIENT = {
    "effect_handler": "the effect handler is the claiming worker's substrate's",
    "validate": "the client holds no Program to check; the registering worker checks it",
    "validate_budget": "the client holds no Program to check; the registering worker checks it",
}


def _client_options(given: dict[str, Any]) -> CaseOptions:
    """The case options ``Client.start`` stores (raises OptionError/SchedulerError)."""
    for name, why in _NOT_FROM_A_CLIENT.items():
        if name in given:
            raise OptionError(f"start(): {name}= cannot be given by a Client: {why}")
    if given.get("trace_level", "full") not in ("min", "full"):
        raise OptionError(
            f"start(): trace_level={given['trace_level']!r}, expected 'min' or 'full' "
            "(a durable case replays from its trace)"
        )
    return parse_case_options(CaseOptions(), given, "start()")


class Client:
    """A thin client of a ``wf.PostgresStore`` database (docs/SCALING.md).

    Args:
        dsn: the database's DSN (``postgresql://...``).

    Raises:
        OptionError: ``dsn`` is not a str.
        StoreError: the database cannot be reached, or holds no wftrio tables.
    """

    def __init__(self, dsn: str) -> None:
        import psycopg

        if not isinstance(dsn, str) or not dsn:
            raise OptionError(f"Client(): dsn={dsn!r}, expected a postgresql:// DSN")
        self.dsn = dsn
        try:
            self._conn = psycopg.connect(dsn, autocommit=True)
            sent = time.time()
            ok = self._conn.execute(
                "SELECT to_regclass('cases') IS NOT NULL, extract(epoch FROM clock_timestamp())"
            ).fetchone()
            back = time.time()
        except psycopg.Error as exc:
            raise StoreError(f"Client(): cannot reach {dsn!r}: {exc}") from exc
        if not ok or not ok[0]:
            self._conn.close()
            raise StoreError(f"Client(): {dsn!r} holds no wftrio tables (no worker opened it)")
        # creation times are on the database's clock, as the workers' timers are
        self._skew = float(ok[1]) - (sent + back) / 2

    def start(
        self,
        workflow: str,
        ctx: dict[str, Any] | None = None,
        *,
        version: int | None = None,
        case_id: str | None = None,
        **options: Any,
    ) -> str:
        """Store a new case of a workflow some worker registered; return its id.

        A free worker claims it (``NOTIFY`` wakes them) and runs it with
        ``options``: the data options of ``new_case`` (``scheduler`` as
        ``"deterministic"`` or ``wf.Seeded(seed)``, ``step_quanta``,
        ``timeout``, ``trace_level`` (``"min"`` or ``"full"``, the default),
        ``budget``, ``allow``, ``keep_events``, ``max_pending_signals``);
        the effect handler is the claiming worker's substrate's.  The
        workflow is checked by the worker that registered it, not here: the
        client holds no Program, so ``validate``/``validate_budget`` are
        refused.

        Raises:
            UnknownWorkflow: no worker recorded that workflow (version).
            DuplicateCase: ``case_id`` is taken.
            UnstorableValue: ``ctx`` is not JSON.
            OptionError: an unknown or invalid option, ``effect_handler``,
                ``validate``, ``validate_budget``, or ``trace_level="none"``.
            SchedulerError: ``scheduler`` is not a known policy.
        """
        opts = _client_options(options)
        trace_level = opts.trace_level
        try:
            ctx_text = json.dumps(dict(ctx or {}))
        except (TypeError, ValueError) as exc:
            raise UnstorableValue(f"start(): the ctx must be JSON: {exc}") from None
        q = "SELECT version, fingerprint FROM workflows WHERE workflow = %s"
        args: tuple[Any, ...] = (workflow,)
        if version is not None:
            q += " AND version = %s"
            args = (workflow, version)
        row = self._conn.execute(q + " ORDER BY version DESC LIMIT 1", args).fetchone()
        if row is None:
            known: dict[str, list[int]] = {}
            for n, v in self._conn.execute(
                "SELECT DISTINCT workflow, version FROM workflows ORDER BY 1, 2"
            ):
                known.setdefault(n, []).append(v)
            raise UnknownWorkflow(workflow, version, known)
        cid = case_id if case_id is not None else f"{workflow}-{secrets.token_hex(6)}"
        text = dump_options(opts, "start()")
        import psycopg

        try:
            with self._conn.transaction():
                self._conn.execute(
                    sql.CREATE_CASE,
                    (
                        cid,
                        workflow,
                        row[0],
                        row[1],
                        run_root(cid, secrets.token_hex(4)),
                        trace_level,
                        ctx_text,
                        text,
                        time.time() + self._skew,
                        None,
                        0,
                    ),
                )
                self._conn.execute("SELECT pg_notify(%s, '')", (sql.NOTIFY_CASES,))
        except psycopg.errors.UniqueViolation:
            raise DuplicateCase(f"start(): case {cid!r} exists already") from None
        return cid

    def signal(
        self, case_id: str, name: str, payload: Any = None, *, transient: bool = False
    ) -> int:
        """Commit a signal for a case; its owner takes it exactly once. Returns its request id.

        Raises:
            UnknownCase, CaseClosed, UnknownSignal, UnstorableValue: see ``post_request``.
            OptionError: ``name`` is not a non-empty str.
        """
        if not isinstance(name, str) or not name:
            raise OptionError(f"signal(): name={name!r}, expected a non-empty str")
        return post_request(self._conn, case_id, "signal", name, payload, transient)

    def cancel(self, case_id: str) -> int:
        """Commit a cancellation of a case. Returns its request id."""
        return post_request(self._conn, case_id, "cancel", None, None, False)

    def cancel_region(self, case_id: str, scope_id: str) -> int:
        """Commit a cancellation of region ``scope_id`` of a case. Returns its request id."""
        if not isinstance(scope_id, str):
            raise OptionError(f"cancel_region(): scope_id={scope_id!r}, expected a str")
        return post_request(self._conn, case_id, "cancel_region", scope_id, None, False)

    def state(self, case_id: str) -> tuple[str | None, str | None]:
        """A case's final state (``None`` while unfinished) and its owning worker.

        Raises:
            UnknownCase: no such case.
        """
        row = self._conn.execute(
            "SELECT state, owner FROM cases WHERE case_id = %s", (case_id,)
        ).fetchone()
        if row is None:
            raise UnknownCase(f"the database holds no case {case_id!r}")
        return row[0], row[1]

    def wait(self, case_id: str, timeout: float = 30.0) -> str:  # noqa: ASYNC109
        """Wait (polling) until a case has finished; return its final state.

        Raises:
            UnknownCase: no such case.
            TimeoutError: not finished within ``timeout`` seconds.
        """
        end = time.monotonic() + timeout
        while True:
            state, _ = self.state(case_id)
            if state is not None:
                return state
            if time.monotonic() > end:
                raise TimeoutError(f"case {case_id!r} not finished after {timeout}s")
            time.sleep(0.05)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.dsn!r})"
