"""Which nodes of a workflow's diagram a case has reached, from its trace.

:func:`node_status` gives each node of :func:`wftrio.graph.diagram` one of
``done``, ``running``, ``waiting``, ``cancelled``, ``failed`` or
``not-reached``.  The trace names things three ways, and each node is
matched by what names it:

* **by task name** (``task_started``, ``task_completed``, receipts, ...): a
  task or effect box, and a multiple-instance node ``NAME ≡ mi(...)``.  The
  timeline's bars for that name decide (:mod:`wftrio.web._timeline_model`):
  one still running makes it ``running``, else the last one's outcome gives
  ``done`` (ok, retried, an approval's rejection), ``failed`` or
  ``cancelled``.  Two tasks with one name share a status: the trace names
  tasks, not nodes;
* **by signal name**: a ``wait signal NAME`` node is ``waiting`` while a
  token waits for the signal (``signal_waiting`` without its
  ``signal_consumed``), ``done`` once consumed, ``cancelled`` when the
  waiting token was withdrawn;
* **by node path** (``split``, ``join_arrived``/``join_fired``, ``choice``,
  ``loop_*``, ``mi_*`` events name the term's node path, e.g.
  ``seq[1].par``): the diagram's gateways are matched to the term's paths
  (:func:`gateway_paths` walks the term in the order the diagram draws it).
  A ``par``/``join``/``choice``/``threads`` split is ``done`` once its
  ``split`` is recorded, and only the branches the split took (its
  ``branches``) count as taken; its join is ``done`` once fired, and while
  branches have arrived but it has not fired it is ``waiting``; an ``xor``
  or ``defer`` split is ``done`` once its ``choice`` is recorded, and only
  the alternative picked counts as taken; a loop's gateways are ``done``
  once the loop recorded an iteration or its exit.

What no event names (a merge, a loop or deferred choice still in its first
round, a ``call``, ``halt``, and the gateways of a trace at level
``"min"``, which keeps no split or join events) is derived from its
neighbours: ``done`` when the flow reached it from a done node (through
taken branches and other such nodes only) and went on to a reached node;
reached but not left, ``waiting`` in an unfinished case (a deferred choice
waiting for its trigger), ``done`` in a completed one and ``cancelled`` in a
failed or cancelled one.  ``start`` is ``done`` once the case started,
``end`` once it completed, ``terminate`` once a ``terminated`` event is
recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from wftrio.algebra.nodes import node_label
from wftrio.graph import Diagram
from wftrio.terms import (
    MI,
    Call,
    Defer,
    Halt,
    Join,
    Loop,
    Region,
    Seq,
    Task,
    Term,
    Terminate,
    Threads,
    WaitSignal,
    Xor,
)
from wftrio.trace import MIN_KINDS, TraceEvent
from wftrio.web._timeline_model import build

__all__ = ["STATUSES", "gateway_paths", "members", "node_status"]

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

# a diagram node's role for its term: (path, role); roles of gateways:
# "fork"/"join" (par, join, choice, threads), "pick"/"merge" (xor, defer),
# "loop" (a loop's entry and test); other nodes: "node"
_Role = tuple[str, str]
_SHAPES = {
    "node": ("task", "effect", "event", "terminate", "halt", "mi"),
    "fork": ("gateway",),
    "join": ("gateway",),
    "pick": ("gateway",),
    "merge": ("gateway",),
    "loop": ("gateway",),
}


def gateway_paths(term: Term, d: Diagram) -> list[_Role] | None:
    """Each diagram node's ``(term path, role)``, in the diagram's node order.

    Walks ``term`` in the order :func:`wftrio.graph.diagram` draws it
    (start and end excluded: they get ``("", "node")``).  Returns ``None``
    when the walk and the diagram disagree (then nodes are matched by name
    only).
    """
    out: list[_Role] = [("", "node")]
    # items: (a term to walk, its path, "") or (None, a path, the role to emit)
    stack: list[tuple[Term | None, str, str]] = [(term, node_label(term), "")]
    while stack:
        t, here, role = stack.pop()
        if t is None:
            out.append((here, role))
            continue

        def kid(i: int, sub: Term, here: str = here) -> tuple[Term | None, str, str]:
            return sub, f"{here}[{i}].{node_label(sub)}", ""

        def emit(role: str, here: str = here) -> tuple[Term | None, str, str]:
            return None, here, role

        match t:
            case Seq(terms=terms):
                stack += [kid(i, s) for i, s in reversed(list(enumerate(terms)))]
            case Join(branches=branches):
                stack.append(emit("join"))
                stack += [kid(i, b.term) for i, b in reversed(list(enumerate(branches)))]
                stack.append(emit("fork"))
            case Threads(body=body):
                stack += [emit("join"), kid(0, body), emit("fork")]
            case Xor(alternatives=alts):
                stack.append(emit("merge"))
                stack += [kid(i, a.term) for i, a in reversed(list(enumerate(alts)))]
                stack.append(emit("pick"))
            case Defer(alternatives=trigs):
                stack.append(emit("merge"))
                stack += [kid(i, a.term) for i, a in reversed(list(enumerate(trigs)))]
                stack.append(emit("pick"))
            case Loop(body=body, while_=while_):
                if while_ is not None:  # entry, test, body
                    stack += [kid(0, body), emit("loop"), emit("loop")]
                else:  # entry, body, test
                    stack += [emit("loop"), kid(0, body), emit("loop")]
            case Region(term=body, compensate=comp):
                if comp is not None:
                    stack.append(kid(1, comp))
                stack.append(kid(0, body))
            case MI(body=Task()):
                out.append((here, "node"))
            case MI(body=body):
                stack.append(kid(0, body))
            case Task() | WaitSignal() | Terminate() | Halt() | Call():
                out.append((here, "node"))
            case _:
                return None
    out.append(("", "node"))
    if len(out) != len(d.nodes):
        return None
    for (_, role), n in zip(out, d.nodes, strict=True):
        if n.shape not in _SHAPES[role] and n.shape not in ("start", "end"):
            return None
    return out


def members(d: Diagram) -> dict[str, list[str]]:
    """Cluster id -> the nodes inside it, nested clusters included."""
    parent = {c.id: c.parent for c in d.clusters}
    out: dict[str, list[str]] = {c.id: [] for c in d.clusters}
    for n in d.nodes:
        cid = n.cluster
        while cid is not None:
            out[cid].append(n.id)
            cid = parent.get(cid)
    return out


def _edges(d: Diagram) -> list[tuple[str, str, int]]:
    """Forward edges ``(src, dst, k)``: ``k`` numbers a node's out-edges (a split's branch).

    An edge leaving a cluster leaves each of its nodes (``k`` = -1).
    """
    inside = members(d)
    out: list[tuple[str, str, int]] = []
    count: dict[str, int] = {}
    for e in d.edges:
        if e.back:
            continue
        if e.from_cluster:
            out += [(s, e.dst, -1) for s in inside.get(e.src, [])]
            continue
        k = count.get(e.src, 0)
        count[e.src] = k + 1
        out.append((e.src, e.dst, k))
    return out


def node_status(term: Term, d: Diagram, events: Sequence[TraceEvent]) -> dict[str, str]:
    """Each node's status by node id (see the module docstring)."""
    tl = build(events)
    by_name: dict[str, str] = {}
    running: set[str] = set()
    waits: dict[str, str] = {}
    for b in tl.bars:
        if b.kind == "wait":
            if b.name.startswith("signal "):
                ws = {"ok": "done", "running": "waiting"}.get(b.outcome, "cancelled")
                if waits.get(b.name[7:]) != "waiting":
                    waits[b.name[7:]] = ws
            continue
        by_name[b.name] = _BAR_STATUS.get(b.outcome, "done")
        if b.outcome == "running":
            running.add(b.name)
    for name in running:
        by_name[name] = "running"
    for ev in events:  # a queued signal is consumed at once, without a wait
        if ev.kind == "signal_consumed" and isinstance(ev.name, str):
            waits.setdefault(ev.name, "done")
    # what the events say by node path
    full = any(ev.kind not in MIN_KINDS for ev in events)
    taken: dict[str, set[int]] = {}  # a split's path -> branches taken
    picked: dict[str, set[int]] = {}
    fired: set[str] = set()
    arrived: set[str] = set()
    looped: set[str] = set()
    for ev in events:
        name = ev.name if isinstance(ev.name, str) else ""
        k = ev.kind
        if k == "split":
            br = ev.data.get("branches")
            taken.setdefault(name, set()).update(
                b for b in (br if isinstance(br, list) else []) if isinstance(b, int)
            )
        elif k == "choice" and ev.data.get("by") != "scheduler":
            p = ev.data.get("picked")
            picked.setdefault(name, set()).update([p] if isinstance(p, int) else [])
        elif k == "join_fired":
            fired.add(name)
        elif k in ("join_arrived", "join_absorbed"):
            arrived.add(name)
        elif k in ("loop_iteration", "loop_exited"):
            looped.add(name)
    final = tl.final
    left = {None: "waiting", "done": "done"}.get(final, "cancelled")
    kinds = {ev.kind for ev in events}
    roles = gateway_paths(term, d)
    status: dict[str, str] = {}
    allowed: dict[str, set[int]] = {}  # a split node -> the out-edges it took
    for i, n in enumerate(d.nodes):
        path, role = roles[i] if roles is not None else ("", "node")
        st: str | None = None
        if n.shape in ("task", "effect"):
            if n.label in by_name:
                st = by_name[n.label]
            elif not n.label.startswith("call "):
                st = "not-reached"
        elif n.shape == "mi":
            st = next(
                (s for nm, s in by_name.items() if n.label.startswith(nm + " ≡ ")), "not-reached"
            )
        elif n.shape == "event":
            st = next(
                (
                    s
                    for sig, s in waits.items()
                    if n.label == f"wait signal {sig}"
                    or n.label.startswith(f"wait signal {sig} → ")
                ),
                "not-reached",
            )
        elif n.shape == "start":
            st = "done" if events else "not-reached"
        elif n.shape == "end":
            st = "done" if "case_completed" in kinds else "not-reached"
        elif n.shape == "terminate":
            st = "done" if "terminated" in kinds else "not-reached"
        elif role == "fork" and full:
            st = "done" if path in taken else "not-reached"
            allowed[n.id] = taken.get(path, set())
        elif role == "join" and full:
            st = "done" if path in fired else (left if path in arrived else "not-reached")
        elif role == "pick" and path in picked:
            st = "done"
            allowed[n.id] = picked[path]
        elif role == "loop" and path in looped:
            st = "done"
        if st is not None:
            status[n.id] = st
    _derive(d, status, allowed, left)
    return status


def _derive(d: Diagram, status: dict[str, str], allowed: dict[str, set[int]], left: str) -> None:
    """Give the nodes no event names a status from their neighbours (in place)."""
    mapped = set(status)
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for s, t, k in _edges(d):
        if s in allowed and k not in allowed[s]:
            continue  # a branch the split did not take
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
    for n in d.nodes:
        if n.id not in mapped:
            if n.id in reach_f:
                status[n.id] = "done" if n.id in reach_b else left
            else:
                status[n.id] = "not-reached"


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
