"""A case as pictures: its timeline and its graph, as SVG and one HTML page.

Pure functions of a case's trace (and, for the graph, of its term): no
trio, no web framework, standard library only; every text is escaped, so
a task or signal name cannot inject markup.

* :func:`timeline_svg` — one lane per token or branch (see
  :mod:`wftrio.web._timeline_model` for how lanes are derived), a bar per
  task or effect coloured by outcome, marks for signals, timers,
  cancellations, retries and failures, a time axis, hover details
  (``<title>`` plus ``data-*`` attributes).  It stands alone (it carries
  its own ``<style>``); the page adds zoom.
* :func:`graph_svg` — the workflow graph with the case's progress
  (:mod:`wftrio.web._timeline_graph`).
* :func:`case_page_html` — one self-contained HTML file: the timeline
  (zoomable: wheel, drag, buttons), the graph, and a table of the events.

The x axis: time runs left to right, but the steps a case takes at one
instant (pure tasks take no time) are spread over small slots of their
own, so a run of pure steps stays readable; ticks show case time.
"""

from __future__ import annotations

import bisect
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wftrio.trace import TraceEvent
from wftrio.web._timeline_model import Bar, Mark, Timeline, build

if TYPE_CHECKING:
    from wftrio.terms import Term

__all__ = ["case_page_html", "esc", "graph_svg", "timeline_svg"]

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def esc(value: object) -> str:
    """``value`` as text safe in XML/HTML content and quoted attributes.

    Characters XML 1.0 forbids (control characters, lone surrogates) become
    U+FFFD, so any name gives well-formed SVG.
    """
    return html.escape(_BAD_XML.sub("\ufffd", str(value)), quote=True)


def _fmt(t: float) -> str:
    if t == 0:
        return "0"
    if abs(t) >= 100:
        return f"{t:.0f}"
    return f"{t:.3g}" if abs(t) >= 0.01 else f"{t:.2e}"


_LEFT = 180.0  # the lane labels' column
_TOP = 34.0  # the axis
_LANE = 26.0
_BAR = 14.0
_TIME_WIDTH = 720.0  # pixels given to elapsed time (plus the slots of steps)


class _Scale:
    """x positions of (time, seq) points: elapsed time plus a slot per step at one instant."""

    def __init__(self, points: Sequence[tuple[float, int]]) -> None:
        by_time: dict[float, set[int]] = {}
        for t, s in points:
            by_time.setdefault(t, set()).add(s)
        self.times = sorted(by_time)
        n_slots = sum(len(v) for v in by_time.values())
        self.slot = max(1.5, min(12.0, 900.0 / max(n_slots, 1)))
        span = (self.times[-1] - self.times[0]) if self.times else 0.0
        self.t0 = self.times[0] if self.times else 0.0
        self.per_s = _TIME_WIDTH / span if span > 0 else 0.0
        self.rank: dict[tuple[float, int], int] = {}
        self.base: list[float] = []
        self.count: list[int] = []
        x = 0.0
        prev: float | None = None
        for t in self.times:
            if prev is not None:
                x += (t - prev) * self.per_s
            self.base.append(x)
            for r, s in enumerate(sorted(by_time[t])):
                self.rank[(t, s)] = r
            x += len(by_time[t]) * self.slot
            self.count.append(len(by_time[t]))
            prev = t
        self.width = x + self.slot

    def x(self, t: float, seq: int) -> float:
        k = bisect.bisect_left(self.times, t)
        if k < len(self.times) and self.times[k] == t:
            return _LEFT + self.base[k] + self.rank.get((t, seq), 0) * self.slot
        return self.x_time(t)

    def x_time(self, t: float) -> float:
        """The x of case time ``t`` (after the steps taken at the instant before it)."""
        k = bisect.bisect_right(self.times, t) - 1
        if k < 0:
            return _LEFT
        if self.times[k] == t:  # an instant steps were taken at: where they start
            return _LEFT + self.base[k]
        return _LEFT + self.base[k] + self.count[k] * self.slot + (t - self.times[k]) * self.per_s


def _ticks(end: float) -> list[float]:
    if end <= 0:
        return [0.0]
    raw = end / 8
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    n = int(end / step + 1e-9)
    return [i * step for i in range(n + 1)]


_TIMELINE_CSS = """
.wf-timeline text{font:11px system-ui,sans-serif;fill:#222}
.wf-timeline .lane-bg{fill:#f7f7f9}.wf-timeline .lane-bg.odd{fill:#eef0f4}
.wf-timeline .axis line{stroke:#bbb}.wf-timeline .axis text{fill:#555;font-size:10px}
.wf-timeline .bar{stroke:#0003;stroke-width:.5}
.wf-timeline .bar.ok{fill:#2e9d57}.wf-timeline .bar.retried{fill:#e69500}
.wf-timeline .bar.failed{fill:#d32f2f}.wf-timeline .bar.cancelled{fill:#9e9e9e}
.wf-timeline .bar.rejected{fill:#8e24aa}.wf-timeline .bar.running{fill:#1e88e5}
.wf-timeline .bar.wait{fill:#b39ddb;opacity:.7}.wf-timeline .bar.wait.cancelled{fill:#bdbdbd}
.wf-timeline .bar.wait.running{fill:#7e57c2}
.wf-timeline .seg{opacity:.35}.wf-timeline .seg.running{fill:#1e88e5}
.wf-timeline .seg.waiting_signal{fill:#7e57c2}.wf-timeline .seg.waiting_effect{fill:#26a69a}
.wf-timeline .seg.initializing{fill:#bbb}
.wf-timeline .mark.signal{fill:#6a1b9a}.wf-timeline .mark.timer{fill:#00838f}
.wf-timeline .mark.cancel{stroke:#e65100;stroke-width:2;fill:none}
.wf-timeline .mark.retry{fill:#e69500;stroke:#7a4f00}
.wf-timeline .mark.fail{stroke:#b71c1c;stroke-width:2.5;fill:none}
.wf-timeline .mark.end{fill:#222}.wf-timeline .mark.choice{fill:#607d8b}
.wf-timeline .legend text{font-size:10px}
.wf-timeline .bar:hover,.wf-timeline .mark:hover{stroke:#000;stroke-width:1.5}
"""

_MARK_SHAPES = {
    # kind -> a path around (0, 0), about 10 px
    "signal": "M-5,-6 L5,-6 L0,2 Z",
    "timer": "M0,-6 A5,5 0 1,1 -0.01,-6 Z",
    "cancel": "M-5,-5 L5,5 M5,-5 L-5,5",
    "retry": "M0,-6 L5,0 L0,6 L-5,0 Z",
    "fail": "M-5,-5 L5,5 M5,-5 L-5,5",
    "end": "M-1.5,-8 L1.5,-8 L1.5,8 L-1.5,8 Z",
    "choice": "M-3,-3 L3,-3 L3,3 L-3,3 Z",
}


def _attrs(**kw: object) -> str:
    return "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in kw.items() if v is not None)


def _bar_svg(b: Bar, sc: _Scale) -> str:
    x0 = sc.x(b.start, b.start_seq)
    x1 = sc.x(b.end, b.end_seq)
    minw = max(sc.slot * 0.8, 3.0)
    w = max(x1 - x0, minw)
    y = _TOP + b.lane * _LANE + (_LANE - _BAR) / 2
    h = _BAR
    if b.kind == "wait":
        y, h = y + _BAR / 2 - 3, 6.0
    what = {"task": "task", "effect": "effect", "wait": "wait"}[b.kind]
    title = (
        f"{b.name}: {what}, {b.outcome}; {_fmt(b.start)}s → {_fmt(b.end)}s"
        + (f"; token {b.token}" if b.token is not None else "")
        + (f"; region {b.scope}" if b.scope else "")
        + (f"; {b.attempts} attempts" if b.attempts > 1 else "")
        + (f"\n{b.detail}" if b.detail else "")
    )
    cls = f"bar {b.kind} {b.outcome}"
    out = (
        f'<rect class="{cls}" x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="2"'
        + _attrs(
            data_name=b.name,
            data_kind=b.kind,
            data_outcome=b.outcome,
            data_token=b.token,
            data_scope=b.scope,
            data_start=_fmt(b.start),
            data_end=_fmt(b.end),
            data_seq=b.start_seq,
            data_lane=b.lane,
            data_attempts=b.attempts,
        )
        + f"><title>{esc(title)}</title></rect>"
    )
    if b.kind != "wait" and w > 7 * len(b.name) + 6:
        out += (
            f'<text x="{x0 + 3:.1f}" y="{y + h - 3:.1f}" pointer-events="none" '
            f'style="fill:#fff">{esc(b.name)}</text>'
        )
    return out


def _mark_svg(m: Mark, sc: _Scale) -> str:
    x = sc.x(m.time, m.seq)
    y = _TOP + m.lane * _LANE + _LANE / 2
    if m.kind in ("signal", "choice"):
        y -= _BAR / 2 + 2
    title = f"{m.kind} {m.name} at {_fmt(m.time)}s (event #{m.seq})" + (
        f"\n{m.detail}" if m.detail else ""
    )
    return (
        f'<path class="mark {esc(m.kind)}" transform="translate({x:.1f},{y:.1f})" '
        f'd="{_MARK_SHAPES.get(m.kind, _MARK_SHAPES["choice"])}"'
        + _attrs(
            data_kind=m.kind,
            data_name=m.name,
            data_time=_fmt(m.time),
            data_seq=m.seq,
            data_lane=m.lane,
        )
        + f"><title>{esc(title)}</title></path>"
    )


def _points(tl: Timeline) -> list[tuple[float, int]]:
    pts: list[tuple[float, int]] = []
    for b in tl.bars:
        pts += [(b.start, b.start_seq), (b.end, b.end_seq)]
    pts += [(m.time, m.seq) for m in tl.marks]
    for s in tl.segments:
        pts += [(s.start, s.start_seq), (s.end, s.end_seq)]
    return pts


def _legend(y: float) -> str:
    items = [
        ("bar ok", "ok"),
        ("bar retried", "retried"),
        ("bar failed", "failed"),
        ("bar cancelled", "cancelled"),
        ("bar rejected", "rejected"),
        ("bar running", "running"),
        ("bar wait", "waiting"),
    ]
    out = [f'<g class="legend" transform="translate({_LEFT:.0f},{y:.1f})">']
    x = 0.0
    for cls, label in items:
        out.append(f'<rect class="{cls}" x="{x:.0f}" y="-9" width="12" height="10"/>')
        out.append(f'<text x="{x + 15:.0f}" y="0">{label}</text>')
        x += 26 + 6.2 * len(label)
    for kind in ("signal", "timer", "retry", "cancel", "fail"):
        out.append(
            f'<path class="mark {kind}" transform="translate({x + 5:.0f},-4)" '
            f'd="{_MARK_SHAPES[kind]}"/>'
        )
        out.append(f'<text x="{x + 14:.0f}" y="0">{kind}</text>')
        x += 24 + 6.2 * len(kind)
    out.append("</g>")
    return "".join(out)


def timeline_svg(events: Sequence[TraceEvent]) -> str:
    """The case's timeline as one standalone ``<svg>`` element.

    One lane per token or branch (the first lane is the case itself: its
    state as a faint band, signals as they arrive, its end), a bar per task
    or effect from start to end coloured by outcome (classes ``bar`` plus
    ``task``/``effect``/``wait`` and ``ok``/``retried``/``failed``/
    ``cancelled``/``rejected``/``running``), marks (class ``mark`` plus
    ``signal``/``timer``/``cancel``/``retry``/``fail``/``end``/``choice``),
    a time axis in seconds of case time.  Every bar and mark has a
    ``<title>`` (the hover text) and ``data-*`` attributes (name, token,
    outcome, times, event number).

    Args:
        events: one case's trace events, in order (any level; ``"full"``
            shows pure tasks and splits, ``"min"`` only effects, signals,
            timers and cancellations).
    """
    tl = build(events)
    pts = _points(tl) or [(0.0, 0)]
    sc = _Scale(pts)
    n = len(tl.lanes)
    width = _LEFT + sc.width + 40
    height = _TOP + n * _LANE + 34
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wf-timeline" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label="{esc(f"timeline of case {tl.case_id}")}"'
        + _attrs(data_case=tl.case_id, data_lanes=n, data_end=_fmt(tl.end_time))
        + ">",
        f"<title>{esc(f'case {tl.case_id}: {len(events)} events, {_fmt(tl.end_time)}s')}</title>",
        f"<style>{_TIMELINE_CSS}</style>",
    ]
    for lane in tl.lanes:
        y = _TOP + lane.index * _LANE
        odd = " odd" if lane.index % 2 else ""
        out.append(
            f'<g class="lane" data-lane="{lane.index}"'
            + _attrs(data_label=lane.label, data_tokens=" ".join(map(str, lane.tokens)))
            + ">"
            f'<rect class="lane-bg{odd}" x="0" y="{y:.1f}" width="{width:.0f}" '
            f'height="{_LANE:.0f}"/>'
            f'<text x="{6 + 10 * min(lane.depth, 6)}" y="{y + _LANE / 2 + 4:.1f}">'
            f"{esc(_clip(lane.label, 28 - min(lane.depth, 6)))}"
            f"<title>{esc(lane.label)}</title></text></g>"
        )
    out.append('<g class="axis">')
    for t in _ticks(tl.end_time):
        x = sc.x_time(t) if t > 0 else _LEFT
        out.append(
            f'<line x1="{x:.1f}" y1="{_TOP - 6:.0f}" x2="{x:.1f}" y2="{_TOP + n * _LANE:.0f}"/>'
            f'<text x="{x:.1f}" y="{_TOP - 10:.0f}" text-anchor="middle">{_fmt(t)}s</text>'
        )
    if tl.end_time <= 0:
        out.append(
            f'<text x="{_LEFT + 40:.0f}" y="{_TOP - 10:.0f}">every step at t=0: '
            "ordered by step</text>"
        )
    out.append("</g>")
    for s in tl.segments:
        x0, x1 = sc.x(s.start, s.start_seq), sc.x(s.end, s.end_seq)
        out.append(
            f'<rect class="seg {esc(s.state)}" x="{x0:.1f}" y="{_TOP + _LANE - 6:.1f}" '
            f'width="{max(x1 - x0, 1.0):.1f}" height="4"'
            + _attrs(data_state=s.state)
            + f"><title>{esc(f'{s.state}: {_fmt(s.start)}s → {_fmt(s.end)}s')}</title></rect>"
        )
    out += [_bar_svg(b, sc) for b in tl.bars]
    out += [_mark_svg(m, sc) for m in tl.marks]
    out.append(_legend(_TOP + n * _LANE + 22))
    out.append("</svg>")
    return "\n".join(out)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def graph_svg(term: Term, events: Sequence[TraceEvent]) -> str:
    """The workflow graph of ``term`` with the case's progress, as one ``<svg>``.

    See :func:`wftrio.web._timeline_graph.graph_svg` for the layout and how
    nodes are matched to the trace.
    """
    from wftrio.web._timeline_graph import graph_svg as draw

    return draw(term, events)


_PAGE_CSS = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}
.summary td{padding:2px 12px 2px 0}
.pane{border:1px solid #ccc;border-radius:4px;overflow:hidden;position:relative;background:#fafafa}
.pane svg{display:block;max-width:100%;height:auto;cursor:grab;margin:auto}
.tools{margin:.4em 0}.tools button{font-size:13px;margin-right:.3em}
#details{font:12px ui-monospace,monospace;white-space:pre-wrap;min-height:2.6em;
 background:#f3f3f3;padding:.4em;border-radius:4px;margin-top:.4em}
table.events{border-collapse:collapse;font:12px ui-monospace,monospace}
table.events td,table.events th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left;
 vertical-align:top}
table.events td.data{max-width:60em;overflow-wrap:anywhere}
"""

_PAGE_JS = """
(function(){
  function zoomable(svg){
    var vb=svg.viewBox.baseVal, home=[vb.x,vb.y,vb.width,vb.height];
    function set(x,y,w,h){svg.setAttribute('viewBox',[x,y,w,h].join(' '));}
    function zoom(f,cx,cy){
      var v=svg.viewBox.baseVal, w=v.width*f, h=v.height*f;
      if(w>home[2]*4||w<home[2]/200)return;
      set(cx-(cx-v.x)*f, cy-(cy-v.y)*f, w, h);
    }
    function at(e){var r=svg.getBoundingClientRect(),v=svg.viewBox.baseVal;
      return [v.x+(e.clientX-r.left)/r.width*v.width, v.y+(e.clientY-r.top)/r.height*v.height];}
    svg.addEventListener('wheel',function(e){e.preventDefault();var p=at(e);
      zoom(e.deltaY>0?1.25:0.8,p[0],p[1]);},{passive:false});
    var drag=null;
    svg.addEventListener('mousedown',function(e){drag=[e.clientX,e.clientY];});
    window.addEventListener('mouseup',function(){drag=null;});
    svg.addEventListener('mousemove',function(e){if(!drag)return;
      var r=svg.getBoundingClientRect(),v=svg.viewBox.baseVal;
      var dx=(e.clientX-drag[0])/r.width*v.width, dy=(e.clientY-drag[1])/r.height*v.height;
      drag=[e.clientX,e.clientY]; set(v.x-dx,v.y-dy,v.width,v.height);});
    var id=svg.getAttribute('data-pane');
    document.querySelectorAll('button[data-for="'+id+'"]').forEach(function(b){
      b.addEventListener('click',function(){var v=svg.viewBox.baseVal,
        cx=v.x+v.width/2, cy=v.y+v.height/2, a=b.getAttribute('data-act');
        if(a==='in')zoom(0.67,cx,cy); else if(a==='out')zoom(1.5,cx,cy);
        else set(home[0],home[1],home[2],home[3]);});});
    svg.addEventListener('mouseover',function(e){
      var t=e.target.closest&&e.target.closest('[data-kind],[data-status]');
      var box=document.getElementById('details'); if(!t||!box)return;
      var d=t.dataset, lines=[]; for(var k in d){lines.push(k+': '+d[k]);}
      box.textContent=lines.join('   ');});
  }
  document.querySelectorAll('svg[data-pane]').forEach(zoomable);
})();
"""


def _pane(svg: str, pane: str) -> str:
    """``svg`` with ``data-pane`` set (the zoom script's hook) and its zoom buttons."""
    svg = svg.replace("<svg ", f'<svg data-pane="{pane}" ', 1)
    buttons = "".join(
        f'<button type="button" data-for="{pane}" data-act="{act}">{label}</button>'
        for act, label in (("in", "zoom in"), ("out", "zoom out"), ("reset", "reset"))
    )
    return (
        f'<div class="tools">{buttons} <small>wheel: zoom, drag: move</small></div>'
        f'<div class="pane">{svg}</div>'
    )


def _data_text(data: Mapping[str, Any]) -> str:
    try:
        s = json.dumps(dict(data), default=repr, ensure_ascii=False)
    except (TypeError, ValueError):
        s = repr(data)
    return s if len(s) <= 400 else s[:399] + "…"


def case_page_html(title: str, events: Sequence[TraceEvent], term: Term | None = None) -> str:
    """One self-contained HTML page of a case: timeline, graph, events.

    Inline CSS and JavaScript only (no URL is loaded), so the file can be
    attached to a bug report and opened anywhere.  The timeline and graph
    zoom with the mouse wheel or the buttons, and move by dragging; hovering
    a bar, mark or node shows its details under the picture.

    Args:
        title: the page's title (escaped).
        events: the case's trace events, in order.
        term: the case's workflow; when ``None`` the page has no graph.
    """
    tl = build(events)
    state = tl.final or "unfinished"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{_PAGE_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        '<table class="summary">',
        f"<tr><td>case</td><td>{esc(tl.case_id)}</td></tr>",
        f'<tr><td>state</td><td class="state">{esc(state)}</td></tr>',
        f"<tr><td>events</td><td>{len(events)}</td></tr>",
        f"<tr><td>case time</td><td>{esc(_fmt(tl.end_time))} s</td></tr>",
        _first_kept(events),
        "</table>",
        "<h2>Timeline</h2>",
        _pane(timeline_svg(events), "timeline"),
        '<div id="details" aria-live="polite">hover a bar, mark or node for details</div>',
    ]
    if term is not None:
        parts += ["<h2>Graph</h2>", _pane(graph_svg(term, events), "graph")]
    parts += [
        f"<h2>Events ({len(events)})</h2>",
        '<table class="events"><thead><tr><th>#</th><th>time</th><th>kind</th><th>name</th>'
        "<th>token</th><th>region</th><th>data</th></tr></thead><tbody>",
    ]
    for ev in events:
        parts.append(
            f'<tr class="{esc(ev.kind)}"><td>{esc(ev.seq)}</td><td>{esc(_fmt(_time(ev)))}</td>'
            f"<td>{esc(ev.kind)}</td><td>{esc(ev.name if ev.name is not None else '')}</td>"
            f"<td>{esc(ev.token if ev.token is not None else '')}</td>"
            f"<td>{esc(ev.scope if ev.scope is not None else '')}</td>"
            f'<td class="data">{esc(_data_text(ev.data))}</td></tr>'
        )
    parts += ["</tbody></table>", f"<script>{_PAGE_JS}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"


def _first_kept(events: Sequence[TraceEvent]) -> str:
    """A summary row when the trace does not start at event #0 (older events not kept)."""
    first = events[0].seq if events else 0
    if not isinstance(first, int) or first <= 0:
        return ""
    return (
        f'<tr class="truncated"><td>note</td><td>the trace starts at event #{first}: the '
        "earlier events were not kept (the case option keep_events=)</td></tr>"
    )


def _time(ev: TraceEvent) -> float:
    t = ev.time
    return float(t) if isinstance(t, int | float) and not isinstance(t, bool) else 0.0
