"""Diagrams of workflow terms: Mermaid flowcharts and Graphviz dot.

People would rather look at a workflow than read it.  :func:`diagram` turns
a term into a small graph model (nodes, edges, clusters) and
:func:`to_mermaid` / :func:`to_dot` render it; ``wftrio graph TARGET
--format mermaid|dot`` prints the same.

What the picture shows:

* a task is a box (an effect, i.e. an ``async def`` task, a rounded box);
* ``par``/``join``/``choice``/``xor``/``defer`` are a split gateway and a
  join (or merge) gateway, both diamonds: the split is labelled with the
  constructor, the join with its policy (``all``, ``first(2)``,
  ``sync merge``, ``merge``); branch edges carry their condition's name,
  ``default``, ``signal NAME`` or ``after Ns``;
* a loop is an entry gateway, its body and a test gateway with a back edge
  to the entry (``again`` / ``true`` / ``false`` as the policy says);
* ``wait_signal`` is an event node; ``terminate`` an end node of its own;
* a ``region`` is a subgraph (cluster) with a dashed ``on cancel`` edge to
  its compensation (or, without one, to what follows it);
* ``mi`` is a marked node (``≡`` and its spec) when its body is one task,
  otherwise a subgraph with that marker in its title.

The graph is drawn from the term, not from a run: it shows every path, not
the one a case took.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import attrs

from wftrio.algebra.trampoline import Recursive, trampoline
from wftrio.errors import TermTypeError
from wftrio.terms import (
    MI,
    After,
    Call,
    Defer,
    First,
    Halt,
    Join,
    Loop,
    OnSignal,
    Region,
    Seq,
    Task,
    Term,
    Terminate,
    Threads,
    WaitSignal,
    Xor,
)

__all__ = ["Cluster", "Diagram", "Edge", "Node", "diagram", "to_dot", "to_mermaid"]

Shape = Literal["start", "end", "task", "effect", "gateway", "event", "terminate", "halt", "mi"]


@attrs.frozen
class Node:
    """One node of a diagram.

    Attributes:
        id: unique within the diagram (``n0``, ``n1``, ...).
        label: the text shown.
        shape: ``start``, ``end``, ``task``, ``effect``, ``gateway``,
            ``event`` (a signal wait), ``terminate`` or ``mi`` (a task run
            as multiple instances).
        cluster: the id of the innermost cluster holding it, or ``None``.
    """

    id: str
    label: str
    shape: Shape
    cluster: str | None = None


@attrs.frozen
class Edge:
    """One edge of a diagram.

    Attributes:
        src: the source node id, or a cluster id when ``from_cluster``.
        dst: the target node id.
        label: the text on the edge (a condition, a trigger, a loop outcome).
        dashed: a cancellation path (``on cancel``, ``cancelled``).
        back: a loop's back edge.
        from_cluster: ``src`` is a cluster (the whole region is left).
    """

    src: str
    dst: str
    label: str = ""
    dashed: bool = False
    back: bool = False
    from_cluster: bool = False


@attrs.frozen
class Cluster:
    """A subgraph: a ``region`` or a composite ``mi`` body.

    Attributes:
        id: unique within the diagram (``c0``, ``c1``, ...).
        label: the title shown.
        kind: ``region`` or ``mi``.
        parent: the enclosing cluster's id, or ``None``.
    """

    id: str
    label: str
    kind: Literal["region", "mi"]
    parent: str | None = None


@attrs.frozen
class Diagram:
    """A term as a graph: what :func:`to_mermaid` and :func:`to_dot` render."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    clusters: tuple[Cluster, ...]

    def node(self, node_id: str) -> Node:
        """The node with id ``node_id``."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def labels(self, shape: str | None = None) -> list[str]:
        """The node labels (of one ``shape``), in drawing order."""
        return [n.label for n in self.nodes if shape is None or n.shape == shape]


# a pending edge: everything but the target, which the parent knows
_Exit = tuple[str, str, bool, bool]  # (src, label, dashed, from_cluster)
_Built = tuple[str, list[_Exit]]  # a drawn term: its entry node and its exits


def _fn(fn: Callable[..., Any] | None) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not isinstance(name, str):
        return repr(fn)
    return name.rsplit(".<locals>.", 1)[-1]  # a nested function by its own name


def _policy(policy: str | First) -> str:
    if isinstance(policy, First):
        extra = ", cancel_rest" if policy.cancel_rest else ", blocking" if policy.blocking else ""
        return f"first({policy.n}{extra})"
    return "all" if policy == "all" else "sync merge"


def _trigger(alt: OnSignal | After) -> str:
    if isinstance(alt, OnSignal):
        return f"signal {alt.name}"
    return f"after {alt.seconds:g}s"


def _mi_spec(term: MI) -> str:
    parts = []
    if term.count is not None:
        c = term.count
        parts.append(f"count={c if isinstance(c, int) else _fn(c)}")
    else:
        it = term.items
        parts.append(f"items={len(it)}" if isinstance(it, tuple) else f"items={_fn(it)}")
    j = term.join
    parts.append(f"join={_fn(j) if callable(j) else j}")
    if term.collect is not None:
        parts.append(f"collect={term.collect}")
    # the MI patterns' options (WCP-15, 27, 35, 36)
    if term.cancel_rest:
        parts.append("cancel_rest")
    if term.until is not None:
        parts.append(f"until={_fn(term.until)}")
    for arg in ("complete_on", "more_on", "close_on"):
        sig = getattr(term, arg)
        if sig is not None:
            parts.append(f"{arg}={sig}")
    return f"≡ mi({', '.join(parts)})"


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.clusters: list[Cluster] = []

    def node(self, label: str, shape: Shape, cluster: str | None) -> str:
        nid = f"n{len(self.nodes)}"
        self.nodes.append(Node(nid, label, shape, cluster))
        return nid

    def cluster(self, label: str, kind: Literal["region", "mi"], parent: str | None) -> str:
        cid = f"c{len(self.clusters)}"
        self.clusters.append(Cluster(cid, label, kind, parent))
        return cid

    def connect(self, exits: list[_Exit], dst: str, *, back: bool = False) -> None:
        for src, label, dashed, from_cluster in exits:
            self.edges.append(Edge(src, dst, label, dashed, back, from_cluster))

    def edge(self, src: str, dst: str, label: str = "") -> None:
        self.edges.append(Edge(src, dst, label))

    def split(
        self,
        kind: str,
        merge: str,
        branches: list[tuple[str, Term]],
        cl: str | None,
    ) -> Recursive[_Built]:
        """A split gateway, its labelled branches and their join/merge gateway."""
        g = self.node(kind, "gateway", cl)
        built = []
        for label, t in branches:
            entry, exits = yield (t, cl)
            self.edge(g, entry, label)
            built.append(exits)
        j = self.node(merge, "gateway", cl)
        for exits in built:
            self.connect(exits, j)
        return g, [(j, "", False, False)]

    def build(self, term: Term, cl: str | None) -> _Built:
        """Draw ``term`` inside cluster ``cl``; return its entry node and exits.

        Any depth of nesting: the recursion runs on an explicit stack.
        """
        return trampoline(self._build, term, cl)

    def _build(self, term: Term, cl: str | None) -> Recursive[_Built]:
        # a generator: ``yield (t, cl)`` stands for ``self.build(t, cl)``
        match term:
            case Task(name=name, is_effect=is_effect):
                n = self.node(name, "effect" if is_effect else "task", cl)
                return n, [(n, "", False, False)]
            case Seq(terms=terms):
                entry, exits = yield (terms[0], cl)
                for t in terms[1:]:
                    e, x = yield (t, cl)
                    self.connect(exits, e)
                    exits = x
                return entry, exits
            case Join(policy=policy, branches=branches):
                conds = any(b.cond is not None for b in branches)
                kind = "choice" if policy == "sync_merge" and conds else "par"
                labelled = [
                    (_fn(b.cond) if b.cond is not None else ("always" if conds else ""), b.term)
                    for b in branches
                ]
                return (yield from self.split(kind, _policy(policy), labelled, cl))
            case Xor(alternatives=alts):
                labelled = [
                    (_fn(a.cond) if a.cond is not None else "default", a.term) for a in alts
                ]
                return (yield from self.split("xor", "merge", labelled, cl))
            case Defer(alternatives=alts):
                labelled = [(_trigger(a), a.term) for a in alts]
                return (yield from self.split("defer", "merge", labelled, cl))
            case Loop(body=body, times=times, while_=while_, until=until):
                m = self.node("loop", "gateway", cl)
                if while_ is not None:
                    test = self.node(f"while {_fn(while_)}", "gateway", cl)
                    self.edge(m, test)
                    entry, exits = yield (body, cl)
                    self.edge(test, entry, "true")
                    self.connect(exits, m, back=True)
                    return m, [(test, "false", False, False)]
                entry, exits = yield (body, cl)
                self.edge(m, entry)
                if until is not None:
                    test = self.node(f"until {_fn(until)}", "gateway", cl)
                    again, done = "false", "true"
                else:
                    test = self.node(f"times={times}", "gateway", cl)
                    again, done = "again", "done"
                self.connect(exits, test)
                self.edges.append(Edge(test, m, again, back=True))
                return m, [(test, done, False, False)]
            case WaitSignal(name=name, store_as=store_as):
                label = f"wait signal {name}" + (f" → {store_as}" if store_as else "")
                n = self.node(label, "event", cl)
                return n, [(n, "", False, False)]
            case Region(scope_id=sid, term=body, compensate=comp):
                rc = self.cluster(f"region {sid}", "region", cl)
                entry, exits = yield (body, rc)
                if comp is None:
                    return entry, [*exits, (rc, "cancelled", True, True)]
                c_entry, c_exits = yield (comp, cl)
                self.edges.append(Edge(rc, c_entry, "on cancel", dashed=True, from_cluster=True))
                return entry, exits + c_exits
            case MI(body=Task(name=name)):
                n = self.node(f"{name} {_mi_spec(term)}", "mi", cl)
                return n, [(n, "", False, False)]
            case MI(body=body):
                mc = self.cluster(_mi_spec(term), "mi", cl)
                return (yield (body, mc))
            case Terminate():
                return self.node("terminate", "terminate", cl), []
            case Halt():  # the branch ends here: no edge to the join
                return self.node("halt", "halt", cl), []
            case Threads(n=n, body=body):
                return (yield from self.split("par", "merge", [(f"{n} threads", body)], cl))
            case Call(name=name):  # a sub-workflow (WCP-22): one box, not its body
                n = self.node(f"call {name}", "task", cl)
                return n, [(n, "", False, False)]
            case _:
                raise TermTypeError(f"diagram: {term!r} is not a workflow term")


def diagram(term: Term) -> Diagram:
    """Build the diagram of ``term``: a start node, the term, an end node.

    Raises:
        TermTypeError: ``term`` is not a workflow term.
    """
    if not isinstance(term, Term):
        raise TermTypeError(f"diagram: expected a workflow term, got {type(term).__name__}")
    b = _Builder()
    start = b.node("start", "start", None)
    entry, exits = b.build(term, None)
    b.edge(start, entry)
    end = b.node("end", "end", None)
    b.connect(exits, end)
    return Diagram(tuple(b.nodes), tuple(b.edges), tuple(b.clusters))


# ---------------------------------------------------------------------------
# rendering

_MAX_INDENT = 16  # deeper clusters are not indented further (the text stays linear in size)


def _nested(
    d: Diagram,
    node: Callable[[Node, str], list[str]],
    opening: Callable[[Cluster, str], list[str]],
    closing: str,
) -> list[str]:
    """The lines declaring every node inside its (nested) cluster, in drawing order.

    Each cluster's own nodes come first, then its sub-clusters, each
    between ``opening(cluster)`` and ``closing``.  An explicit stack, so
    clusters nest to any depth.
    """
    kids: dict[str | None, list[Cluster]] = {}
    for c in d.clusters:
        kids.setdefault(c.parent, []).append(c)
    members: dict[str | None, list[Node]] = {}
    for n in d.nodes:
        members.setdefault(n.cluster, []).append(n)
    out: list[str] = []
    # items: a line to write, or (cluster id, depth) to expand
    stack: list[str | tuple[str | None, int]] = [(None, 1)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        cluster, depth = item
        indent = "    " * min(depth, _MAX_INDENT)
        for n in members.get(cluster, []):
            out += node(n, indent)
        for c in reversed(kids.get(cluster, [])):
            stack.append(f"{indent}{closing}")
            stack.append((c.id, depth + 1))
            stack.extend(reversed(opening(c, indent)))
    return out


# ---------------------------------------------------------------------------
# Mermaid

_MERMAID_SHAPES: dict[str, tuple[str, str]] = {
    "start": ("((", "))"),
    "end": ("(((", ")))"),
    "task": ("[", "]"),
    "effect": ("([", "])"),
    "gateway": ("{", "}"),
    "event": (">", "]"),
    "terminate": ("{{", "}}"),
    "halt": ("((", "))"),
    "mi": ("[[", "]]"),
}
_MERMAID_CLASSES = {
    "effect": "fill:#e0f4ff,stroke:#1b6fa8",
    "gateway": "fill:#fff6d6,stroke:#a8861b",
    "event": "fill:#f6e6ff,stroke:#7b3fa8",
    "terminate": "fill:#ffe0e0,stroke:#a81b1b",
    "mi": "fill:#e6ffe6,stroke:#2e8b2e",
}


def _mermaid_text(s: str) -> str:
    return (
        s.replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("|", "#124;")
    )


def to_mermaid(term: Term | Diagram) -> str:
    """Render ``term`` (or a :class:`Diagram`) as a Mermaid flowchart.

    Regions and composite ``mi`` bodies are ``subgraph`` blocks; every node
    is declared inside its subgraph before any edge is drawn, so Mermaid
    puts each node where it belongs.
    """
    d = term if isinstance(term, Diagram) else diagram(term)
    out = ["flowchart TD"]

    def node(n: Node, indent: str) -> list[str]:
        left, right = _MERMAID_SHAPES[n.shape]
        return [f'{indent}{n.id}{left}"{_mermaid_text(n.label)}"{right}']

    def opening(c: Cluster, indent: str) -> list[str]:
        return [f'{indent}subgraph {c.id}["{_mermaid_text(c.label)}"]']

    out += _nested(d, node, opening, "end")
    for e in d.edges:
        arrow = "-.->" if e.dashed else "-->"
        label = f'|"{_mermaid_text(e.label)}"|' if e.label else ""
        out.append(f"    {e.src} {arrow}{label} {e.dst}")
    for shape, style in _MERMAID_CLASSES.items():
        ids = [n.id for n in d.nodes if n.shape == shape]
        if ids:
            out.append(f"    classDef {shape} {style}")
            out.append(f"    class {','.join(ids)} {shape}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Graphviz dot

_DOT_SHAPES: dict[str, str] = {
    "start": 'shape=circle, label="", width=0.3, style=filled, fillcolor=black',
    "end": 'shape=doublecircle, label="", width=0.25, style=filled, fillcolor=black',
    "task": "shape=box",
    "effect": 'shape=box, style="rounded,filled", fillcolor="#e0f4ff"',
    "gateway": 'shape=diamond, style=filled, fillcolor="#fff6d6"',
    "event": 'shape=cds, style=filled, fillcolor="#f6e6ff"',
    "terminate": 'shape=octagon, style=filled, fillcolor="#ffe0e0"',
    "halt": "shape=circle, width=0.3",
    "mi": 'shape=box3d, style=filled, fillcolor="#e6ffe6"',
}


def _dot_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(term: Term | Diagram) -> str:
    """Render ``term`` (or a :class:`Diagram`) as a Graphviz ``digraph``.

    Regions and composite ``mi`` bodies are ``cluster_*`` subgraphs; an edge
    leaving a whole region (``on cancel``) starts at the cluster's border
    (``compound=true`` with ``ltail``).
    """
    d = term if isinstance(term, Diagram) else diagram(term)
    out = [
        "digraph workflow {",
        "    rankdir=TB;",
        "    compound=true;",
        '    graph [fontname="Helvetica", fontsize=11];',
        '    node [fontname="Helvetica", fontsize=11];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    # a node inside each cluster (transitively) to anchor edges leaving it
    anchor: dict[str, str] = {}
    parent = {c.id: c.parent for c in d.clusters}
    for n in d.nodes:
        cid = n.cluster
        while cid is not None and cid not in anchor:  # an anchored cluster's parents are too
            anchor[cid] = n.id
            cid = parent[cid]

    def node(n: Node, indent: str) -> list[str]:
        label = "" if n.shape in ("start", "end") else f'label="{_dot_text(n.label)}", '
        return [f"{indent}{n.id} [{label}{_DOT_SHAPES[n.shape]}];"]

    def opening(c: Cluster, indent: str) -> list[str]:
        style = "dashed" if c.kind == "region" else "bold"
        return [
            f"{indent}subgraph cluster_{c.id} {{",
            f'{indent}    label="{_dot_text(c.label)}";',
            f"{indent}    style={style};",
        ]

    out += _nested(d, node, opening, "}")
    for e in d.edges:
        attrs_: list[str] = []
        src = e.src
        if e.from_cluster:
            src = anchor[e.src]
            attrs_.append(f"ltail=cluster_{e.src}")
        if e.label:
            attrs_.append(f'label="{_dot_text(e.label)}"')
        if e.dashed:
            attrs_.append("style=dashed")
        if e.back:
            attrs_.append("constraint=false")
        tail = f" [{', '.join(attrs_)}]" if attrs_ else ""
        out.append(f"    {src} -> {e.dst}{tail};")
    out.append("}")
    return "\n".join(out) + "\n"
