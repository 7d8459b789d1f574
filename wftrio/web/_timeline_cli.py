"""``wftrio show ... --html OUT``: a case as one self-contained HTML file.

Two sources, told apart by the file's first bytes (an SQLite file starts
with ``SQLite format 3``):

``wftrio show STORE CASE --html out.html``
    a case of a store file: its stored events; the graph too when the
    case's workflow (name and version, as stored) is registered in this
    process, e.g. by ``--workflow MODULE`` whose import registers it;
``wftrio show TRACE.jsonl [CASE] --html out.html``
    a JSON-lines trace (``wftrio run --trace-out``, ``wf.JsonlSink``); CASE
    picks one case when the file holds several; ``--workflow MODULE:ATTR``
    names the term to draw the graph of.  Without ``--html`` the trace is
    printed as ``wftrio run`` prints it.

The page is written to a temporary file beside OUT and renamed over it, so a
failure leaves OUT as it was; the store is only read.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from wftrio._modload import load_module
from wftrio.errors import CliError, SerializationError, WftrioError
from wftrio.trace import TraceEvent

__all__ = ["is_trace_file", "show_page"]

_SQLITE_MAGIC = b"SQLite format 3\x00"


def is_trace_file(path: str) -> bool:
    """Whether ``path`` is an existing file that is not an SQLite database.

    A DSN or a path that does not exist is not one (the store commands
    report those).
    """
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as fp:
            head = fp.read(len(_SQLITE_MAGIC))
    except OSError:
        return False
    return head != _SQLITE_MAGIC


def _term_of(target: str | None, workflow: str | None, version: int | None) -> Any:
    """The term to draw: ``MODULE:ATTR``; else the registered ``workflow@version``.

    ``target`` without ``:ATTR`` is imported for the workflows it registers.
    Returns ``None`` when no term can be found for a store case without
    ``--workflow`` (the page then has the timeline only).
    """
    from wftrio.registry import default_registry
    from wftrio.terms import Term

    attr = None
    if target is not None:
        spec, sep, attr_ = target.rpartition(":")
        if not sep or not attr_.isidentifier():
            spec, attr_ = target, ""
        attr = attr_ or None
        module = load_module(spec)
        if attr is not None:
            term = getattr(module, attr, None)
            if not isinstance(term, Term):
                what = "nothing" if term is None else f"a {type(term).__name__}"
                raise CliError(f"{target}: {attr!r} is {what}, not a workflow term")
            return term
    if workflow is None:
        if target is not None:
            raise CliError(f"--workflow {target}: name the term to draw as MODULE:ATTR")
        return None
    try:
        return default_registry.get(workflow, version).term
    except WftrioError:
        if target is not None:
            raise CliError(
                f"--workflow {target}: it does not register workflow {workflow!r} version {version}"
            ) from None
        print(
            f"wftrio: no graph: workflow {workflow!r} version {version} is not registered in "
            "this process (give --workflow MODULE that registers it)",
            file=sys.stderr,
        )
        return None


def _read_trace(path: str, case: str | None) -> list[TraceEvent]:
    from wftrio.serialize import read_jsonl

    try:
        with open(path, encoding="utf-8") as fp:
            events = list(read_jsonl(fp))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (SerializationError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not a wftrio trace: {exc}") from exc
    if not events:
        raise CliError(f"{path} holds no events")
    ids = list(dict.fromkeys(ev.case_id for ev in events))
    if case is None:
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise CliError(f"{path} holds {len(ids)} cases ({shown}): name one as CASE")
        return events
    picked = [ev for ev in events if ev.case_id == case]
    if not picked:
        raise CliError(f"{path} holds no events of case {case!r}")
    return picked


def write_page(out: str, page: str) -> None:
    """Write ``page`` to ``out`` atomically (temporary file, then rename).

    Raises:
        CliError: ``out`` is a directory or cannot be written (nothing changed).
    """
    if os.path.isdir(out):
        raise CliError(f"cannot write {out}: it is a directory")
    folder = os.path.dirname(os.path.abspath(out))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".wftrio-", suffix=".html", dir=folder)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            fp.write(page)
        os.replace(tmp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from exc


def show_page(
    args: argparse.Namespace, read_store_case: Callable[[], tuple[Any, Sequence[TraceEvent]]]
) -> int:
    """``wftrio show`` with ``--html`` or on a trace file (see the module docstring).

    Args:
        args: the parsed ``show`` arguments (``store``, ``case``, ``html``,
            ``workflow``).
        read_store_case: reads ``(summary, events)`` of the store case (only
            called when ``args.store`` is not a trace file).
    """
    from wftrio.web._timeline import case_page_html

    events: Sequence[TraceEvent]
    if is_trace_file(args.store):
        events = _read_trace(args.store, args.case)
        if args.html is None:
            from wftrio.console import make_console, print_trace

            print_trace(events, make_console())
            return 0
        term = _term_of(args.workflow, None, None)
        title = f"case {events[0].case_id} ({os.path.basename(args.store)})"
    else:
        if args.case is None:
            raise CliError(f"name the case of store {args.store} to show (wftrio show STORE CASE)")
        summary, events = read_store_case()
        term = _term_of(args.workflow, summary.workflow, summary.version)
        title = f"case {summary.case_id}: {summary.workflow}@{summary.version}, {summary.state}"
    write_page(args.html, case_page_html(title, events, term))
    print(f"wrote {args.html} ({len(events)} events{', with its graph' if term else ''})")
    return 0
