"""``wf.PostgresStore``: many substrate processes (workers) over one PostgreSQL database.

Each worker registers a row in ``workers`` whose lease it renews every
``heartbeat`` seconds; the lease's expiry is computed on the database's
clock (``now()``), so workers' clocks never have to agree.  A case row
names its owner and an ownership epoch.  A worker claims runnable cases
(unowned, or owned by a worker whose lease expired) with ``SELECT ... FOR
UPDATE SKIP LOCKED``, bumping their epoch, and resumes them through the
same path a restarted SQLite substrate takes (:class:`StoredCase`).

Fencing: every commit for a case (a burst, its end) first locks the
case's row *if* it is still owned by this worker at the epoch it claimed
(:data:`~wftrio.stores._postgres_sql.FENCE`); otherwise the commit is
rolled back and the case is dropped here (the substrate cancels its local
copy, writing nothing), since another worker now owns it.

Requests (signals, cancellations) for a case are committed under its
row's lock, with ids from the row's ``next_req`` counter.  One committed
by the owner for its own case is delivered at once; one committed by any
other process (another worker, :class:`wftrio.Client`) is marked
``remote``, and ``NOTIFY wftrio_requests`` wakes the owner, which reads
the remote requests of its cases not yet consumed (also every
``poll`` seconds, in case a notification was missed) and delivers each
once.  Consumption is committed with the burst that consumed it, so a
request is consumed exactly once whoever owns the case then.

The driver is psycopg 3 with a psycopg-pool ``ConnectionPool``; its
blocking calls run in worker threads through ``trio.to_thread.run_sync``
(docs/SCALING.md says why).  All commits of bursts go through one writer
task (queue order is commit order, as in ``SQLiteStore``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from wftrio.errors import (
    CaseFenced,
    OptionError,
    SerializationError,
    StoreCorrupt,
    StoreError,
)
from wftrio.serialize import loads_trace
from wftrio.stores import _postgres_sql as sql
from wftrio.stores._base import RequestKind, StoredCase, StoredRequest
from wftrio.stores._pgbatch import Key, Op, Pending, commit
from wftrio.stores._pgclient import post_request

__all__ = ["PostgresStore"]

logger = logging.getLogger("wftrio.stores")


def _positive(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x > 0


def _count(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1


class PostgresStore:
    """Cases kept in a PostgreSQL database shared by many workers (docs/SCALING.md).

    Pass it to ``wf.open_substrate(store=...)``; each process doing so is
    a worker.  A store object serves one substrate.

    Args:
        dsn: the database (``postgresql://user@host:port/db``).
        lease: seconds a worker's lease lasts without a heartbeat; its
            cases are claimed by others once it expired (default 5).
        heartbeat: seconds between two renewals (default ``lease / 3``).
        claim_batch: at most this many cases claimed per transaction (default 64).
        max_cases: at most this many live cases on this worker (default 10,000).
        pool_size: connections in the pool (default 4).
        snapshot_every: as for ``SQLiteStore`` (default 100; ``None``: never).
        poll: seconds between two looks for work and requests when no
            notification came (default 0.5).
        clock: the wall clock timer deadlines and creation times are stored
            on (default: the database's clock, as this worker estimates it:
            ``time.time()`` plus the offset from the database's
            ``clock_timestamp()`` measured at every heartbeat; so a timer
            set on one worker fires on time on another whose clock is off).

    Raises:
        OptionError: an argument out of range.
    """

    def __init__(
        self,
        dsn: str,
        *,
        lease: float = 5.0,
        heartbeat: float | None = None,
        claim_batch: int = 64,
        max_cases: int = 10_000,
        pool_size: int = 4,
        snapshot_every: int | None = 100,
        poll: float = 0.5,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(dsn, str) or not dsn:
            raise OptionError(f"PostgresStore(): dsn={dsn!r}, expected a postgresql:// DSN")
        if not _positive(lease):
            raise OptionError(f"PostgresStore(): lease={lease!r}, expected seconds > 0")
        if heartbeat is None:
            heartbeat = lease / 3
        if not _positive(heartbeat) or heartbeat >= lease:
            raise OptionError(
                f"PostgresStore(): heartbeat={heartbeat!r}, expected seconds > 0 and < lease"
            )
        for name, val in (
            ("claim_batch", claim_batch),
            ("max_cases", max_cases),
            ("pool_size", pool_size),
        ):
            if not _count(val):
                raise OptionError(f"PostgresStore(): {name}={val!r}, expected an int >= 1")
        if snapshot_every is not None and not _count(snapshot_every):
            raise OptionError(
                f"PostgresStore(): snapshot_every={snapshot_every!r}, expected None or an int >= 1"
            )
        if not _positive(poll):
            raise OptionError(f"PostgresStore(): poll={poll!r}, expected seconds > 0")
        if clock is not None and not callable(clock):
            raise OptionError(f"PostgresStore(): clock={clock!r}, expected a callable")
        self.dsn = dsn
        self.lease = float(lease)
        self.heartbeat = float(heartbeat)
        self.claim_batch = claim_batch
        self.max_cases = max_cases
        self.pool_size = pool_size
        self.snapshot_every = snapshot_every
        self.poll = float(poll)
        self._skew = 0.0  # the database's clock minus this host's (seconds)
        self.clock: Callable[[], float] = clock if clock is not None else self._db_clock
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool: Any = None
        self._queue: list[Pending] = []
        self._wake = trio.Event()
        self._closing = False
        self._stopped = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._scopes: list[trio.CancelScope] = []  # background loops, cancelled at close
        self._ended: list[trio.Event] = []  # set as each loop ends
        self._owned: dict[str, int] = {}  # case -> epoch this worker owns it at
        self._held: set[str] = set()  # cases live here (owned or being dropped)
        self._seen: dict[str, set[int]] = {}  # remote requests delivered, by case
        self._claim_wake = trio.Event()
        self._release: list[tuple[str, int]] = []
        self._broken: set[tuple[str, int]] = (
            set()
        )  # (case, epoch) whose commits stopped  # cases to hand back (a commit failed)
        self._lost: Callable[[str], None] = lambda case_id: None
        self._last_beat = 0.0
        self.commits = 0
        self.fenced = 0  # commits refused by fencing (statistics)
        self.group_commits = 0  # transactions committing a batch of several ops
        self.claimed = 0  # cases claimed (statistics)

    @property
    def durable(self) -> bool:
        """Always True."""
        return True

    # -- opening, closing, the lease ------------------------------------------

    def _open_sync(self) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        try:
            self._schema_sync()
            pool = ConnectionPool(
                self.dsn,
                min_size=1,
                max_size=self.pool_size,
                open=True,
                kwargs={"autocommit": True},
                name=f"wftrio {self.worker_id}",
            )
        except psycopg.Error as exc:
            raise StoreError(f"{self!r}: cannot open the database: {exc}") from exc
        self._pool = pool
        self._beat_sync()

    def _schema_sync(self) -> None:
        """Create or upgrade the tables, unless they are current.

        A current database is left alone: its DDL (``CREATE INDEX IF NOT
        EXISTS`` locks the table) would wait on, and could deadlock with,
        the other workers' commits.  An upgrade that loses a deadlock to
        them is tried again.
        """
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for attempt in range(5):
                ok = conn.execute("SELECT to_regclass('wftrio_schema') IS NOT NULL").fetchone()
                if ok and ok[0]:
                    row = conn.execute("SELECT max(version) FROM wftrio_schema").fetchone()
                    if row and row[0] is not None and row[0] >= sql.SCHEMA_VERSION:
                        return
                try:
                    with conn.transaction():
                        conn.execute(sql.SCHEMA)
                    return
                except psycopg.errors.DeadlockDetected:
                    if attempt == 4:
                        raise
                    time.sleep(0.05 * (attempt + 1))

    def _db_clock(self) -> float:
        """The database's wall clock as estimated here (seconds since the epoch)."""
        return time.time() + self._skew

    def _beat_sync(self) -> None:
        with self._pool.connection() as conn:
            sent = time.time()
            row = conn.execute(
                sql.HEARTBEAT,
                {
                    "id": self.worker_id,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "lease": self.lease,
                },
            ).fetchone()
            back = time.time()
        if row is not None:
            self._skew = float(row[0]) - (sent + back) / 2
        self._last_beat = time.monotonic()

    async def open(self, nursery: trio.Nursery) -> Sequence[StoredCase | Exception]:
        """Create the tables if needed and register this worker (its lease).

        Cases are claimed once the substrate calls :meth:`serve` (none are
        returned here).

        Raises:
            StoreError: the database cannot be reached.
        """
        if self._pool is not None or self._closing:
            raise StoreError(f"{self!r} serves one substrate, once")
        await trio.to_thread.run_sync(self._open_sync)
        self._nursery = nursery
        nursery.start_soon(self._writer, name=f"writer {self!r}")
        nursery.start_soon(self._in_scope, self._beat_loop)
        return ()

    async def _in_scope(self, fn: Callable[[], Awaitable[None]]) -> None:
        scope = trio.CancelScope()
        ended = trio.Event()
        self._scopes.append(scope)
        self._ended.append(ended)
        if self._closing:
            scope.cancel()
        try:
            with scope:
                await fn()
        finally:
            ended.set()

    async def _beat_loop(self) -> None:
        while True:
            await trio.sleep(self.heartbeat)
            try:
                await trio.to_thread.run_sync(self._beat_sync)
            except Exception as exc:
                logger.warning("%r: heartbeat failed: %r", self, exc)
            if time.monotonic() - self._last_beat > self.lease and self._owned:
                # our lease may have expired: others may own our cases now
                logger.error("%r: lease not renewed for %.1fs: dropping cases", self, self.lease)
                for case_id, ep in list(self._owned.items()):
                    # handed back once the database answers again, unless claimed meanwhile
                    self._release.append((case_id, ep))
                    self._drop(case_id, ep)

    async def aclose(self) -> None:
        """Commit everything queued, release this worker's cases, end its lease."""
        self._closing = True
        for scope in self._scopes:
            scope.cancel()
        self._wake.set()
        if self._nursery is not None:
            with trio.CancelScope(shield=True):
                await self._stopped.wait()
                for ended in self._ended:
                    await ended.wait()
        pool, self._pool = self._pool, None
        if pool is None:
            return

        def release() -> None:
            try:
                with pool.connection() as conn, conn.transaction():
                    conn.execute(
                        "UPDATE cases SET owner = NULL WHERE owner = %s AND state IS NULL",
                        (self.worker_id,),
                    )
                    conn.execute("DELETE FROM workers WHERE id = %s", (self.worker_id,))
                    conn.execute("SELECT pg_notify(%s, '')", (sql.NOTIFY_CASES,))
            finally:
                pool.close()

        with trio.CancelScope(shield=True):
            try:
                await trio.to_thread.run_sync(release)
            except Exception as exc:  # the leases expire anyway
                logger.warning("%r: could not release its cases: %r", self, exc)

    # -- writing ----------------------------------------------------------------

    def _queue_op(self, op: Op, key: tuple[str, int] | None, waited: bool = False) -> Pending:
        if self._pool is None or self._closing:
            raise StoreError(f"{self!r} is not open")
        p = Pending(op, key, waited)
        self._queue.append(p)
        self._wake.set()
        return p

    def _run(self, batch: list[Pending]) -> tuple[int, list[Key], list[Key]]:
        """Commit a batch of ops in a worker thread (:func:`~wftrio.stores._pgbatch.commit`)."""
        with self._pool.connection() as conn:
            n, fenced, failed, together = commit(conn, batch, self._broken, repr(self))
        self.group_commits += together
        return n, fenced, failed

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
                with trio.CancelScope(shield=True):
                    n, fenced, failed = await trio.to_thread.run_sync(self._run, batch)
                self.commits += n
                for case_id, ep in fenced:
                    self.fenced += 1
                    self._drop(case_id, ep)
                for case_id, ep in failed:
                    # stop it here, and hand it (from its last commit) to whoever claims it
                    self._release.append((case_id, ep))
                    self._drop(case_id, ep)
                for p in batch:
                    if p.done is not None:
                        p.done.set()
        finally:
            self._stopped.set()

    def _drop(self, case_id: str, epoch: int | None = None) -> None:
        """Commit nothing more for the case (at ``epoch``, default: any); stop it here."""
        if case_id in self._owned and epoch in (None, self._owned[case_id]):
            del self._owned[case_id]
            logger.warning("%r: case %r is owned elsewhere now: dropped here", self, case_id)
            self._seen.pop(case_id, None)
            self._lost(case_id)

    def _fence(self, case_id: str) -> tuple[str, int] | None:
        ep = self._owned.get(case_id)
        return None if ep is None else (case_id, ep)

    def _check(self, conn: Any, key: tuple[str, int]) -> None:
        if conn.execute(sql.FENCE, (key[0], self.worker_id, key[1])).fetchone() is None:
            raise CaseFenced(key[0])

    async def create_case(self, case: StoredCase) -> None:
        """Store a new case, owned by this worker (epoch 1); return once committed."""
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
            self.worker_id,
            1,
        )

        def op(conn: Any) -> None:
            conn.execute(sql.CREATE_CASE, row)
            conn.execute(
                "INSERT INTO ownership (case_id, epoch, owner) VALUES (%s, 1, %s)",
                (case.case_id, self.worker_id),
            )

        p = self._queue_op(op, None, waited=True)
        assert p.done is not None
        await p.done.wait()
        if p.error is not None:
            raise StoreError(f"{self!r}: could not store case {case.case_id!r}: {p.error}")
        self._owned[case.case_id] = 1
        self._held.add(case.case_id)
        self._seen[case.case_id] = set()

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
        """Queue one burst (fenced: refused if the case is owned elsewhere now)."""
        key = self._fence(case_id)
        if key is None:
            return
        ep = key[1]
        rows = [(case_id, seq, body, ep) for seq, body in events]
        done = list(consumed)

        def op(conn: Any) -> None:
            self._check(conn, key)
            cur = conn.cursor()
            if rows:
                cur.executemany("INSERT INTO events VALUES (%s, %s, %s, %s)", rows)
            if done:
                cur.execute(
                    "UPDATE requests SET consumed = TRUE WHERE case_id = %s AND req = ANY(%s)",
                    (case_id, done),
                )
            if timers:
                cur.executemany(
                    "INSERT INTO timers VALUES (%s, %s, %s) ON CONFLICT (case_id, tid) "
                    "DO UPDATE SET deadline = EXCLUDED.deadline",
                    [(case_id, tid, d) for tid, d in timers],
                )
            if snapshot is not None:
                seq, runner, body, armed = snapshot
                cur.execute(
                    "INSERT INTO snapshots VALUES (%s, %s, %s, %s) ON CONFLICT (case_id) "
                    "DO UPDATE SET seq = EXCLUDED.seq, runner = EXCLUDED.runner, "
                    "body = EXCLUDED.body",
                    (case_id, seq, runner, body),
                )
                cur.execute(
                    "DELETE FROM timers WHERE case_id = %s AND NOT (tid = ANY(%s))",
                    (case_id, list(armed)),
                )
            if ctx is not None:
                cur.execute(sql.CTX, (case_id, *ctx))

        self._queue_op(op, key)

    def finish(self, case_id: str, state: str, ctx: tuple[int, str] | None = None) -> None:
        """Queue the case's final state and ctx (fenced)."""
        self._held.discard(case_id)
        self._seen.pop(case_id, None)
        key = self._fence(case_id)
        if key is None:
            return
        del self._owned[case_id]

        def op(conn: Any) -> None:
            self._check(conn, key)
            conn.execute(
                "UPDATE cases SET state = %s, finished = extract(epoch FROM clock_timestamp()) "
                "WHERE case_id = %s",
                (state, case_id),
            )
            conn.execute("DELETE FROM timers WHERE case_id = %s", (case_id,))
            conn.execute("DELETE FROM snapshots WHERE case_id = %s", (case_id,))
            if ctx is not None:
                conn.execute(sql.CTX, (case_id, *ctx))

        self._queue_op(op, key)

    async def request(
        self, case_id: str, kind: RequestKind, name: str | None, payload: Any, transient: bool
    ) -> int:
        """Commit a request for a case this worker runs; return its id once committed.

        If another worker owns the case now, the request is committed for
        that owner (and notified to it).
        """
        ep = self._owned.get(case_id)
        mine = None if ep is None else (self.worker_id, ep)

        def run() -> int:
            with self._pool.connection() as conn:
                return post_request(
                    conn, case_id, kind, name, payload, transient, owner=mine, checked=True
                )

        if self._pool is None or self._closing:
            raise StoreError(f"{self!r} is not open")
        return await trio.to_thread.run_sync(run)

    async def post(
        self, case_id: str, kind: RequestKind, name: str | None, payload: Any, transient: bool
    ) -> int:
        """Commit a request for a case another worker runs (checked like ``wf.Client``'s)."""

        def run() -> int:
            with self._pool.connection() as conn:
                return post_request(conn, case_id, kind, name, payload, transient)

        if self._pool is None or self._closing:
            raise StoreError(f"{self!r} is not open")
        return await trio.to_thread.run_sync(run)

    async def note_workflows(self, rows: Sequence[tuple[str, int, str, Any, Any]]) -> None:
        """Record workflow versions' signal names and region ids (for posters' checks).

        Returns once they are committed.
        """
        vals = [(n, v, f, json.dumps(sorted(s)), json.dumps(sorted(r))) for n, v, f, s, r in rows]

        def op(conn: Any) -> None:
            conn.cursor().executemany(
                "INSERT INTO workflows VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", vals
            )

        p = self._queue_op(op, None, waited=True)
        assert p.done is not None
        await p.done.wait()
        if p.error is not None:
            raise StoreError(f"{self!r}: could not record the workflows: {p.error}")

    # -- claiming cases, taking requests ----------------------------------------

    def serve(
        self,
        resume: Callable[[Sequence[StoredCase | Exception]], Awaitable[None]],
        deliver: Callable[[str, StoredRequest], bool],
        lost: Callable[[str], None],
        live: Callable[[], int],
    ) -> None:
        """Start claiming runnable cases and taking remote requests; not for users.

        ``resume`` starts claimed cases; ``deliver`` hands a remote request
        to a local case (False if the case is not running here);
        ``lost`` stops a case owned elsewhere now; ``live`` counts live cases.
        """
        if self._nursery is None or self._pool is None:
            raise StoreError(f"{self!r} is not open")
        self._lost = lost
        self._nursery.start_soon(self._in_scope, lambda: self._claim_loop(resume, live))
        self._nursery.start_soon(self._in_scope, lambda: self._listen_loop(deliver))

    def _release_sync(self, cases: list[tuple[str, int]]) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.cursor().executemany(
                "UPDATE cases SET owner = NULL WHERE case_id = %s AND owner = %s AND epoch = %s",
                [(c, self.worker_id, ep) for c, ep in cases],
            )
            conn.execute("SELECT pg_notify(%s, '')", (sql.NOTIFY_CASES,))

    def _claim_sync(self, n: int) -> list[tuple[StoredCase | Exception, int]]:
        out: list[tuple[StoredCase | Exception, int]] = []
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                sql.CLAIM, {"n": n, "id": self.worker_id, "held": list(self._held)}
            ).fetchall()
            if not rows:
                return out
            conn.cursor().executemany(
                "INSERT INTO ownership (case_id, epoch, owner) VALUES (%s, %s, %s)",
                [(r[0], r[1], self.worker_id) for r in rows],
            )
            for r in rows:
                try:
                    out.append((_load_case(conn, r[0], *r[2:]), r[1]))
                except StoreCorrupt as exc:
                    out.append((exc, r[1]))
                    # an unreadable case is left failed, not claimed again and again
                    conn.execute("UPDATE cases SET state = 'corrupt' WHERE case_id = %s", (r[0],))
        return out

    async def _claim_loop(
        self,
        resume: Callable[[Sequence[StoredCase | Exception]], Awaitable[None]],
        live: Callable[[], int],
    ) -> None:
        while True:
            if self._release:
                give, self._release = self._release, []
                try:
                    await trio.to_thread.run_sync(self._release_sync, give)
                except Exception as exc:
                    logger.warning("%r: could not release cases: %r", self, exc)
                    self._release.extend(give)  # retried at the next look
            room = min(self.claim_batch, self.max_cases - live())
            claimed: list[tuple[StoredCase | Exception, int]] = []
            if room > 0:
                try:
                    claimed = await trio.to_thread.run_sync(self._claim_sync, room)
                except Exception as exc:
                    logger.warning("%r: claiming failed: %r", self, exc)
            got: list[StoredCase | Exception] = []
            for item, epoch in claimed:
                got.append(item)
                if isinstance(item, StoredCase):
                    self._owned[item.case_id] = epoch
                    self._held.add(item.case_id)
                    self._seen[item.case_id] = {r.req for r in item.pending}
            if got:
                self.claimed += len(got)
                await resume(got)
                if len(got) == room:
                    continue  # more may be waiting
            with trio.move_on_after(self.poll):
                await self._claim_wake.wait()
            self._claim_wake = trio.Event()

    def _remote_sync(self) -> list[tuple[str, StoredRequest]]:
        with self._pool.connection() as conn:
            rows = conn.execute(sql.REMOTE_PENDING, (self.worker_id,)).fetchall()
        return [(c, StoredRequest(q, k, n, json.loads(p), t)) for c, q, k, n, p, t in rows]

    async def _listen_loop(self, deliver: Callable[[str, StoredRequest], bool]) -> None:
        import psycopg

        def connect() -> Any:
            conn = psycopg.connect(self.dsn, autocommit=True)
            conn.execute(f"LISTEN {sql.NOTIFY_CASES}")
            conn.execute(f"LISTEN {sql.NOTIFY_REQUESTS}")
            return conn

        def wait(conn: Any) -> set[str]:
            got = {n.channel for n in conn.notifies(timeout=self.poll, stop_after=1)}
            # drain what else arrived meanwhile
            got |= {n.channel for n in conn.notifies(timeout=0.001)}
            return got

        conn = await trio.to_thread.run_sync(connect)
        try:
            while True:
                got = await trio.to_thread.run_sync(wait, conn, abandon_on_cancel=True)
                if sql.NOTIFY_CASES in got:
                    self._claim_wake.set()
                if sql.NOTIFY_REQUESTS in got or not got:
                    try:
                        pending = await trio.to_thread.run_sync(self._remote_sync)
                    except Exception as exc:
                        logger.warning("%r: reading requests failed: %r", self, exc)
                        continue
                    for case_id, req in pending:
                        seen = self._seen.get(case_id)
                        if seen is None or req.req in seen:
                            continue  # not running here (yet), or delivered already
                        if deliver(case_id, req):
                            seen.add(req.req)
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def epoch_of(self, case_id: str) -> int | None:
        """The lease epoch at which this worker owns ``case_id`` (``None``: not here).

        The epoch grows with every claim of the case, so an effect can hand
        it to an outside system as a fencing token (refuse writes tagged
        with an epoch lower than the highest seen): a paused worker that
        lost the case still runs its effect, but with an older epoch.
        """
        return self._owned.get(case_id)

    def __repr__(self) -> str:
        return f"PostgresStore(worker {self.worker_id})"


def _load_case(
    conn: Any,
    case_id: str,
    workflow: str,
    version: int,
    fingerprint: str,
    root: str,
    level: str,
    ctx_text: str,
    options: str,
    created: float,
) -> StoredCase:
    """A claimed case's rows, as a :class:`StoredCase` to resume (in the claim's transaction).

    Raises:
        StoreCorrupt: they are not rows wftrio wrote.
    """
    where = f"stored case {case_id!r}"
    snap = conn.execute(
        "SELECT seq, runner, body FROM snapshots WHERE case_id = %s", (case_id,)
    ).fetchone()
    snap_seq, runner, body = snap if snap is not None else (0, "running", None)
    bodies = [
        b
        for (b,) in conn.execute(
            "SELECT body FROM events WHERE case_id = %s AND seq >= %s ORDER BY seq",
            (case_id, snap_seq),
        )
    ]
    reqs = conn.execute(
        "SELECT req, kind, name, payload, transient FROM requests "
        "WHERE case_id = %s AND NOT consumed ORDER BY req",
        (case_id,),
    ).fetchall()
    timers = dict(
        conn.execute("SELECT tid, deadline FROM timers WHERE case_id = %s", (case_id,)).fetchall()
    )
    try:
        ctx = json.loads(ctx_text)
        events = tuple(loads_trace("\n".join(bodies))) if bodies else ()
        pending = tuple(StoredRequest(q, k, n, json.loads(p), t) for q, k, n, p, t in reqs)
    except (SerializationError, ValueError, TypeError) as exc:
        raise StoreCorrupt(f"{where}: unreadable rows: {exc}", case_id) from exc
    if not isinstance(ctx, dict) or any(
        ev.seq != i or ev.case_id != case_id for i, ev in enumerate(events, snap_seq)
    ):
        raise StoreCorrupt(f"{where}: its ctx or event rows are not ones wftrio wrote", case_id)
    if level not in ("min", "full") or any(
        r.kind not in ("signal", "cancel", "cancel_region") for r in pending
    ):
        raise StoreCorrupt(f"{where}: rows not ones wftrio wrote", case_id)
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
        options=options,
        created=float(created),
        timers={int(k): float(v) for k, v in timers.items()},
        snapshot=body,
        snapshot_seq=snap_seq,
        snapshot_runner=runner,
    )
