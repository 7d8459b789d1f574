"""``wf.SQLiteStore``: cases committed to an embedded SQLite file.

All disk work happens in one writer task, through ``trio.to_thread.run_sync``
(one worker thread at a time uses the connection), so the event loop never
waits on the disk.  The runner queues each committed burst with
:meth:`SQLiteStore.append` (no await: the runner's loop is unchanged) and
the writer commits it in one transaction; requests (signals,
cancellations) and new cases are queued the same way, and their callers
wait until the writer has committed them.  Queue order is commit order.

Ownership: an exclusive ``flock`` on ``<path>.lock``, taken at open and
released at close (the kernel releases it if the process dies), so a
second substrate on the same file, in this process or another, fails
with :class:`~wftrio.errors.StoreLocked`.

Requests from other processes (``wftrio signal`` / ``cancel``): they post
rows to the ``inbox`` table (:mod:`wftrio.stores._outside`); once the
substrate has resumed its cases it calls :meth:`SQLiteStore.serve_inbox`,
which looks at the table every :data:`INBOX_POLL` seconds, on a connection
of its own, and hands new rows to the substrate.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
import trio

from wftrio.errors import (
    OptionError,
    SerializationError,
    StoreCorrupt,
    StoreError,
    StoreLocked,
)
from wftrio.serialize import loads_trace
from wftrio.stores._base import RequestKind, StoredCase, StoredRequest
from wftrio.stores._outside import (
    FROM_INBOX,
    INBOX_SCHEMA,
    InboxRow,
    note_workflows,
    pending_rows,
    refuse_row,
    take_row,
)

__all__ = ["SQLiteStore"]

logger = logging.getLogger("wftrio.stores")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    root TEXT NOT NULL,
    trace_level TEXT NOT NULL,
    ctx TEXT NOT NULL,
    state TEXT,
    options TEXT NOT NULL,
    created REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS events (
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE TABLE IF NOT EXISTS requests (
    case_id TEXT NOT NULL,
    req INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    payload TEXT NOT NULL,
    transient INTEGER NOT NULL,
    consumed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (case_id, req)
);
"""

# the durable core: wall-clock timer deadlines and snapshots (see _write_core)
_SCHEMA_CORE = """
CREATE TABLE IF NOT EXISTS timers (
    case_id TEXT NOT NULL,
    tid INTEGER NOT NULL,
    deadline REAL NOT NULL,
    PRIMARY KEY (case_id, tid)
);
CREATE TABLE IF NOT EXISTS snapshots (
    case_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    runner TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS latest_ctx (
    case_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    ctx TEXT NOT NULL
);
"""
"""``latest_ctx``: each case's ctx as of its last committed burst that changed
it (its final ctx once finished), ``seq`` the events committed by then; for
readers outside the owning process (a file written before it existed gets
the table at its next open, and its rows as its cases move on)."""

# columns a file written before per-case options were stored lacks
_CORE_COLUMNS = ("options", "created")

_Op = Callable[[sqlite3.Connection], None]

INBOX_POLL = 0.2
"""Seconds between two looks at the cross-process inbox (``PRAGMA data_version``)."""

_LOCK_TRIES = 10
"""Attempts at the ownership flock, 10 ms apart: a command line probing
whether the store is owned holds a shared lock for microseconds."""


class _Pending:
    """One queued operation, and whoever waits for its commit."""

    __slots__ = ("done", "error", "op")

    def __init__(self, op: _Op, waited: bool) -> None:
        self.op = op
        self.done: trio.Event | None = trio.Event() if waited else None
        self.error: BaseException | None = None


class SQLiteStore:
    """Cases kept in the SQLite file ``path`` (WAL journal, one transaction per burst).

    Pass it to ``wf.open_substrate(store=...)``, or use the shortcut
    ``wf.open_substrate(path=...)``.  A store object serves one substrate.

    Args:
        path: the database file (created if missing).
        clock: the store's wall clock, in seconds (default ``time.time``):
            timer deadlines and case creation times are stored on it, so a
            timer that expired while no process ran fires at resume.
            Injectable for tests.
        snapshot_every: store a snapshot of a case's state after every
            this many of its committed bursts, so that resume restores it and
            replays only the events committed after it (default 100;
            ``None``: never, resume replays from the start).

    Raises:
        OptionError: ``clock`` is not callable, or ``snapshot_every`` is not
            None or an int >= 1.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        snapshot_every: int | None = 100,
    ) -> None:
        if not callable(clock):
            raise OptionError(
                f"SQLiteStore(): clock={clock!r}, expected a callable returning seconds"
            )
        if snapshot_every is not None and (
            isinstance(snapshot_every, bool)
            or not isinstance(snapshot_every, int)
            or snapshot_every < 1
        ):
            raise OptionError(
                f"SQLiteStore(): snapshot_every={snapshot_every!r}, expected None or an int >= 1"
            )
        self.clock = clock
        self.snapshot_every = snapshot_every
        self.path = os.fspath(path)
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._queue: list[_Pending] = []
        self._wake = trio.Event()
        self._closing = False
        self._stopped = trio.Event()
        self._next_req: dict[str, int] = {}
        self.commits = 0  # transactions committed (statistics)
        # the cross-process inbox (docs/DURABILITY.md, "The command line")
        self._nursery: trio.Nursery | None = None
        self._poll_scope: trio.CancelScope | None = None

    @property
    def durable(self) -> bool:
        """Always True."""
        return True

    # -- ownership -----------------------------------------------------------

    def _open_sync(self, now: float) -> list[StoredCase | Exception]:
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        if not _take_flock(fd):
            os.close(fd)
            raise StoreLocked(
                f"the store {self.path!r} is owned by another substrate (in this process "
                "or another); one process owns a store at a time: close the other first"
            ) from None
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            _check_schema(conn, self.path)
            conn.executescript(_SCHEMA)
            _add_finished(conn, now)
            conn.executescript(_SCHEMA_CORE)
            conn.executescript(INBOX_SCHEMA)
            found = self._load(conn)
        except BaseException:
            os.close(fd)
            raise
        self._conn = conn
        self._lock_fd = fd
        return found

    async def open(self, nursery: trio.Nursery) -> Sequence[StoredCase | Exception]:
        """Take the store's lock, create its tables, read its unfinished cases.

        Starts the writer task in ``nursery``.

        Raises:
            StoreLocked: another substrate owns the file.
        """
        if self._conn is not None or self._closing:
            raise StoreError(f"{self!r} is already in use; a store object serves one substrate")
        # the clock is read here: it may be trio's (tests), not readable in a thread
        found = await trio.to_thread.run_sync(self._open_sync, self.clock())
        self._nursery = nursery
        nursery.start_soon(self._writer, name=f"wftrio store writer {self.path}")
        return found

    async def aclose(self) -> None:
        """Commit what is queued, stop the writer, close the file, release the lock."""
        if self._conn is None:
            return
        if self._poll_scope is not None:
            self._poll_scope.cancel()
        self._closing = True
        self._wake.set()
        with trio.CancelScope(shield=True):
            await self._stopped.wait()
            conn, fd = self._conn, self._lock_fd
            self._conn = self._lock_fd = None

            def close() -> None:
                conn.close()
                if fd is not None:
                    os.close(fd)

            await trio.to_thread.run_sync(close)

    # -- reading (at open) ---------------------------------------------------

    def _load(self, conn: sqlite3.Connection) -> list[StoredCase | Exception]:
        out: list[StoredCase | Exception] = []
        rows = conn.execute(
            "SELECT case_id, workflow, version, fingerprint, root, trace_level, ctx, "
            "options, created FROM cases WHERE state IS NULL ORDER BY rowid"
        ).fetchall()
        for case_id, workflow, version, fingerprint, root, level, ctx, options, created in rows:
            try:
                case = self._load_case(
                    conn, case_id, workflow, version, fingerprint, root, level, ctx
                )
                out.append(_load_core(conn, case, options, created))
            except StoreCorrupt as exc:
                out.append(exc)
        return out

    def _load_case(
        self,
        conn: sqlite3.Connection,
        case_id: Any,
        workflow: Any,
        version: Any,
        fingerprint: Any,
        root: Any,
        level: Any,
        ctx_text: Any,
    ) -> StoredCase:
        where = f"stored case {case_id!r}"
        if not (
            isinstance(case_id, str)
            and isinstance(workflow, str)
            and type(version) is int
            and isinstance(fingerprint, str)
            and isinstance(root, str)
            and level in ("min", "full")
        ):
            raise StoreCorrupt(f"{where}: its row is not one wftrio wrote", str(case_id))
        snap_seq = _snapshot_seq(conn, case_id)
        bodies = [
            b
            for (b,) in conn.execute(
                "SELECT body FROM events WHERE case_id = ? AND seq >= ? ORDER BY seq",
                (case_id, snap_seq),
            )
        ]
        try:
            ctx = json.loads(ctx_text)
            events = tuple(loads_trace("\n".join(bodies))) if bodies else ()
            reqs = conn.execute(
                "SELECT req, kind, name, payload, transient, consumed FROM requests "
                "WHERE case_id = ? ORDER BY req",
                (case_id,),
            ).fetchall()
            pending = tuple(
                StoredRequest(req, kind, name, json.loads(payload), bool(transient))
                for req, kind, name, payload, transient, consumed in reqs
                if not consumed
            )
        except (SerializationError, ValueError, TypeError) as exc:
            raise StoreCorrupt(f"{where}: unreadable rows: {exc}", case_id) from exc
        if not isinstance(ctx, dict) or any(
            ev.seq != i or ev.case_id != case_id for i, ev in enumerate(events, snap_seq)
        ):
            raise StoreCorrupt(f"{where}: its ctx or event rows are not ones wftrio wrote", case_id)
        if any(r.kind not in ("signal", "cancel", "cancel_region") for r in pending):
            raise StoreCorrupt(f"{where}: a request of unknown kind", case_id)
        self._next_req[case_id] = reqs[-1][0] + 1 if reqs else 0
        return StoredCase(
            case_id,
            workflow,
            version,
            fingerprint,
            root,
            level,
            ctx,
            events,
            pending,
            snapshot_seq=snap_seq,
        )

    # -- writing -------------------------------------------------------------

    def _queue_op(self, op: _Op, waited: bool = False) -> _Pending:
        if self._conn is None or self._closing:
            raise StoreError(f"{self!r} is not open")
        p = _Pending(op, waited)
        self._queue.append(p)
        self._wake.set()
        return p

    async def _committed(self, p: _Pending) -> None:
        assert p.done is not None
        await p.done.wait()
        if p.error is not None:
            raise StoreError(f"{self!r}: could not commit: {p.error!r}") from p.error

    def _run(self, conn: sqlite3.Connection, batch: list[_Pending]) -> int:
        n = 0
        for p in batch:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    p.op(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                n += 1
            except Exception as exc:
                p.error = exc
                if p.done is None:
                    logger.error("%r: a burst could not be committed: %r", self, exc)
        return n

    async def _writer(self) -> None:
        try:
            while True:
                if not self._queue:
                    if self._closing:
                        return
                    await self._wake.wait()
                    self._wake = trio.Event()
                    continue
                batch, self._queue = self._queue, []
                conn = self._conn
                assert conn is not None
                with trio.CancelScope(shield=True):
                    # a burst in flight is committed whatever happens around it
                    self.commits += await trio.to_thread.run_sync(self._run, conn, batch)
                for p in batch:
                    if p.done is not None:
                        p.done.set()
        finally:
            self._stopped.set()

    async def create_case(self, case: StoredCase) -> None:
        """Store a new case; return once it is committed."""
        self._next_req[case.case_id] = 0
        row = (
            case.case_id,
            case.workflow,
            case.version,
            case.fingerprint,
            case.root,
            case.trace_level,
            json.dumps(dict(case.ctx)),
            case.options,
            case.created,
        )

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO cases (case_id, workflow, version, fingerprint, root, "
                "trace_level, ctx, options, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        await self._committed(self._queue_op(op, waited=True))

    def append(
        self,
        case_id: str,
        events: Sequence[tuple[int, str]],
        consumed: Sequence[int],
        *,
        timers: Sequence[tuple[int, float]] = (),
        snapshot: tuple[int, str, str, tuple[int, ...]] | None = None,
        ctx: tuple[int, str] | None = None,
    ) -> None:
        """Queue one burst of a case: events (``(seq, json)`` lines) and consumed requests.

        With the wall-clock deadlines of the timers it armed, the snapshot
        taken after it and its ctx if it changed, in the same transaction.
        """
        rows = [(case_id, seq, body) for seq, body in events]
        done = [(case_id, r) for r in consumed]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)
            conn.executemany("UPDATE requests SET consumed = 1 WHERE case_id = ? AND req = ?", done)
            _write_core(conn, case_id, timers, snapshot, ctx)

        self._queue_op(op)

    def finish(self, case_id: str, state: str, ctx: tuple[int, str] | None = None) -> None:
        """Queue the case's final state, its finish time (for retention), its final ctx."""
        now = self.clock()

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE cases SET state = ?, finished = ? WHERE case_id = ?", (state, now, case_id)
            )
            _drop_core(conn, case_id)
            _write_ctx(conn, case_id, ctx)

        self._queue_op(op)

    async def request(
        self, case_id: str, kind: RequestKind, name: str | None, payload: Any, transient: bool
    ) -> int:
        """Commit a request (``payload`` must be JSON); return its id once committed."""
        req = self._next_req.get(case_id, 0)
        self._next_req[case_id] = req + 1
        row = (case_id, req, kind, name, json.dumps(payload), int(transient))
        inbox_row = FROM_INBOX.get()  # a request from the inbox: the row goes with it

        def op(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, 0)", row)
            if inbox_row is not None:
                take_row(conn, inbox_row)

        await self._committed(self._queue_op(op, waited=True))
        return req

    # -- the cross-process inbox ---------------------------------------------

    def serve_inbox(
        self,
        take: Callable[[Sequence[InboxRow]], Awaitable[None]],
        workflows: Callable[[], Sequence[tuple[str, int, str, Any, Any]]],
    ) -> None:
        """Start taking requests posted from other processes; not for users.

        Every :data:`INBOX_POLL` seconds, if anything was committed since the
        last look, the rows posted to the ``inbox`` table are handed, oldest
        first, to ``take`` (the substrate admits each through ``signal`` /
        ``cancel`` / ``cancel_region``, whose request commit deletes the row,
        or :meth:`refuse` s it).  ``workflows()`` lists the registered
        workflow versions (name, version, fingerprint, signal names, region
        ids), recorded so a poster can check a signal name.
        """
        if self._nursery is None or self._conn is None:
            raise StoreError(f"{self!r} is not open")
        self._poll_scope = trio.CancelScope()  # aclose cancels it, even before it starts
        self._nursery.start_soon(
            self._poll_inbox, self._poll_scope, take, workflows, name=f"inbox {self.path}"
        )

    def refuse(self, row_id: int, reason: str) -> None:
        """Queue marking an inbox row refused (its poster reads ``reason``)."""

        def op(conn: sqlite3.Connection) -> None:
            refuse_row(conn, row_id, reason)

        self._queue_op(op)

    def _note_workflows(self, rows: Sequence[tuple[str, int, str, Any, Any]]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            note_workflows(conn, rows)

        self._queue_op(op)

    async def _poll_inbox(
        self,
        scope: trio.CancelScope,
        take: Callable[[Sequence[InboxRow]], Awaitable[None]],
        workflows: Callable[[], Sequence[tuple[str, int, str, Any, Any]]],
    ) -> None:
        def connect() -> sqlite3.Connection:
            c = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            c.execute("PRAGMA busy_timeout=1000")
            return c

        last_row, version, noted = 0, None, -1

        def look(after: int, seen: int | None) -> tuple[int, list[InboxRow]]:
            now = conn.execute("PRAGMA data_version").fetchone()[0]
            return now, ([] if now == seen else pending_rows(conn, after))

        with scope:
            conn = await trio.to_thread.run_sync(connect)
            try:
                await trio.lowlevel.checkpoint_if_cancelled()  # closed meanwhile
                while True:
                    known = workflows()
                    if len(known) != noted:  # registered since the last look
                        noted = len(known)
                        self._note_workflows(known)
                    try:
                        version, rows = await trio.to_thread.run_sync(look, last_row, version)
                    except sqlite3.Error as exc:  # e.g. busy past the timeout: look again
                        logger.warning("%r: could not read the inbox: %r", self, exc)
                        rows = []
                    if rows:
                        last_row = rows[-1].id
                        await take(rows)
                    await trio.sleep(INBOX_POLL)
            finally:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(conn.close)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"


# -- the durable core: options, wall-clock timers, snapshots ------------------


def _check_schema(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a file whose ``cases`` table predates stored options (nothing is changed).

    Raises:
        StoreError: the file was written by an earlier wftrio.
    """
    cols = {row[1] for row in conn.execute("PRAGMA table_info(cases)")}
    if cols and not set(_CORE_COLUMNS) <= cols:
        raise StoreError(
            f"the store {path!r} was written by an earlier wftrio (its cases table has no "
            f"{', '.join(c for c in _CORE_COLUMNS if c not in cols)} column): finish its "
            "cases with that version, or start a new file; it is not migrated"
        )


def _add_finished(conn: sqlite3.Connection, now: float) -> None:
    """Give a file written before finish times were stored its ``finished`` column.

    Its cases that had finished are stamped ``now``: retention
    (:func:`~wftrio.stores.purge_finished`) counts their age from the upgrade,
    never from an earlier guess.
    """
    cols = {row[1] for row in conn.execute("PRAGMA table_info(cases)")}
    if "finished" not in cols:
        with conn:
            conn.execute("ALTER TABLE cases ADD COLUMN finished REAL")
            conn.execute("UPDATE cases SET finished = ? WHERE state IS NOT NULL", (now,))
    conn.execute(
        "CREATE INDEX IF NOT EXISTS cases_finished ON cases (finished) WHERE state IS NOT NULL"
    )


def _snapshot_seq(conn: sqlite3.Connection, case_id: str) -> int:
    row = conn.execute("SELECT seq FROM snapshots WHERE case_id = ?", (case_id,)).fetchone()
    if row is None:
        return 0
    if type(row[0]) is not int or row[0] < 0:
        raise StoreCorrupt(
            f"stored case {case_id!r}: its snapshot row is not one wftrio wrote", case_id
        )
    return int(row[0])


def _load_core(
    conn: sqlite3.Connection, case: StoredCase, options: Any, created: Any
) -> StoredCase:
    """``case`` with its options, creation time, timer deadlines and snapshot.

    Raises:
        StoreCorrupt: one of them is not what wftrio writes.
    """
    cid = case.case_id
    where = f"stored case {cid!r}"
    if not isinstance(options, str) or type(created) is not float:
        raise StoreCorrupt(f"{where}: its options or creation time are not ones wftrio wrote", cid)
    timers: dict[int, float] = {}
    for tid, deadline in conn.execute("SELECT tid, deadline FROM timers WHERE case_id = ?", (cid,)):
        if type(tid) is not int or not isinstance(deadline, float | int):
            raise StoreCorrupt(f"{where}: a timer row is not one wftrio wrote", cid)
        timers[tid] = float(deadline)
    row = conn.execute("SELECT runner, body FROM snapshots WHERE case_id = ?", (cid,)).fetchone()
    runner, snapshot = row if row is not None else ("running", None)
    if row is not None and not (isinstance(snapshot, str) and isinstance(runner, str)):
        raise StoreCorrupt(f"{where}: its snapshot is not one wftrio wrote", cid)
    return attrs.evolve(
        case,
        options=options,
        created=created,
        timers=timers,
        snapshot=snapshot,
        snapshot_runner=runner,
    )


def _write_core(
    conn: sqlite3.Connection,
    case_id: str,
    timers: Sequence[tuple[int, float]],
    snapshot: tuple[int, str, str, tuple[int, ...]] | None,
    ctx: tuple[int, str] | None,
) -> None:
    """A burst's timer deadlines, snapshot and ctx (inside its transaction)."""
    _write_ctx(conn, case_id, ctx)
    if timers:
        conn.executemany(
            "INSERT OR REPLACE INTO timers VALUES (?, ?, ?)",
            [(case_id, tid, deadline) for tid, deadline in timers],
        )
    if snapshot is not None:
        seq, runner, body, armed = snapshot
        conn.execute(
            "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?)", (case_id, seq, runner, body)
        )
        # timers fired or withdrawn by now are not needed again (ids are never reused)
        live = set(armed)
        dead = [
            (case_id, tid)
            for (tid,) in conn.execute("SELECT tid FROM timers WHERE case_id = ?", (case_id,))
            if tid not in live
        ]
        conn.executemany("DELETE FROM timers WHERE case_id = ? AND tid = ?", dead)


def _write_ctx(conn: sqlite3.Connection, case_id: str, ctx: tuple[int, str] | None) -> None:
    if ctx is not None:
        conn.execute("INSERT OR REPLACE INTO latest_ctx VALUES (?, ?, ?)", (case_id, *ctx))


def _drop_core(conn: sqlite3.Connection, case_id: str) -> None:
    """A finished case needs no timer deadlines and no snapshot."""
    conn.execute("DELETE FROM timers WHERE case_id = ?", (case_id,))
    conn.execute("DELETE FROM snapshots WHERE case_id = ?", (case_id,))


def _take_flock(fd: int) -> bool:
    """Take the exclusive ownership flock on ``fd``; False if another process holds it."""
    for attempt in range(_LOCK_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if attempt + 1 < _LOCK_TRIES:
                time.sleep(0.01)
        else:
            return True
    return False
