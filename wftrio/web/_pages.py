"""The console's web pages: server-rendered HTML, a little vanilla JavaScript, no build step.

* ``/`` — the case list: filters, a table that refreshes itself every
  second (polling ``/api/cases``), a form to start a case of a registered
  workflow.
* ``/cases/{id}`` — one case: its state, ctx and waits, the timeline and
  the workflow graph with its progress (SVG drawn on the server by
  :mod:`wftrio.web._timeline`), its receipts, and forms to signal it,
  cancel it or cancel one of its regions.  While the case is unfinished the
  page reloads its live part (``/cases/{id}/live``) every second.

Everything a page needs is served by the app (``/static/console.css``,
``/static/console.js``); nothing comes from another host.  Every text from
a case (names, ctx, payloads) is escaped.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from wftrio.receipts import Receipt
from wftrio.terms import Term
from wftrio.trace import TraceEvent
from wftrio.web._paths import case_path
from wftrio.web._source import CaseDetail, CaseRow, Source
from wftrio.web._timeline import graph_svg, timeline_svg

__all__ = ["case_live_html", "case_page", "list_page", "rows_html"]


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _page(title: str, body: str, *, auth: bool, data: dict[str, str] | None = None) -> str:
    attrs = "".join(f' data-{k}="{_e(v)}"' for k, v in (data or {}).items())
    token = (
        '<label class="token">token <input id="token" type="password" autocomplete="off" '
        'placeholder="bearer token"></label>'
        if auth
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>"
        '<link rel="stylesheet" href="/static/console.css"></head>'
        f"<body{attrs}><header><a class=home href=/>wftrio console</a>{token}</header>"
        f'<main>{body}</main><div id="msg" role="status" aria-live="polite"></div>'
        '<script src="/static/console.js"></script></body></html>\n'
    )


def _age(created: float | None) -> str:
    if created is None:
        return ""
    s = max(0.0, time.time() - created)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s / size:.0f}{unit}"
    return f"{s:.0f}s"


def rows_html(rows: list[CaseRow]) -> str:
    """The case table's body rows (the script renders the same from ``/api/cases``)."""
    out = []
    for r in rows:
        wf = f"{r.workflow}@{r.version}" if r.workflow else "(term)"
        out.append(
            f'<tr data-case="{_e(r.case_id)}" data-state="{_e(r.state)}">'
            f'<td><a href="/cases/{_e(case_path(r.case_id))}">{_e(r.case_id)}</a></td>'
            f'<td>{_e(wf)}</td><td class="state {_e(r.state)}">{_e(r.state)}</td>'
            f"<td>{_e('; '.join(r.waits))}</td><td>{r.events}</td>"
            f"<td>{_e(_age(r.created))}</td></tr>"
        )
    return "".join(out)


def list_page(source: Source, *, auth: bool) -> str:
    """The case list page (first rows rendered here; the script keeps it fresh)."""
    rows = list(reversed(source.rows()))[:100]
    names = sorted(source.registry.names()) if source.registry is not None else []
    start = ""
    if source.kind == "live" and names:
        options = "".join(f"<option>{_e(n)}</option>" for n in names)
        start = (
            '<details class="start"><summary>start a case</summary>'
            '<form id="start-form" data-api="/api/cases">'
            f'<label>workflow <select name="workflow">{options}</select></label> '
            '<label>ctx <input name="ctx" value="{}" size="30"></label> '
            '<label>case id <input name="case_id" placeholder="(generated)"></label> '
            "<button>start</button></form></details>"
        )
    body = (
        "<h1>Cases</h1>"
        f'<p class="source">{_e(_source_text(source))}</p>'
        f"{start}"
        '<form id="filters">'
        '<label>state <select name="state"><option value="">any</option>'
        + "".join(
            f"<option>{s}</option>"
            for s in (
                "running",
                "waiting_signal",
                "waiting_effect",
                "done",
                "failed",
                "cancelled",
            )
        )
        + "</select></label> "
        '<label>workflow <input name="workflow" size="12"></label> '
        '<label>waiting on <input name="waiting" size="12"></label> '
        '<label>search <input name="q" size="16"></label></form>'
        '<p id="count"></p>'
        '<table id="cases"><thead><tr><th>case</th><th>workflow</th><th>state</th>'
        "<th>waits for</th><th>events</th><th>age</th></tr></thead>"
        f"<tbody>{rows_html(rows)}</tbody></table>"
        '<p><button id="more" hidden>more</button></p>'
    )
    return _page("wftrio cases", body, auth=auth, data={"page": "list"})


def _source_text(source: Source) -> str:
    path = getattr(source, "path", None)
    if source.kind == "live":
        where = f"store {path}" if path else "in memory"
        return f"live substrate ({where})"
    return f"store file {path} (read-mostly: requests go through its inbox)"


def _receipts_html(found: list[Receipt]) -> str:
    if not found:
        return "<p>none</p>"
    rows = "".join(
        f'<tr class="{_e(r.outcome)}"><td>{_e(r.task)}</td><td>{_e(r.kind)}</td>'
        f"<td>{_e(r.outcome)}</td><td>{r.attempts}</td><td>{r.started:.3f}s</td>"
        f'<td>{r.ended:.3f}s</td><td class=key title="{_e(r.key or "")}">'
        f"{_e(r.key or '')}</td></tr>"
        for r in found
    )
    return (
        '<table class="receipts"><thead><tr><th>task</th><th>kind</th><th>outcome</th>'
        "<th>attempts</th><th>started</th><th>ended</th><th>key</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, indent=1, default=repr, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def case_live_html(
    detail: CaseDetail, events: list[TraceEvent], term: Term | None, found: list[Receipt]
) -> str:
    """The part of the case page that changes while the case runs."""
    row = detail.row
    wf = f"{row.workflow}@{row.version}" if row.workflow else "(started from a term)"
    facts = [
        ("state", f'<span id="state" class="state {_e(row.state)}">{_e(row.state)}</span>'),
        ("workflow", _e(wf)),
        ("waits for", _e("; ".join(row.waits) or "-")),
        ("tokens", _tokens_text(detail) or "-"),
        ("live regions", _e(", ".join(detail.live_regions) or "-")),
        ("pending signals", _e(_json_text(detail.pending_signals))),
        ("events", str(len(events))),
        ("steps", _e(detail.steps if detail.steps is not None else "?")),
    ]
    if detail.error:
        facts.append(("error", _e(detail.error)))
    if detail.reason:
        facts.append(("reason", _e(detail.reason)))
    if detail.budget is not None:
        facts.append(("budget", _e(_budget_text(detail.budget))))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    graph = (
        _pane(graph_svg(term, events), "graph")
        if term is not None
        else "<p>the workflow of this case is not known here (a workflow this process has "
        "not registered)</p>"
    )
    return (
        f'<div id="live" data-state="{_e(row.state)}" data-finished="{str(row.finished).lower()}">'
        f'<div class="two"><div><table class="facts">{table}</table></div>'
        f"<div><h2>ctx <small>({_e(detail.ctx_is)})</small></h2>"
        f'<pre class="ctx">{_e(_json_text(detail.ctx))}</pre></div></div>'
        f"<h2>Timeline</h2>{_pane(timeline_svg(events), 'timeline')}"
        '<div id="details">hover a bar, mark or node for details</div>'
        f'<div class="two"><div><h2>Graph</h2>{graph}</div>'
        f"<div><h2>Receipts ({len(found)})</h2>{_receipts_html(found)}</div></div></div>"
    )


def _tokens_text(detail: CaseDetail) -> str:
    return "<br>".join(
        _e(f"token {w.token}: {w.what}" + (f" (region {w.region})" if w.region else ""))
        for w in detail.tokens
    )


def _budget_text(budget: dict[str, Any]) -> str:
    n = budget["effects"]
    used = f"{n} effect{'' if n == 1 else 's'}, {budget['time']:.3f} s, cost {budget['cost']:g}"
    limits = budget.get("limits")
    if not limits:
        return used + " (no limits)"
    shown = ", ".join(f"{k} {v:g}" for k, v in limits.items() if v is not None)
    return f"{used} (limits: {shown})"


def _pane(svg: str, pane: str) -> str:
    buttons = "".join(
        f'<button type="button" data-for="{pane}" data-act="{act}">{label}</button>'
        for act, label in (("in", "zoom in"), ("out", "zoom out"), ("reset", "reset"))
    )
    svg = svg.replace("<svg ", f'<svg data-pane="{pane}" ', 1)
    return f'<div class="tools">{buttons}</div><div class="pane {pane}">{svg}</div>'


def _forms(detail: CaseDetail, case_id: str) -> str:
    api = f"/api/cases/{_e(case_path(case_id))}"
    signals = detail.signals or ()
    waiting = detail.waiting_signals
    first = waiting[0] if waiting else (sorted(signals)[0] if signals else "")
    options = "".join(f'<option value="{_e(n)}"></option>' for n in sorted(signals))
    regions = "".join(f"<option>{_e(r)}</option>" for r in sorted(detail.regions or ()))
    out = (
        '<section class="forms"><h2>Act on it</h2>'
        f'<form id="signal-form" data-api="{api}/signal">'
        f'<label>signal <input name="name" list="signal-names" value="{_e(first)}" required>'
        f'</label><datalist id="signal-names">{options}</datalist> '
        '<label>payload (JSON) <input name="payload" value="null" size="24"></label> '
        "<button>send signal</button></form>"
        f'<form id="cancel-form" data-api="{api}/cancel" data-confirm="cancel this case?">'
        "<button>cancel case</button></form>"
    )
    if regions:
        out += (
            f'<form id="region-form" data-api="{api}/cancel_region">'
            f'<label>region <select name="region">{regions}</select></label> '
            "<button>cancel region</button></form>"
        )
    return out + "</section>"


def case_page(source: Source, case_id: str, *, auth: bool) -> str:
    """The page of one case (raises ``UnknownCase``)."""
    detail = source.detail(case_id)
    events = source.events(case_id)
    term = source.term(case_id)
    live = case_live_html(detail, events, term, source.receipts(case_id))
    forms = "" if detail.row.finished else _forms(detail, case_id)
    body = (
        f"<h1>case {_e(case_id)}</h1>{forms}{live}"
        f'<p><a href="/api/cases/{_e(case_path(case_id))}/trace">trace (JSON)</a> · '
        f'<a href="/api/cases/{_e(case_path(case_id))}/graph">graph (JSON)</a></p>'
    )
    return _page(f"case {case_id}", body, auth=auth, data={"page": "case", "case": case_id})
