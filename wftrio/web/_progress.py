"""A workflow's graph with one case's progress on it, as JSON (``GET /api/cases/{id}/graph``).

The graph is :func:`wftrio.graph.diagram` of the case's workflow term; the
progress of each node is read off the case's trace events:

* a task or effect node is ``running`` while an effect of that name is in
  flight, else ``done`` / ``failed`` / ``cancelled`` after its latest
  outcome, else ``pending``;
* a ``wait signal`` node is ``waiting`` while a token waits for the signal
  (recorded at trace level ``"full"``), ``done`` once one was consumed;
* ``start`` is done once the case started; ``end`` takes the case's final
  state (``done``, ``failed``, ``cancelled``).

A finished case has nothing running or waiting: such nodes show ``cancelled``
(their work was withdrawn).  Nodes are matched by task and signal name, so
two tasks of one name share their progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from wftrio.graph import diagram
from wftrio.stores._outside import waits_of
from wftrio.terms import Term
from wftrio.trace import TraceEvent

__all__ = ["NODE_STATES", "graph_json", "node_progress"]

NODE_STATES = ("pending", "running", "waiting", "done", "failed", "cancelled")
"""The progress a node can show."""

_OUTCOME = {
    "task_completed": "done",
    "effect_completed": "done",
    "task_failed": "failed",
    "effect_failed": "failed",
    "effect_cancelled": "cancelled",
}
_END = {"case_completed": "done", "case_failed": "failed", "case_cancelled": "cancelled"}


def _task_states(events: Sequence[TraceEvent]) -> tuple[dict[str, str], str | None]:
    last: dict[str, str] = {}
    in_flight: dict[Any, str] = {}
    end = None
    for ev in events:
        kind = ev.kind
        if kind == "effect_requested":
            in_flight[ev.data.get("eid")] = str(ev.name)
        elif kind in _OUTCOME:
            if kind.startswith("effect_"):
                in_flight.pop(ev.data.get("eid"), None)
            last[str(ev.name)] = _OUTCOME[kind]
        elif kind == "signal_consumed":
            last["\0signal " + str(ev.name)] = "done"
        elif kind in _END:
            end = _END[kind]
    for name in in_flight.values():
        last[name] = "running"
    for phrase in waits_of(events):
        if phrase.startswith("signal "):
            last["\0signal " + phrase.split()[1]] = "waiting"
    if end is not None:
        last = {k: ("cancelled" if v in ("running", "waiting") else v) for k, v in last.items()}
    return last, end


def node_progress(term: Term, events: Sequence[TraceEvent]) -> dict[str, str]:
    """The progress (one of :data:`NODE_STATES`) of each node of ``diagram(term)``, by node id."""
    d = diagram(term)
    states, end = _task_states(events)
    names = sorted((k for k in states if not k.startswith("\0")), key=len, reverse=True)
    out: dict[str, str] = {}
    for n in d.nodes:
        state = "pending"
        if n.shape == "start":
            state = "done" if events else "pending"
        elif n.shape == "end":
            state = end or "pending"
        elif n.shape in ("task", "effect"):
            state = states.get(n.label, "pending")
        elif n.shape == "mi":
            name = next((k for k in names if n.label.startswith(k + " ")), None)
            state = states.get(name, "pending") if name is not None else "pending"
        elif n.shape == "event" and n.label.startswith("wait signal "):
            signal = n.label[len("wait signal ") :].split(" → ")[0]
            state = states.get("\0signal " + signal, "pending")
        out[n.id] = state
    return out


def graph_json(term: Term, events: Sequence[TraceEvent]) -> dict[str, Any]:
    """``{"nodes": [...], "edges": [...], "clusters": [...]}``, each node with its ``progress``."""
    d = diagram(term)
    progress = node_progress(term, events)
    return {
        "nodes": [{**attrs.asdict(n), "progress": progress[n.id]} for n in d.nodes],
        "edges": [attrs.asdict(e) for e in d.edges],
        "clusters": [attrs.asdict(c) for c in d.clusters],
    }
