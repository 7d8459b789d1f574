"""The command line on a store file: ``wftrio cases|show|signal|cancel STORE ...``.

Usable while another process owns the store (runs its cases): reading
takes a read-only connection, and requests go through the store's inbox
(:mod:`wftrio.stores._outside`); none of these commands takes the store's
ownership lock.

``wftrio cases STORE``            a table: id, workflow@version, state, age, what it waits for
``wftrio show STORE CASE``        the case's stored trace, its receipts and its requests
                                  (``--html OUT``: one HTML page, :mod:`wftrio.web._timeline_cli`)
``wftrio signal STORE CASE NAME [JSON]``  send a signal
``wftrio cancel STORE CASE [--region R]``  cancel the case (or one region of it)

STORE may also be the ``postgresql://`` DSN of a ``wf.PostgresStore``
database (docs/SCALING.md): requests are committed at once (the owning
worker is notified) and the command waits until a worker has consumed it.

A request is checked against the store first (an unknown or finished
case, a signal or region its workflow does not have: one sentence, exit
status 2, nothing written).  Then, if a process owns the store, the
command waits until that process has taken the request (committed it for
the case: exit 0) or refused it (exit 2, with the reason); if none does,
the request stays in the inbox and the next process that opens the store
delivers it once it has resumed its cases (exit 0).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from wftrio.errors import CliError, WftrioError

__all__ = ["add_store_commands"]

WAIT_SECONDS = 10.0
"""How long ``signal`` / ``cancel`` wait, by default, for the owning process to take a request."""

_POLL = 0.05


_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
"""Seconds per unit of an age, as ``cases`` prints it and ``purge --older-than`` reads it."""


def _age(created: float | None, now: float) -> str:
    if created is None:
        return "?"
    s = max(0.0, now - created)
    for unit, size in _UNITS.items():
        if s >= size:
            return f"{s / size:.0f}{unit}"
    return f"{s:.0f}s"


def _store_call(fn: Callable[[], Any]) -> Any:
    """Run a store read or write; its typed errors become one-line CLI errors."""
    try:
        return fn()
    except WftrioError as exc:
        raise CliError(str(exc)) from exc
    except sqlite3.Error as exc:
        raise CliError(f"the store cannot be read: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("psycopg"):  # a PostgresStore database
            raise CliError(f"the database cannot be read: {exc}") from exc
        raise


def _cmd_cases(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from wftrio.console import make_console
    from wftrio.stores._outside import connect_reader, is_owned, read_cases
    from wftrio.stores._pgoutside import is_dsn, pg_connect, pg_read_cases

    dsn = is_dsn(args.store)

    def read() -> Any:
        if dsn:  # a PostgresStore database (docs/SCALING.md)
            pg = pg_connect(args.store)
            try:
                return pg_read_cases(pg, unfinished=args.unfinished)
            finally:
                pg.close()
        conn = connect_reader(args.store)
        try:
            return read_cases(conn, unfinished=args.unfinished)
        finally:
            conn.close()

    cases = _store_call(read)
    if dsn:
        owner = "shared by its workers"
    else:
        owner = "owned by a running process" if is_owned(args.store) else "not owned by any process"
    now = time.time()
    console = make_console()
    console.print(Text(f"{args.store}: {len(cases)} cases, {owner}"), soft_wrap=True)
    table = Table()
    for col in ("case", "workflow", "state", "age", "waits for"):
        table.add_column(col, overflow="fold")
    for c in cases:
        style = {"done": "green", "failed": "red", "cancelled": "yellow"}.get(c.state, "")
        table.add_row(
            Text(c.case_id),
            Text(f"{c.workflow}@{c.version}"),
            Text(c.state, style=style),
            _age(c.created, now),
            Text("; ".join(c.waits) if c.waits else ("-" if c.finished else "")),
        )
    console.print(table)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from wftrio.console import make_console, print_trace
    from wftrio.receipts import receipts
    from wftrio.stores._outside import connect_reader, read_case, read_ctx
    from wftrio.stores._pgoutside import is_dsn, pg_connect, pg_read_case, pg_read_ctx
    from wftrio.web._timeline_cli import is_trace_file, show_page

    def read() -> Any:
        if is_dsn(args.store):  # a PostgresStore database (docs/SCALING.md)
            pg = pg_connect(args.store)
            try:
                return (*pg_read_case(pg, args.case), pg_read_ctx(pg, args.case))
            finally:
                pg.close()
        conn = connect_reader(args.store)
        try:
            return (*read_case(conn, args.case), read_ctx(conn, args.case))
        finally:
            conn.close()

    if args.html is not None or (
        not is_dsn(args.store) and is_trace_file(args.store)
    ):  # a page, or a JSON-lines trace
        return show_page(args, lambda: _store_call(read)[:2])
    if args.case is None:
        raise CliError(f"name the case of store {args.store} to show (wftrio show STORE CASE)")
    summary, events, requests, stored = _store_call(read)
    console = make_console()
    head = Table(title=Text(f"case {summary.case_id}"), show_header=False, title_justify="left")
    head.add_column("what", style="bold")
    head.add_column("value", overflow="fold")
    head.add_row("workflow", Text(f"{summary.workflow}@{summary.version}"))
    head.add_row("state", summary.state + ("" if summary.finished else " (unfinished)"))
    head.add_row("age", _age(summary.created, time.time()))
    if not summary.finished:
        head.add_row("waits for", Text("; ".join(summary.waits) or "-"))
    head.add_row("trace level", summary.trace_level)
    head.add_row("events", str(len(events)))
    when = "" if stored.seq is None else f", after {stored.seq} events"
    head.add_row("ctx", Text(f"{json.dumps(stored.ctx, sort_keys=True)} ({stored.kind}{when})"))
    console.print(head)
    console.rule("trace")
    print_trace(events, console)
    found = receipts(events)
    console.rule(f"receipts ({len(found)})")
    if found:
        rt = Table(title=None)
        for col in ("task", "kind", "outcome", "attempts", "started", "ended", "key"):
            rt.add_column(col, overflow="fold")
        for r in found:
            rt.add_row(
                Text(r.task),
                Text(r.kind),
                r.outcome,
                str(r.attempts),
                f"{r.started:.3f}s",
                f"{r.ended:.3f}s",
                Text(r.key or ""),
            )
        console.print(rt)
    if requests:
        console.rule(f"requests ({len(requests)})")
        for q in requests:
            what = q.kind if q.name is None else f"{q.kind} {q.name}"
            payload = "" if q.kind != "signal" else " " + json.dumps(q.payload)
            taken = "consumed" if q.consumed else "not consumed yet"
            console.print(Text(f"{q.req:5d}  {what}{payload}  ({taken})"), soft_wrap=True)
    return 0


def _post_pg(args: argparse.Namespace, kind: Any, name: str | None, payload: Any, what: str) -> int:
    """A request committed to a PostgresStore database: the owning worker is notified."""
    from wftrio.stores._pgclient import post_request
    from wftrio.stores._pgoutside import pg_connect

    conn = _store_call(lambda: pg_connect(args.store))
    try:
        req = _store_call(lambda: post_request(conn, args.case, kind, name, payload, False))
        deadline = time.monotonic() + args.wait
        while True:
            row = conn.execute(
                "SELECT r.consumed, c.state FROM requests r JOIN cases c USING (case_id) "
                "WHERE r.case_id = %s AND r.req = %s",
                (args.case, req),
            ).fetchone()
            if row is not None and (row[0] or row[1] is not None):
                print(f"{what} committed for case {args.case!r} (request {req}) and taken")
                return 0
            if time.monotonic() >= deadline:
                print(
                    f"{what} committed for case {args.case!r} (request {req}); no worker has "
                    f"taken it within {args.wait:g} s (the case's next owner will)"
                )
                return 0
            time.sleep(_POLL)
    finally:
        conn.close()


def _post(args: argparse.Namespace, kind: Any, name: str | None, payload: Any) -> int:
    from wftrio.stores._outside import connect_writer, is_owned, post_request, row_outcome
    from wftrio.stores._pgoutside import is_dsn

    what = {
        "signal": f"signal {name!r}",
        "cancel": "cancel",
        "cancel_region": f"cancel of region {name!r}",
    }[kind]
    if is_dsn(args.store):
        return _post_pg(args, kind, name, payload, what)
    conn = _store_call(lambda: connect_writer(args.store))
    try:
        row = _store_call(lambda: post_request(conn, args.case, kind, name, payload))
        deadline = time.monotonic() + args.wait
        while True:
            result = _store_call(lambda: row_outcome(conn, row))
            if result == "":
                print(f"{what} taken by the owning process for case {args.case!r}")
                return 0
            if result is not None:
                raise CliError(f"the owning process refused the {what}: {result}")
            if not is_owned(args.store):
                # nobody owns it (now): the next process to open it delivers it
                print(
                    f"{what} stored for case {args.case!r}; no process owns the store: it is "
                    "delivered when one opens it"
                )
                return 0
            if time.monotonic() >= deadline:
                print(
                    f"{what} stored for case {args.case!r}; the owning process has not taken "
                    f"it within {args.wait:g} s (it will, or the next process to open the store)"
                )
                return 0
            time.sleep(_POLL)
    finally:
        conn.close()


def _cmd_signal(args: argparse.Namespace) -> int:
    payload = None
    if args.payload is not None:
        try:
            payload = json.loads(args.payload)
        except json.JSONDecodeError as exc:
            raise CliError(
                f"the payload of signal {args.name!r} is not valid JSON ({exc.msg} at column "
                f"{exc.colno})"
            ) from exc
    if not args.name:
        raise CliError("the signal name must not be empty")
    return _post(args, "signal", args.name, payload)


def _cmd_cancel(args: argparse.Namespace) -> int:
    if args.region is not None:
        return _post(args, "cancel_region", args.region, None)
    return _post(args, "cancel", None, None)


def _age_arg(text: str) -> float:
    """``--older-than``: a number of seconds, or with a unit (``90m``, ``12h``, ``30d``)."""
    unit = _UNITS.get(text[-1:])
    number = text[:-1] if unit is not None else text
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected seconds, or a number with a unit s, m, h or d (e.g. 30d)"
        ) from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite age >= 0")
    return value


def _cmd_purge(args: argparse.Namespace) -> int:
    from wftrio.stores._retention import purge_finished

    done = _store_call(lambda: purge_finished(args.store, args.older_than, dry_run=args.dry_run))
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{verb} {done.cases} finished case(s) ({done.events} events) that finished "
        f"{args.older_than:g} s or more ago"
    )
    return 0


def _wait_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 0 to 3600 seconds")
    return value


def add_store_commands(sub: Any) -> None:
    """Add ``cases``, ``show``, ``signal``, ``cancel``, ``purge`` to the ``wftrio`` subparsers."""
    store_help = (
        "a store file (wf.SQLiteStore / open_substrate(path=...)), or the postgresql:// DSN "
        "of a wf.PostgresStore database"
    )
    c = sub.add_parser(
        "cases",
        help="list the cases of a store file (works while a process runs them)",
        description="A table of the cases a store file holds: id, workflow@version, state, "
        "age and what each unfinished case waits for (derived from its stored events; "
        "signal waits and timers are recorded at trace level 'full' only). Reads a "
        "read-only snapshot; never takes the store's ownership lock.",
    )
    c.add_argument("store", help=store_help)
    c.add_argument("--unfinished", action="store_true", help="only cases that have not finished")
    c.set_defaults(func=_cmd_cases)
    s = sub.add_parser(
        "show",
        help="print one stored case: its trace, receipts and requests (--html: a page)",
        description="Print a stored case's events (as `wftrio run` prints them), its "
        "receipts and its committed requests. With --html OUT, write the case's timeline "
        "and graph as one self-contained HTML file instead. STORE may also be a JSON-lines "
        "trace file (`wftrio run --trace-out`, wf.JsonlSink): CASE is then needed only when "
        "it holds several cases.",
    )
    s.add_argument("store", help=store_help + ", or a JSON-lines trace file")
    s.add_argument("case", nargs="?", help="the case id")
    s.add_argument("--html", metavar="OUT", help="write the case as one HTML page to OUT")
    s.add_argument(
        "--workflow",
        metavar="TARGET",
        help="for the page's graph: MODULE:ATTR naming the workflow term, or a MODULE (or "
        "FILE.py) whose import registers the case's workflow (default: the workflow "
        "registered under the stored name and version, if any)",
    )
    s.set_defaults(func=_cmd_show)
    wait_help = (
        "seconds to wait for the owning process to take the request (default "
        f"{WAIT_SECONDS:g}); it stays stored either way"
    )
    g = sub.add_parser(
        "signal",
        help="send a signal to a stored case (from outside the process running it)",
        description="Send signal NAME, with the JSON payload (default null), to a case of a "
        "store file. If a process owns the store, it takes the signal within a fraction of a "
        "second (the command waits for it); else the next process to open the store "
        "delivers it. Delivered exactly once.",
    )
    g.add_argument("store", help=store_help)
    g.add_argument("case", help="the case id")
    g.add_argument("name", help="the signal name")
    g.add_argument("payload", nargs="?", help="the payload, as JSON (default null)")
    g.add_argument("--wait", type=_wait_arg, default=WAIT_SECONDS, help=wait_help)
    g.set_defaults(func=_cmd_signal)
    k = sub.add_parser(
        "cancel",
        help="cancel a stored case, or one region of it",
        description="Cancel a case of a store file (it ends CANCELLED), or with --region R "
        "cancel region R of it (its compensation runs and the case goes on).",
    )
    k.add_argument("store", help=store_help)
    k.add_argument("case", help="the case id")
    k.add_argument("--region", help="cancel this region only (cancel_region)")
    k.add_argument("--wait", type=_wait_arg, default=WAIT_SECONDS, help=wait_help)
    k.set_defaults(func=_cmd_cancel)
    p = sub.add_parser(
        "purge",
        help="delete the finished cases of a store older than an age (retention)",
        description="Delete, in one transaction, the cases of a store that finished at least "
        "AGE ago, with their events, requests and ctx (wf.purge_finished). Unfinished cases "
        "are never touched. Works while a process runs the store.",
    )
    p.add_argument("store", help=store_help)
    p.add_argument(
        "--older-than",
        type=_age_arg,
        required=True,
        metavar="AGE",
        help="seconds since the case finished, or with a unit: 90m, 12h, 30d",
    )
    p.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    p.set_defaults(func=_cmd_purge)
