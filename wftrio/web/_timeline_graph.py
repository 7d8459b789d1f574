"""The workflow graph of a case, laid out in layers, with the case's progress.

:func:`graph_svg` takes the diagram model of :func:`wftrio.graph.diagram`
(nodes, edges, clusters), lays it out top to bottom with a small
Sugiyama-style layout (longest-path layers over the forward edges, dummy
points on edges that span layers, barycentre ordering sweeps, then x
positions pulled towards each node's predecessors), and draws it as SVG.

How a node gets its status (class ``done``, ``running``, ``waiting``,
``cancelled``, ``failed`` or ``not-reached``) from the trace:

* a **task or effect** box, by its name: the bars the timeline draws for
  events with that task name (:mod:`wftrio.web._timeline_model`): one still
  running makes it ``running``, else the last one's outcome says ``done``
  (ok, retried, or an approval's rejection), ``failed`` or ``cancelled``;
* a **multiple-instance** node (``NAME ≡ mi(...)``), the same by its task's
  name;
* a **signal wait** (``wait signal NAME``), by the signal name: ``waiting``
  while a token waits for it (``signal_waiting`` without its
  ``signal_consumed``), ``done`` once consumed, ``cancelled`` if the
  waiting token was withdrawn;
* **start** is ``done`` once the case started; **end** once it completed;
  **terminate** once a ``terminated`` event is recorded;
* **gateways** (and ``call`` boxes, ``halt``), which the trace names by
  node path only, are derived from their neighbours: ``done`` when the flow
  reached them from a done node and went on to a reached node (through
  other gateways only); reached but not left: ``waiting`` in an unfinished
  case (a join waiting for its other branches, a deferred choice waiting
  for its trigger), ``done`` in a completed one, ``cancelled`` in a failed
  or cancelled one.
* a **region** cluster is ``cancelled`` when the trace has its
  ``region_cancelled`` and ``entered`` when it has its ``region_entered``.

Two tasks with one name share a status: the trace names tasks, not nodes.
Pure tasks show only at trace level ``"full"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from wftrio.graph import Diagram, diagram
from wftrio.trace import TraceEvent
from wftrio.web._timeline import esc
from wftrio.web._timeline_model import build

if TYPE_CHECKING:
    from wftrio.terms import Term

__all__ = ["graph_svg", "node_status"]

STATUSES = ("done", "running", "waiting", "cancelled", "failed", "not-reached")
_REACHED = frozenset({"done", "running", "waiting", "cancelled", "failed"})
_BAR_STATUS = {
    "ok": "done",
    "retried": "done",
    "rejected": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "running": "running",
}

_LAYER_H = 74.0
_NODE_H = 30.0
_GAP = 26.0
_MARGIN = 24.0


def _members(d: Diagram) -> dict[str, list[str]]:
    """Cluster id -> the nodes inside it, nested clusters included."""
    parent = {c.id: c.parent for c in d.clusters}
    out: dict[str, list[str]] = {c.id: [] for c in d.clusters}
    for n in d.nodes:
        cid = n.cluster
        while cid is not None:
            out[cid].append(n.id)
            cid = parent.get(cid)
    return out


def _forward(d: Diagram, members: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Forward (non-back) edges node -> node; an edge leaving a cluster leaves each member."""
    out: list[tuple[str, str]] = []
    for e in d.edges:
        if e.back:
            continue
        srcs = members.get(e.src, []) if e.from_cluster else [e.src]
        out += [(s, e.dst) for s in srcs]
    return out


def node_status(term: Term, events: Sequence[TraceEvent]) -> dict[str, str]:
    """Each diagram node's status (see the module docstring), by node id."""
    d = diagram(term)
    return _status(d, events)


def _status(d: Diagram, events: Sequence[TraceEvent]) -> dict[str, str]:
    tl = build(events)
    by_name: dict[str, str] = {}
    running: set[str] = set()
    wait_status: dict[str, str] = {}
    for b in tl.bars:
        if b.kind == "wait":
            if b.name.startswith("signal "):
                sig = b.name[len("signal ") :]
                ws = {"ok": "done", "running": "waiting"}.get(b.outcome, "cancelled")
                if wait_status.get(sig) != "waiting":
                    wait_status[sig] = ws
            continue
        by_name[b.name] = _BAR_STATUS.get(b.outcome, "done")
        if b.outcome == "running":
            running.add(b.name)
    for name in running:
        by_name[name] = "running"
    kinds = {ev.kind for ev in events}
    status: dict[str, str] = {}
    mapped: set[str] = set()
    for n in d.nodes:
        st: str | None = None
        if n.shape in ("task", "effect"):
            if n.label in by_name:
                st = by_name[n.label]
            elif not n.label.startswith("call "):
                st = "not-reached"
        elif n.shape == "mi":
            for name, s in by_name.items():
                if n.label.startswith(name + " ≡ "):
                    st = s
                    break
            else:
                st = "not-reached"
        elif n.shape == "event":
            for sig, s in wait_status.items():
                if n.label == f"wait signal {sig}" or n.label.startswith(f"wait signal {sig} → "):
                    st = s
                    break
            else:
                st = "not-reached"
        elif n.shape == "start":
            st = "done" if events else "not-reached"
        elif n.shape == "end":
            st = "done" if "case_completed" in kinds else "not-reached"
        elif n.shape == "terminate":
            st = "done" if "terminated" in kinds else "not-reached"
        if st is not None:
            status[n.id] = st
            mapped.add(n.id)
    fwd = _forward(d, _members(d))
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for s, t in fwd:
        succ.setdefault(s, []).append(t)
        pred.setdefault(t, []).append(s)
    # F: unmapped nodes the flow reached from a done node through unmapped nodes
    reach_f = _closure(
        [t for s in mapped if status[s] == "done" for t in succ.get(s, []) if t not in mapped],
        succ,
        mapped,
    )
    # B: unmapped nodes from which the flow went on to a reached node
    reach_b = _closure(
        [p for s in mapped if status[s] in _REACHED for p in pred.get(s, []) if p not in mapped],
        pred,
        mapped,
    )
    left = {None: "waiting", "done": "done"}.get(tl.final, "cancelled")
    for n in d.nodes:
        if n.id in mapped:
            continue
        if n.id in reach_f:
            status[n.id] = "done" if n.id in reach_b else left
        else:
            status[n.id] = "not-reached"
    return status


def _closure(seeds: Iterable[str], nxt: dict[str, list[str]], stop: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(seeds)
    while stack:
        v = stack.pop()
        if v in seen or v in stop:
            continue
        seen.add(v)
        stack += nxt.get(v, [])
    return seen


# ---------------------------------------------------------------------------
# layout


def _layers(ids: list[str], fwd: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering (Kahn order); nodes left on a cycle go below the rest."""
    indeg = dict.fromkeys(ids, 0)
    succ: dict[str, list[str]] = {}
    for s, t in fwd:
        if s in indeg and t in indeg and s != t:
            succ.setdefault(s, []).append(t)
            indeg[t] += 1
    layer = dict.fromkeys(ids, 0)
    queue = [v for v in ids if indeg[v] == 0]
    done: set[str] = set()
    while queue:
        v = queue.pop()
        done.add(v)
        for t in succ.get(v, []):
            layer[t] = max(layer[t], layer[v] + 1)
            indeg[t] -= 1
            if indeg[t] == 0:
                queue.append(t)
    bottom = max(layer.values(), default=0) + 1
    for v in ids:
        if v not in done:
            layer[v] = bottom
            bottom += 1
    return layer


class _Layout:
    """Positions of nodes (centres) and of the bends of edges spanning layers."""

    def __init__(self, d: Diagram) -> None:
        members = _members(d)
        ids = [n.id for n in d.nodes]
        self.width_of = {n.id: _node_width(n.label, n.shape) for n in d.nodes}
        fwd = [(s, t) for s, t in _forward(d, members) if s != t]
        layer = _layers(ids, fwd)
        # dummy points on long edges: edge index -> its chain of points
        self.chains: dict[tuple[str, str], list[str]] = {}
        rows: dict[int, list[str]] = {}
        for v in ids:
            rows.setdefault(layer[v], []).append(v)
        adj_up: dict[str, list[str]] = {}
        for s, t in dict.fromkeys(fwd):
            ls, lt = layer[s], layer[t]
            chain = [s]
            if lt > ls + 1:
                for k in range(ls + 1, lt):
                    dummy = f"d{len(self.width_of)}"
                    self.width_of[dummy] = 8.0
                    layer[dummy] = k
                    rows.setdefault(k, []).append(dummy)
                    chain.append(dummy)
            chain.append(t)
            self.chains[(s, t)] = chain
            for a, b in zip(chain, chain[1:], strict=False):
                if layer[b] > layer[a]:
                    adj_up.setdefault(b, []).append(a)
        adj_down: dict[str, list[str]] = {}
        for b, ups in adj_up.items():
            for a in ups:
                adj_down.setdefault(a, []).append(b)
        order = [rows[k] for k in sorted(rows)]
        pos = {v: float(i) for row in order for i, v in enumerate(row)}
        for sweep in range(4):
            down = sweep % 2 == 0
            seq = order[1:] if down else list(reversed(order[:-1]))
            nbrs = adj_up if down else adj_down
            for row in seq:
                bary = {}
                for v in row:
                    ns = nbrs.get(v, [])
                    bary[v] = sum(pos[u] for u in ns) / len(ns) if ns else pos[v]
                row.sort(key=lambda v: bary[v])
                for i, v in enumerate(row):
                    pos[v] = float(i)
        # x: pack each row, then pull nodes towards their upper neighbours
        self.x: dict[str, float] = {}
        self.y: dict[str, float] = {}
        for k, row in enumerate(order):
            x = 0.0
            for v in row:
                w = self.width_of[v]
                self.x[v] = x + w / 2
                self.y[v] = _MARGIN + 20 + k * _LAYER_H
                x += w + _GAP
        for _ in range(3):
            for row in order[1:]:
                want = []
                for v in row:
                    ns = adj_up.get(v, [])
                    want.append(sum(self.x[u] for u in ns) / len(ns) if ns else self.x[v])
                prev_right = -1e18
                for v, wx in zip(row, want, strict=True):
                    half = self.width_of[v] / 2
                    self.x[v] = max(wx, prev_right + _GAP + half)
                    prev_right = self.x[v] + half
        left = min((self.x[v] - self.width_of[v] / 2 for v in self.x), default=0.0)
        for v in self.x:
            self.x[v] += _MARGIN - left
        self.width = max((self.x[v] + self.width_of[v] / 2 for v in self.x), default=0.0)
        self.width += _MARGIN
        self.height = (len(order) - 1) * _LAYER_H + _NODE_H + 2 * _MARGIN + 24


def _node_width(label: str, shape: str) -> float:
    if shape in ("start", "end", "halt"):
        return 24.0
    w = 16 + 6.6 * min(len(label), 32)
    return max(w, 56.0) + (20.0 if shape == "gateway" else 0.0)


def _clip(s: str, n: int = 32) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


_GRAPH_CSS = """
.wf-graph text{font:11px system-ui,sans-serif;fill:#222}
.wf-graph .edge{stroke:#777;fill:none;stroke-width:1.2}
.wf-graph .edge.dashed{stroke-dasharray:5 3}.wf-graph .edge.back{stroke:#aaa}
.wf-graph .elabel{fill:#555;font-size:10px}
.wf-graph .node .shape{stroke:#555;stroke-width:1.2;fill:#fff}
.wf-graph .node.done .shape{fill:#c8e6c9;stroke:#2e7d32}
.wf-graph .node.running .shape{fill:#bbdefb;stroke:#1565c0;stroke-width:2.5}
.wf-graph .node.waiting .shape{fill:#ffe082;stroke:#e65100;stroke-width:2.5}
.wf-graph .node.cancelled .shape{fill:#e0e0e0;stroke:#616161;stroke-dasharray:4 2}
.wf-graph .node.failed .shape{fill:#ffcdd2;stroke:#b71c1c;stroke-width:2.5}
.wf-graph .node.not-reached .shape{fill:#fff;stroke:#bbb}
.wf-graph .node.not-reached text{fill:#999}
.wf-graph .node.start .shape,.wf-graph .node.end .shape{fill:#333}
.wf-graph .node.start.not-reached .shape,.wf-graph .node.end.not-reached .shape{fill:#ddd}
.wf-graph .cluster{fill:#f2f6ff;stroke:#90a4c8;stroke-dasharray:6 3}
.wf-graph .cluster.mi{fill:#f2fff2;stroke:#7cb87c;stroke-dasharray:none}
.wf-graph .cluster.cancelled{fill:#eeeeee;stroke:#e65100}
.wf-graph .clabel{font-size:10px;fill:#456}
.wf-graph .node:hover .shape{stroke:#000;stroke-width:2}
"""


def _shape(shape: str, cx: float, cy: float, w: float) -> str:
    h = _NODE_H
    x0, y0 = cx - w / 2, cy - h / 2
    if shape in ("start", "end", "halt"):
        extra = (
            f'<circle class="shape" cx="{cx:.1f}" cy="{cy:.1f}" r="11" '
            'style="fill:none;stroke-width:1"/>'
            if shape == "end"
            else ""
        )
        r = 8 if shape == "end" else 10
        return f'<circle class="shape" cx="{cx:.1f}" cy="{cy:.1f}" r="{r}"/>{extra}'
    if shape == "gateway":
        pts = f"{cx:.1f},{y0:.1f} {x0 + w:.1f},{cy:.1f} {cx:.1f},{y0 + h:.1f} {x0:.1f},{cy:.1f}"
        return f'<polygon class="shape" points="{pts}"/>'
    if shape == "event":
        pts = (
            f"{x0:.1f},{y0:.1f} {x0 + w - 10:.1f},{y0:.1f} {x0 + w:.1f},{cy:.1f} "
            f"{x0 + w - 10:.1f},{y0 + h:.1f} {x0:.1f},{y0 + h:.1f}"
        )
        return f'<polygon class="shape" points="{pts}"/>'
    if shape == "terminate":
        c = 8.0
        pts = " ".join(
            f"{px:.1f},{py:.1f}"
            for px, py in (
                (x0 + c, y0),
                (x0 + w - c, y0),
                (x0 + w, cy),
                (x0 + w - c, y0 + h),
                (x0 + c, y0 + h),
                (x0, cy),
            )
        )
        return f'<polygon class="shape" points="{pts}"/>'
    rx = 12 if shape == "effect" else 3
    out = (
        f'<rect class="shape" x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" '
        f'rx="{rx}"/>'
    )
    if shape == "mi":
        out = (
            f'<rect class="shape" x="{x0 + 6:.1f}" y="{y0 - 6:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="3"/>'
            f'<rect class="shape" x="{x0 + 3:.1f}" y="{y0 - 3:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="3"/>' + out
        )
    return out


def graph_svg(term: Term, events: Sequence[TraceEvent]) -> str:
    """The graph of ``term`` with the progress ``events`` record, as one ``<svg>``.

    Each node is a ``<g class="node SHAPE STATUS">`` with ``data-id``,
    ``data-label``, ``data-shape`` and ``data-status`` and a ``<title>``;
    regions and composite ``mi`` bodies are boxes (``<rect class="cluster
    region|mi [cancelled|entered]">``) around their nodes; dashed edges are
    cancellation paths, grey ones loops' back edges.

    Raises:
        TermTypeError: ``term`` is not a workflow term.
    """
    d = diagram(term)
    status = _status(d, events)
    lay = _Layout(d)
    members = _members(d)
    region_state: dict[str, str] = {}
    for ev in events:
        if ev.kind == "region_entered" and isinstance(ev.name, str):
            region_state.setdefault(ev.name, "entered")
        elif ev.kind == "region_cancelled" and isinstance(ev.name, str):
            region_state[ev.name] = "cancelled"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wf-graph" '
        f'viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" width="{lay.width:.0f}" '
        f'height="{lay.height:.0f}" role="img" aria-label="workflow graph">',
        "<title>workflow graph with the case's progress</title>",
        f"<style>{_GRAPH_CSS}</style>",
        '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#777"/></marker></defs>',
    ]
    # clusters, outermost first (a parent is declared before its children)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    depth = {c.id: 0 for c in d.clusters}
    parent = {c.id: c.parent for c in d.clusters}
    for c in d.clusters:
        p = c.parent
        while p is not None:
            depth[c.id] += 1
            p = parent.get(p)
    for c in sorted(d.clusters, key=lambda c: depth[c.id]):
        ns = members.get(c.id, [])
        if not ns:
            continue
        pad = 14.0 - min(depth[c.id], 4) * 2
        x0 = min(lay.x[v] - lay.width_of[v] / 2 for v in ns) - pad
        x1 = max(lay.x[v] + lay.width_of[v] / 2 for v in ns) + pad
        y0 = min(lay.y[v] for v in ns) - _NODE_H / 2 - pad - 6
        y1 = max(lay.y[v] for v in ns) + _NODE_H / 2 + pad
        boxes[c.id] = (x0, y0, x1, y1)
        sid = c.label[len("region ") :] if c.kind == "region" else ""
        st = region_state.get(sid, "") if c.kind == "region" else ""
        out.append(
            f'<g class="cluster-box"><rect class="cluster {c.kind} {st}" x="{x0:.1f}" '
            f'y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" rx="6"'
            f' data-id="{esc(c.id)}" data-label="{esc(c.label)}" data-status="{st or "-"}">'
            f"<title>{esc(c.label)}{esc(': ' + st if st else '')}</title></rect>"
            f'<text class="clabel" x="{x0 + 5:.1f}" y="{y0 + 10:.1f}">{esc(_clip(c.label, 48))}'
            "</text></g>"
        )
    for e in d.edges:
        cls = "edge" + (" dashed" if e.dashed else "") + (" back" if e.back else "")
        if e.from_cluster and e.src in boxes:
            x0, _, x1, y1 = boxes[e.src]
            sx, sy = (x0 + x1) / 2, y1
        elif e.src in lay.x:
            sx, sy = lay.x[e.src], lay.y[e.src] + _NODE_H / 2
        else:
            continue
        tx, ty = lay.x[e.dst], lay.y[e.dst] - _NODE_H / 2
        if e.back:
            # up the right side of both ends
            bx = max(sx + lay.width_of.get(e.src, 0) / 2, tx + lay.width_of[e.dst] / 2) + 24
            sy2, ty2 = lay.y.get(e.src, sy), lay.y[e.dst]
            sxr = sx + lay.width_of.get(e.src, 0) / 2
            txr = tx + lay.width_of[e.dst] / 2
            path = (
                f"M{sxr:.1f},{sy2:.1f} C{bx:.1f},{sy2:.1f} {bx:.1f},{ty2:.1f} {txr:.1f},{ty2:.1f}"
            )
            lx, ly = bx, (sy2 + ty2) / 2
        else:
            chain = lay.chains.get((e.src, e.dst), [])
            pts = [(sx, sy)] + [(lay.x[v], lay.y[v]) for v in chain[1:-1]] + [(tx, ty)]
            path = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            lx, ly = (pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2
        out.append(f'<path class="{cls}" d="{path}" marker-end="url(#wf-arrow)"/>')
        if e.label:
            out.append(
                f'<text class="elabel" x="{lx + 4:.1f}" y="{ly:.1f}">{esc(_clip(e.label, 24))}'
                f"<title>{esc(e.label)}</title></text>"
            )
    for n in d.nodes:
        st = status[n.id]
        cx, cy, w = lay.x[n.id], lay.y[n.id], lay.width_of[n.id]
        label = "" if n.shape in ("start", "end", "halt") else _clip(n.label)
        out.append(
            f'<g class="node {n.shape} {st}" data-id="{esc(n.id)}" data-label="{esc(n.label)}" '
            f'data-shape="{n.shape}" data-status="{st}">'
            f"<title>{esc(n.label)}: {st}</title>"
            + _shape(n.shape, cx, cy, w)
            + (
                f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle">{esc(label)}</text>'
                if label
                else ""
            )
            + "</g>"
        )
    out.append("</svg>")
    return "\n".join(out)
