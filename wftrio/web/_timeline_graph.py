"""The workflow graph of a case, laid out in layers, with the case's progress.

:func:`graph_svg` takes the diagram model of :func:`wftrio.graph.diagram`
(nodes, edges, clusters), lays it out top to bottom with a small
Sugiyama-style layout (longest-path layers over the forward edges, dummy
points on edges that span layers, barycentre ordering sweeps keeping each
cluster's nodes together, x positions pulled towards each node's
predecessors, nodes beside a cluster pushed clear of its box), and draws it
as SVG, each node classed by its status (``done``, ``running``,
``waiting``, ``cancelled``, ``failed``, ``not-reached``): how the trace
decides it is in :mod:`wftrio.web._timeline_status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wftrio.graph import Diagram, diagram
from wftrio.trace import TraceEvent
from wftrio.web._timeline import esc
from wftrio.web._timeline_status import STATUSES, node_status
from wftrio.web._timeline_status import members as members_of

if TYPE_CHECKING:
    from wftrio.terms import Term

__all__ = ["STATUSES", "graph_svg"]

_LAYER_H = 74.0
_NODE_H = 30.0
_GAP = 26.0
_MARGIN = 24.0


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
    """Positions of nodes (centres) and of the bends of edges spanning layers.

    Sugiyama-style: longest-path layers over the forward edges; dummy points
    on edges spanning layers; four barycentre sweeps ordering each layer
    (nodes of one cluster kept together, so a region's box holds only its
    own nodes); x packed in order and pulled towards the nodes above; then
    nodes beside a cluster pushed clear of its box.
    """

    def __init__(self, d: Diagram) -> None:
        members = members_of(d)
        parent = {c.id: c.parent for c in d.clusters}
        ids = [n.id for n in d.nodes]
        self.width_of = {n.id: _node_width(n.label, n.shape) for n in d.nodes}
        self.chain_of: dict[str, tuple[str, ...]] = {}  # clusters around, outermost first
        for n in d.nodes:
            chain: list[str] = []
            cid = n.cluster
            while cid is not None:
                chain.append(cid)
                cid = parent.get(cid)
            self.chain_of[n.id] = tuple(reversed(chain))
        # layers: an edge leaving a cluster leaves each of its nodes
        layer = _layers(
            ids,
            [
                (s, e.dst)
                for e in d.edges
                if not e.back
                for s in (members.get(e.src, []) if e.from_cluster else [e.src])
                if s != e.dst
            ],
        )
        # the edges drawn: one leaving a cluster starts at its lowest node
        self.exit_of: dict[str, str] = {}  # cluster -> that node
        fwd: list[tuple[str, str]] = []
        for e in d.edges:
            if e.back:
                continue
            src = e.src
            if e.from_cluster:
                inside = members.get(e.src, [])
                if not inside:
                    continue
                src = max(inside, key=lambda v: layer[v])
                self.exit_of[e.src] = src
            if src != e.dst:
                fwd.append((src, e.dst))
        self.chains: dict[tuple[str, str], list[str]] = {}  # an edge's points, ends included
        rows: dict[int, list[str]] = {}
        for v in ids:
            rows.setdefault(layer[v], []).append(v)
        up: dict[str, list[str]] = {}
        for s, t in dict.fromkeys(fwd):
            ls, lt = layer[s], layer[t]
            points = [s]
            common = _common(self.chain_of[s], self.chain_of[t])
            for k in range(ls + 1, lt):
                dummy = f"d{len(self.width_of)}"
                self.width_of[dummy] = 8.0
                self.chain_of[dummy] = common
                layer[dummy] = k
                rows.setdefault(k, []).append(dummy)
                points.append(dummy)
            points.append(t)
            self.chains[(s, t)] = points
            for a, b in zip(points, points[1:], strict=False):
                if layer[b] > layer[a]:
                    up.setdefault(b, []).append(a)
        down: dict[str, list[str]] = {}
        for b, ups in up.items():
            for a in ups:
                down.setdefault(a, []).append(b)
        self.order = [rows[k] for k in sorted(rows)]
        # room for the label of the edge coming in (a split's branch condition or trigger)
        self.room: dict[str, float] = {}
        for e in d.edges:
            if e.label and not e.back:
                pts = self.chains.get((self.exit_of.get(e.src, e.src), e.dst), [e.dst])
                v = pts[1] if len(pts) > 2 else e.dst  # the edge's first bend, else its target
                need = 6.0 * len(_clip(e.label, 24)) + 14
                self.room[v] = max(self.room.get(v, 0.0), self.width_of[v], need)
        self._sweep(up, down)
        self.x: dict[str, float] = {}
        self.y: dict[str, float] = {}
        self._place(up)
        self._clear_clusters(d)
        left = min((self.x[v] - self.width_of[v] / 2 for v in self.x), default=0.0)
        for v in self.x:
            self.x[v] += _MARGIN - left
        self.width = max((self.x[v] + self.width_of[v] / 2 for v in self.x), default=0.0)
        self.width += _MARGIN
        self.height = (len(self.order) - 1) * _LAYER_H + _NODE_H + 2 * _MARGIN + 24

    def _sweep(self, up: dict[str, list[str]], down: dict[str, list[str]]) -> None:
        pos = {v: float(i) for row in self.order for i, v in enumerate(row)}
        for sweep in range(4):
            downwards = sweep % 2 == 0
            rows = self.order[1:] if downwards else list(reversed(self.order[:-1]))
            nbrs = up if downwards else down
            for row in rows:
                bary: dict[str, float] = {}
                for v in row:
                    ns = nbrs.get(v, [])
                    bary[v] = sum(pos[u] for u in ns) / len(ns) if ns else pos[v]
                # a cluster's nodes sort together, at their mean barycentre
                total: dict[str, list[float]] = {}
                for v in row:
                    for c in self.chain_of[v]:
                        total.setdefault(c, []).append(bary[v])
                mean = {c: sum(b) / len(b) for c, b in total.items()}

                row.sort(key=lambda v: (*(mean[c] for c in self.chain_of[v]), bary[v]))  # noqa: B023
                for i, v in enumerate(row):
                    pos[v] = float(i)

    def _place(self, up: dict[str, list[str]]) -> None:
        """Pack each layer left to right, then pull nodes towards those above them."""
        for k, row in enumerate(self.order):
            x = 0.0
            for v in row:
                w = self.room.get(v, self.width_of[v])
                self.x[v] = x + w / 2
                self.y[v] = _MARGIN + 20 + k * _LAYER_H
                x += w + _GAP
        for _ in range(3):
            for row in self.order[1:]:
                prev_right = -1e18
                for v in row:
                    ns = up.get(v, [])
                    want = sum(self.x[u] for u in ns) / len(ns) if ns else self.x[v]
                    half = self.room.get(v, self.width_of[v]) / 2
                    self.x[v] = max(want, prev_right + _GAP + half)
                    prev_right = self.x[v] + half

    def _clear_clusters(self, d: Diagram) -> None:
        """Push the nodes beside each cluster (innermost first) clear of its box."""
        depth = {c.id: 0 for c in d.clusters}
        for c in d.clusters:
            p = c.parent
            while p is not None:
                depth[c.id] += 1
                p = next(x.parent for x in d.clusters if x.id == p)
        margin = 18.0 + _GAP / 2
        for c in sorted(d.clusters, key=lambda c: -depth[c.id]):
            spans = []  # (row, first member index, last member index)
            for row in self.order:
                idx = [i for i, v in enumerate(row) if c.id in self.chain_of[v]]
                if idx:
                    spans.append((row, idx[0], idx[-1]))
            if not spans:
                continue
            x0 = min(self.x[r[i]] - self.width_of[r[i]] / 2 for r, i, _ in spans)
            need = 0.0
            for row, lo, _ in spans:
                if lo > 0:
                    v = row[lo - 1]
                    need = max(need, self.x[v] + self.width_of[v] / 2 + margin - x0)
            if need > 0:
                for row, lo, _ in spans:
                    for v in row[lo:]:
                        self.x[v] += need
            x1 = max(self.x[r[j]] + self.width_of[r[j]] / 2 for r, _, j in spans)
            for row, _, hi in spans:
                if hi + 1 < len(row):
                    v = row[hi + 1]
                    gap = x1 + margin - (self.x[v] - self.width_of[v] / 2)
                    if gap > 0:
                        for u in row[hi + 1 :]:
                            self.x[u] += gap


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return a[:n]


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
.wf-graph .elabel{fill:#555;font-size:10px;paint-order:stroke;stroke:#fafafa;stroke-width:3px}
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
    status = node_status(term, d, events)
    lay = _Layout(d)
    members = members_of(d)
    region_state: dict[str, str] = {}
    for ev in events:
        if ev.kind == "region_entered" and isinstance(ev.name, str):
            region_state.setdefault(ev.name, "entered")
        elif ev.kind == "region_cancelled" and isinstance(ev.name, str):
            region_state[ev.name] = "cancelled"
    out = [
        "",  # the <svg> tag, written last: back edges may widen the picture
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
        anchor = "start"
        if e.from_cluster and e.src in boxes:
            x0, _, x1, y1 = boxes[e.src]
            sx, sy = (x0 + x1) / 2, y1
        elif e.src in lay.x:
            sx, sy = lay.x[e.src], lay.y[e.src] + _NODE_H / 2
        else:
            continue
        tx, ty = lay.x[e.dst], lay.y[e.dst] - _NODE_H / 2
        if e.back:
            # up the right side of everything between its ends
            sy2, ty2 = lay.y.get(e.src, sy), lay.y[e.dst]
            lo, hi = min(sy2, ty2), max(sy2, ty2)
            bx = 24 + max(lay.x[v] + lay.width_of[v] / 2 for v in lay.x if lo <= lay.y[v] <= hi)
            lay.width = max(lay.width, bx + 40)
            sxr = sx + lay.width_of.get(e.src, 0) / 2
            txr = tx + lay.width_of[e.dst] / 2
            r = min(12.0, abs(sy2 - ty2) / 2)
            path = (
                f"M{sxr:.1f},{sy2:.1f} L{bx - r:.1f},{sy2:.1f} Q{bx:.1f},{sy2:.1f} "
                f"{bx:.1f},{sy2 - r:.1f} L{bx:.1f},{ty2 + r:.1f} Q{bx:.1f},{ty2:.1f} "
                f"{bx - r:.1f},{ty2:.1f} L{txr:.1f},{ty2:.1f}"
            )
            lx, ly = bx, (sy2 + ty2) / 2
        else:
            chain = lay.chains.get((lay.exit_of.get(e.src, e.src), e.dst), [])
            pts = [(sx, sy)] + [(lay.x[v], lay.y[v]) for v in chain[1:-1]] + [(tx, ty)]
            path = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            # near the end of the first segment: a split's labels spread with its targets
            f = 0.7 if len(pts) == 2 else 0.5
            lx = pts[0][0] + (pts[1][0] - pts[0][0]) * f
            ly = pts[0][1] + (pts[1][1] - pts[0][1]) * f
            anchor, lx = "middle", lx - 4
        out.append(f'<path class="{cls}" d="{path}" marker-end="url(#wf-arrow)"/>')
        if e.label:
            out.append(
                f'<text class="elabel" x="{lx + 4:.1f}" y="{ly:.1f}" text-anchor="{anchor}">'
                f"{esc(_clip(e.label, 24))}<title>{esc(e.label)}</title></text>"
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
    out[0] = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wf-graph" '
        f'viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" width="{lay.width:.0f}" '
        f'height="{lay.height:.0f}" role="img" aria-label="workflow graph">'
    )
    return "\n".join(out)
