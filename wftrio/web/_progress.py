"""A workflow's graph with one case's progress on it, as JSON (``GET /api/cases/{id}/graph``).

The graph is :func:`wftrio.graph.diagram` of the case's workflow term; each
node's progress is the status the graph picture shows
(:func:`wftrio.web._timeline_status.node_status`: ``done``, ``running``,
``waiting``, ``cancelled``, ``failed`` or ``not-reached``), so the JSON and
the SVG never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from wftrio.graph import diagram
from wftrio.terms import Term
from wftrio.trace import TraceEvent
from wftrio.web._timeline_status import node_status

__all__ = ["graph_json"]


def graph_json(term: Term, events: Sequence[TraceEvent]) -> dict[str, Any]:
    """``{"nodes": [...], "edges": [...], "clusters": [...]}``, each node with its ``progress``."""
    d = diagram(term)
    progress = node_status(term, d, events)
    return {
        "nodes": [
            {**attrs.asdict(n), "progress": progress.get(n.id, "not-reached")} for n in d.nodes
        ],
        "edges": [attrs.asdict(e) for e in d.edges],
        "clusters": [attrs.asdict(c) for c in d.clusters],
    }
