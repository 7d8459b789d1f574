"""The SQL of ``wf.PostgresStore`` (tables and statements, in one place).

The tables mean what the SQLite store's do (``cases``, ``events``,
``requests``, ``timers``, ``snapshots``, ``workflows``), plus what
scale-out needs: ``workers`` (one row per worker process: its lease,
expiring on the database's clock) and, on ``cases``, the owning worker
and the ownership epoch; ``ownership`` keeps the history of every claim
(who owned which case at which epoch, from when), and each event row
records the epoch that committed it.
"""

from __future__ import annotations

__all__ = [
    "CLAIM",
    "CTX",
    "CREATE_CASE",
    "FENCE",
    "HEARTBEAT",
    "NOTIFY_CASES",
    "NOTIFY_REQUESTS",
    "REMOTE_PENDING",
    "SCHEMA",
]

NOTIFY_CASES = "wftrio_cases"
"""Channel notified when a case needs a worker (a new case, a released one)."""

NOTIFY_REQUESTS = "wftrio_requests"
"""Channel notified (payload: the case id) when a request was committed for a case."""

SCHEMA_VERSION = 2
"""The version of :data:`SCHEMA`, recorded in ``wftrio_schema`` (1: before the table)."""

SCHEMA = """
SELECT pg_advisory_xact_lock(7261530);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    ord BIGSERIAL,
    workflow TEXT NOT NULL,
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    root TEXT NOT NULL,
    trace_level TEXT NOT NULL,
    ctx TEXT NOT NULL,
    state TEXT,
    options TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    owner TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    next_req INTEGER NOT NULL DEFAULT 0,
    finished DOUBLE PRECISION
);
DO $$ BEGIN
    -- a database written before finish times were stored: its finished cases
    -- are stamped now (retention counts their age from the upgrade)
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema =
            current_schema() AND table_name = 'cases' AND column_name = 'finished') THEN
        ALTER TABLE cases ADD COLUMN finished DOUBLE PRECISION;
        UPDATE cases SET finished = extract(epoch FROM clock_timestamp())
            WHERE state IS NOT NULL;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS cases_finished ON cases (finished) WHERE state IS NOT NULL;
CREATE TABLE IF NOT EXISTS wftrio_schema (version INTEGER NOT NULL);
DELETE FROM wftrio_schema;
INSERT INTO wftrio_schema VALUES (2);
CREATE INDEX IF NOT EXISTS cases_runnable ON cases (ord) WHERE state IS NULL;
CREATE INDEX IF NOT EXISTS cases_owner ON cases (owner) WHERE state IS NULL;
CREATE TABLE IF NOT EXISTS events (
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE TABLE IF NOT EXISTS requests (
    case_id TEXT NOT NULL,
    req INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    payload TEXT NOT NULL,
    transient BOOLEAN NOT NULL,
    consumed BOOLEAN NOT NULL DEFAULT FALSE,
    remote BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (case_id, req)
);
CREATE INDEX IF NOT EXISTS requests_open ON requests (case_id) WHERE NOT consumed AND remote;
CREATE TABLE IF NOT EXISTS timers (
    case_id TEXT NOT NULL,
    tid INTEGER NOT NULL,
    deadline DOUBLE PRECISION NOT NULL,
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
CREATE TABLE IF NOT EXISTS workflows (
    workflow TEXT NOT NULL,
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    signals TEXT NOT NULL,
    regions TEXT NOT NULL,
    PRIMARY KEY (workflow, version, fingerprint)
);
CREATE TABLE IF NOT EXISTS ownership (
    case_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    owner TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (case_id, epoch)
);
"""

HEARTBEAT = """
INSERT INTO workers (id, host, pid, expires) VALUES (%(id)s, %(host)s, %(pid)s,
    now() + make_interval(secs => %(lease)s))
ON CONFLICT (id) DO UPDATE SET heartbeat = now(),
    expires = now() + make_interval(secs => %(lease)s)
RETURNING extract(epoch FROM clock_timestamp())
"""

CREATE_CASE = """
INSERT INTO cases (case_id, workflow, version, fingerprint, root, trace_level, ctx,
    options, created, owner, epoch)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""

CLAIM = """
WITH c AS (
    SELECT case_id FROM cases
    WHERE state IS NULL AND NOT (case_id = ANY(%(held)s)) AND (owner IS NULL OR NOT EXISTS (
        SELECT 1 FROM workers w WHERE w.id = cases.owner AND w.expires > now()))
    ORDER BY ord LIMIT %(n)s
    FOR UPDATE SKIP LOCKED
)
UPDATE cases SET owner = %(id)s, epoch = cases.epoch + 1
FROM c WHERE cases.case_id = c.case_id
    AND EXISTS (SELECT 1 FROM workers w WHERE w.id = %(id)s AND w.expires > now())
RETURNING cases.case_id, cases.epoch, cases.workflow, cases.version, cases.fingerprint,
    cases.root, cases.trace_level, cases.ctx, cases.options, cases.created
"""
"""Claim up to ``n`` runnable cases (unowned, or owned by a worker whose
lease expired), bumping their epoch; only while the claimer's own lease holds."""

CTX = """
INSERT INTO latest_ctx VALUES (%s, %s, %s)
ON CONFLICT (case_id) DO UPDATE SET seq = EXCLUDED.seq, ctx = EXCLUDED.ctx
"""
"""Store a case's ctx as of a burst that changed it, or its final ctx (the
``latest_ctx`` table, as in the SQLite store: for readers of the database)."""

FENCE = """
SELECT 1 FROM cases WHERE case_id = %s AND owner = %s AND epoch = %s AND state IS NULL
FOR SHARE
"""
"""The fencing check every commit for a case starts with (its row locked
until the commit, so no claim can move it meanwhile)."""

REMOTE_PENDING = """
SELECT r.case_id, r.req, r.kind, r.name, r.payload, r.transient
FROM requests r JOIN cases c ON c.case_id = r.case_id
WHERE c.owner = %s AND c.state IS NULL AND r.remote AND NOT r.consumed
ORDER BY r.case_id, r.req
"""
"""Requests other processes committed for the cases this worker owns, not yet consumed."""
