"""What a case's trace says, as lanes, bars and marks (no drawing here).

:func:`build` reads a trace once and returns a :class:`Timeline`: the
lanes (one per token, or per branch a split started), the bars (tasks and
effects, from start to end, with an outcome), the marks (signals, timers,
cancellations, retries, failures) and the case's state segments.  The SVG
writers in :mod:`wftrio.web._timeline` and :mod:`wftrio.web._timeline_graph`
draw from it; it is a pure function of the events (stdlib only, no trio).

How lanes are derived (the trace names tokens, not who spawned them):

* the **case lane** holds what belongs to no token: the case's state
  changes, signals as they arrive, region cancellations, the case's end;
* a ``split`` (``par``/``join``/``choice``/...) event on token P records
  the tokens of its branches, ``mi_spawned`` / ``mi_chunk`` /
  ``mi_instance_added`` the tokens of an ``mi``'s instances (P: its
  spawner); each gets a lane of its own, nested under P's, labelled with
  the split and branch or the instance's index (a trace from before these
  were recorded: inferred from the order ids are allocated in, see
  :func:`_children`);
* any other new token (a join's continuation, a compensation, a loop's
  next token) continues in the lane of the token whose event comes just
  before its first event (for a ``join_fired`` / ``mi_joined``: the lane
  of the split's owner, where the flow goes on).

At trace level ``"min"`` there are no split events and no pure-task
events: each token is a lane and only effects, signals and timers show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from wftrio.trace import TraceEvent

__all__ = ["OUTCOMES", "Bar", "Lane", "Mark", "Segment", "Timeline", "build"]

OUTCOMES = ("ok", "failed", "cancelled", "retried", "rejected", "running")
"""Bar outcome classes: ``retried`` is an effect that succeeded after retries;
``rejected`` one refused (disallowed, over budget, an approval's rejection);
``running`` one the trace has not seen end."""

_RECEIPT_OUTCOME = {
    "ok": "ok",
    "error": "failed",
    "timed_out": "failed",
    "cancelled": "cancelled",
    "disallowed": "rejected",
    "over_budget": "rejected",
    "rejected": "rejected",
}

_CONTINUES_IN_PARENT = frozenset({"join_fired", "mi_joined", "mi_completed"})

_RECORDS_TOKENS = frozenset({"split", "mi_spawned", "mi_chunk", "mi_instance_added"})


@attrs.frozen
class Lane:
    """One horizontal lane: the case's, or a token's (and those continuing it)."""

    index: int
    label: str
    tokens: tuple[int, ...]
    depth: int = 0  # how many splits deep (the label is indented by it)


@attrs.frozen
class Bar:
    """A task or effect from start to end (``start == end`` for a pure task).

    ``start_seq``/``end_seq`` are the events that opened and closed it (for
    the x position of steps taken at one instant).
    """

    lane: int
    name: str
    token: int | None
    scope: str | None
    kind: str  # "task" (pure step) | "effect" | "wait" (a signal or timer wait)
    outcome: str
    start: float
    end: float
    start_seq: int
    end_seq: int
    attempts: int = 1
    detail: str = ""


@attrs.frozen
class Mark:
    """A point event (``kind``: signal, timer, cancel, retry, fail, end, choice)."""

    lane: int
    kind: str
    name: str
    time: float
    seq: int
    detail: str = ""


@attrs.frozen
class Segment:
    """A span of the case's state (``running``, ``waiting_signal``, ...)."""

    state: str
    start: float
    end: float
    start_seq: int
    end_seq: int


@attrs.frozen
class Timeline:
    """A trace read as a picture: lanes, bars, marks, state segments, time span."""

    lanes: tuple[Lane, ...]
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    segments: tuple[Segment, ...]
    end_time: float
    end_seq: int
    final: str | None  # "done" | "failed" | "cancelled" | None (unfinished)
    case_id: str


def _num(v: Any, default: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return default
    return float(v)


def _brief(data: Mapping[str, Any], limit: int = 120) -> str:
    parts = []
    for k, v in data.items():
        if k in ("causal_id", "request", "result", "root"):
            continue
        parts.append(f"{k}={v!r}")
    s = ", ".join(parts)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _ids_in(ev: TraceEvent) -> int:
    """The largest id an event names (its token, an effect's/timer's/instance's id)."""
    m = ev.token if isinstance(ev.token, int) else -1
    for key in ("eid", "tid", "instance"):
        v = ev.data.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > m:
            m = v
    return m


def _recorded(ev: TraceEvent, mi_owner: dict[str, int]) -> list[tuple[int, int, str]] | None:
    """The ``(child token, parent token, lane label)`` an event records, or ``None``.

    ``split`` records its branches' tokens (``tokens``, in branch order),
    ``mi_spawned`` its first instances' and each ``mi_chunk`` the next ones'
    (from index ``first``), ``mi_instance_added`` an added instance's: the
    parent is the token that took the split or the ``mi`` (its spawner).
    ``None`` for an event that records no tokens (a trace written before
    they were recorded: :func:`_children` infers them).
    """
    tokens = ev.data.get("tokens")
    if not isinstance(tokens, list) or not all(type(t) is int for t in tokens):
        return None
    name = str(ev.name)
    short = name.rsplit(".", 1)[-1]
    k = ev.kind
    if k == "split":
        branches = ev.data.get("branches")
        if not isinstance(branches, list) or len(branches) != len(tokens):
            return None
        parent = ev.token
        labels = [f"{short} branch {b}" for b in branches]
    elif k in ("mi_spawned", "mi_chunk"):
        first = ev.data.get("first", 0)
        if not isinstance(first, int) or not isinstance(ev.token, int):
            return None
        mi_owner[name] = parent = ev.token
        labels = [f"{short} #{first + j}" for j in range(len(tokens))]
    elif k == "mi_instance_added":
        index = ev.data.get("index")
        parent = mi_owner.get(name, ev.token)
        labels = [f"{short} #{index}"]
    else:
        return None
    if not isinstance(parent, int):
        return None
    return [(t, parent, label) for t, label in zip(tokens, labels, strict=False)]


def _children(events: Sequence[TraceEvent]) -> tuple[dict[int, tuple[int, str]], dict[int, int]]:
    """The tokens splits created: child -> (parent token, lane label); continuation -> spawner.

    Splits and ``mi`` record the tokens they create (:func:`_recorded`);
    an ``mi`` that does not wait for its instances also records its
    continuation (``next``).  In a trace written before they did, a split
    creates its children in the step it is recorded, so they are taken to
    be the smallest token ids larger than every id named before it (ids are
    allocated in order), and an ``mi`` that does not wait (``needed`` is
    ``None`` or 0) creates its continuation first; there, an ``mi`` of more
    than 64 instances, which spawns them in chunks one step apart, may put
    tokens its first instances create meanwhile in a later instance's lane.
    """
    by_id = sorted({ev.token for ev in events if isinstance(ev.token, int)})
    out: dict[int, tuple[int, str]] = {}
    cont: dict[int, int] = {}
    mi_owner: dict[str, int] = {}
    seen_max = -1
    p = 0
    for ev in events:
        if ev.kind in _RECORDS_TOKENS:
            found = _recorded(ev, mi_owner)
            if found is not None:
                for t, parent, label in found:
                    out[t] = (parent, label)
                nxt = ev.data.get("next")
                if type(nxt) is int and isinstance(ev.token, int):
                    cont[nxt] = ev.token
            elif ev.kind in ("split", "mi_spawned") and isinstance(ev.token, int):
                p = _infer(ev, by_id, p, seen_max, out, cont)
        seen_max = max(seen_max, _ids_in(ev))
    return out, cont


def _infer(
    ev: TraceEvent,
    by_id: list[int],
    p: int,
    seen_max: int,
    out: dict[int, tuple[int, str]],
    cont: dict[int, int],
) -> int:
    """Infer a split's children from token ids (see :func:`_children`); the new ``p``."""
    assert isinstance(ev.token, int)
    short = str(ev.name).rsplit(".", 1)[-1]
    first_cont = False
    if ev.kind == "split":
        branches = ev.data.get("branches")
        labels = [f"{short} branch {b}" for b in branches] if isinstance(branches, list) else []
    else:
        n = ev.data.get("instances")
        labels = [f"{short} #{j}" for j in range(n)] if isinstance(n, int) else []
        first_cont = ev.data.get("needed") in (None, 0)
    while p < len(by_id) and by_id[p] <= seen_max:
        p += 1
    j = p
    want = len(labels) + first_cont
    got: list[int] = []
    while j < len(by_id) and len(got) < want:
        t = by_id[j]
        if t not in out and t not in cont and t != ev.token:
            got.append(t)
        j += 1
    if first_cont and got:
        cont[got.pop(0)] = ev.token
    for t, label in zip(got, labels, strict=False):
        out[t] = (ev.token, label)
    return p


def _lanes(events: Sequence[TraceEvent]) -> tuple[list[Lane], dict[int, int]]:
    """The lanes, in tree order (each after the lane its split was taken in), and token -> lane."""
    children, cont = _children(events)
    lane_of: dict[int, int] = {}
    labels: list[str] = ["case"]
    members: list[list[int]] = [[]]
    parent_lane: list[int | None] = [None]
    split_owner: dict[str, int] = {}  # a split's node path -> the token that took it
    region_host: dict[str, int] = {}  # a region id -> the token that entered it
    hint: int | None = None  # where a new token that no split created goes on
    sticky = False  # a region cancellation's hint holds until a token takes it
    for ev in events:
        t = ev.token
        if isinstance(t, int) and t not in lane_of:
            if t in children:
                parent, label = children[t]
                labels.append(f"{label} · token {t}")
                members.append([t])
                parent_lane.append(lane_of.get(parent))
                lane_of[t] = len(labels) - 1
            elif t in cont and cont[t] in lane_of:
                lane_of[t] = lane_of[cont[t]]
                members[lane_of[t]].append(t)
            elif hint is not None and hint in lane_of:
                lane_of[t] = lane_of[hint]
                members[lane_of[t]].append(t)
            else:
                labels.append("main" if len(labels) == 1 else f"token {t}")
                members.append([t])
                parent_lane.append(None)
                lane_of[t] = len(labels) - 1
            sticky = False
        k = ev.kind
        name = ev.name if isinstance(ev.name, str) else ""
        if k in ("split", "mi_spawned") and isinstance(t, int):
            split_owner[name] = t
        elif k == "region_entered" and isinstance(t, int):
            region_host.setdefault(name, t)
        if k in _CONTINUES_IN_PARENT:
            hint = split_owner.get(name, t if isinstance(t, int) else hint)
            sticky = False
        elif k == "region_cancelled" and name in region_host:
            hint, sticky = region_host[name], True
        elif isinstance(t, int) and not sticky:
            hint = t
    # tree order: each lane right after its parent's subtree starts
    kids: dict[int | None, list[int]] = {}
    for i in range(1, len(labels)):
        kids.setdefault(parent_lane[i], []).append(i)
    for siblings in kids.values():  # in the order their tokens were created
        siblings.sort(key=lambda i: members[i][0] if members[i] else 0)
    order: list[tuple[int, int]] = [(0, 0)]
    stack = [(i, 0) for i in reversed(kids.get(None, []))]
    while stack:
        i, depth = stack.pop()
        order.append((i, depth))
        stack += [(c, depth + 1) for c in reversed(kids.get(i, []))]
    renum = {old: new for new, (old, _) in enumerate(order)}
    lanes = [Lane(renum[old], labels[old], tuple(members[old]), depth) for old, depth in order]
    return lanes, {tok: renum[lane] for tok, lane in lane_of.items()}


def build(events: Sequence[TraceEvent]) -> Timeline:
    """Read ``events`` (one case's trace, in order) into a :class:`Timeline`.

    Unknown kinds are ignored; a malformed field (a non-numeric time) counts
    as the previous event's time, so any sequence of ``TraceEvent`` gives a
    picture.
    """
    lanes, lane_of = _lanes(events)
    bars: list[Bar] = []
    marks: list[Mark] = []
    segments: list[Segment] = []
    # open bars: (token, name) -> [start, start_seq, kind, retries]
    open_: dict[tuple[int | None, str], list[Any]] = {}
    waits: dict[tuple[int | None, str], tuple[float, int, str]] = {}
    # the last bar closed by a receipt per token: a following task_completed is the same step
    receipted: dict[int | None, str] = {}
    state: tuple[str, float, int] | None = None
    final: str | None = None
    now = 0.0
    last_seq = 0
    case_id = events[0].case_id if events else ""

    def lane(ev: TraceEvent) -> int:
        return lane_of.get(ev.token, 0) if isinstance(ev.token, int) else 0

    def close(ev: TraceEvent, key: tuple[int | None, str], outcome: str, attempts: int = 1) -> bool:
        o = open_.pop(key, None)
        if o is None:
            return False
        start, sseq, kind, retries = o
        if outcome == "ok" and retries:
            outcome = "retried"
        bars.append(
            Bar(
                lane(ev),
                key[1],
                ev.token,
                ev.scope,
                kind,
                outcome,
                start,
                max(start, now),
                sseq,
                ev.seq,
                max(attempts, retries + 1),
                _brief(ev.data),
            )
        )
        return True

    def wait_bar(ev: TraceEvent, label: str, w: tuple[float, int, str], outcome: str) -> None:
        bars.append(
            Bar(lane(ev), label, ev.token, ev.scope, "wait", outcome, w[0], now, w[1], ev.seq)
        )

    def task_bar(ev: TraceEvent, outcome: str, start: float, attempts: int) -> None:
        # a task with no open bar (a pure step, an audited step, a refused effect)
        name = ev.name if isinstance(ev.name, str) else ""
        bars.append(
            Bar(
                lane(ev), name, ev.token, ev.scope, "task", outcome, start, now, ev.seq, ev.seq,
                attempts, _brief(ev.data),
            )
        )  # fmt: skip

    for ev in events:
        now = _num(ev.time, now)
        last_seq = ev.seq if isinstance(ev.seq, int) else last_seq
        k = ev.kind
        name = ev.name if isinstance(ev.name, str) else ""
        key = (ev.token, name)
        if k == "task_started":
            open_[key] = [now, ev.seq, "effect", 0]
            receipted.pop(ev.token, None)
        elif k == "effect_retry":
            o = open_.get(key)
            if o is not None:
                o[3] += 1
            marks.append(Mark(lane(ev), "retry", name, now, ev.seq, _brief(ev.data)))
        elif k == "receipt":
            outcome = _RECEIPT_OUTCOME.get(str(ev.data.get("outcome")), "failed")
            attempts = ev.data.get("attempts")
            n = attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 1
            if outcome == "ok" and n > 1:
                outcome = "retried"
            if key in open_:
                close(ev, key, outcome, n)
            elif ev.token in receipted and receipted[ev.token] == name:
                pass  # the effect's bar was closed by its cancellation
            else:  # an audited step or a refused effect: no task_started before it
                task_bar(ev, outcome, min(_num(ev.data.get("started"), now), now), n)
            receipted[ev.token] = name
        elif k in ("task_completed", "task_failed"):
            outcome = "ok" if k == "task_completed" else "failed"
            if receipted.pop(ev.token, None) == name:
                if k == "task_failed":
                    marks.append(Mark(lane(ev), "fail", name, now, ev.seq, _brief(ev.data)))
                continue  # its effect's receipt drew it
            if not close(ev, key, outcome):
                task_bar(ev, outcome, now, 1)
            if k == "task_failed":
                marks.append(Mark(lane(ev), "fail", name, now, ev.seq, _brief(ev.data)))
        elif k == "effect_cancelled":  # (effect_failed: its receipt, next, closes the bar)
            if close(ev, key, "cancelled"):
                receipted[ev.token] = name
        elif k == "signal_waiting":
            waits[(ev.token, "signal " + name)] = (now, ev.seq, name)
        elif k == "signal_consumed":
            w = waits.pop((ev.token, "signal " + name), None)
            if w is not None:
                wait_bar(ev, f"signal {name}", w, "ok")
            marks.append(Mark(lane(ev), "signal", name, now, ev.seq, _brief(ev.data)))
        elif k == "signal_received":
            marks.append(Mark(0, "signal", name, now, ev.seq, _brief(ev.data)))
        elif k == "timer_started":
            waits[(ev.token, "timer " + name)] = (now, ev.seq, name)
        elif k == "timer_fired":
            w = waits.pop((ev.token, "timer " + name), None)
            if w is not None:
                wait_bar(ev, f"timer {name}", w, "ok")
            marks.append(Mark(lane(ev), "timer", name, now, ev.seq, _brief(ev.data)))
        elif k in ("region_cancelled", "case_cancelled"):
            marks.append(Mark(lane(ev), "cancel", name or "case", now, ev.seq, _brief(ev.data)))
        elif k == "token_withdrawn":
            for wkey in [w for w in waits if w[0] == ev.token]:
                wait_bar(ev, wkey[1], waits.pop(wkey), "cancelled")
            for okey in [o for o in open_ if o[0] == ev.token]:
                close(ev, okey, "cancelled")
            marks.append(
                Mark(lane(ev), "cancel", f"token {ev.token}", now, ev.seq, _brief(ev.data))
            )
        elif k == "choice":
            w = waits.pop((ev.token, "timer " + name), None)
            if w is not None:  # another trigger of the deferred choice won: the timer is off
                wait_bar(ev, f"timer {name}", w, "cancelled")
            marks.append(Mark(lane(ev), "choice", name, now, ev.seq, _brief(ev.data)))
        elif k == "case_state":
            if state is not None:
                segments.append(Segment(state[0], state[1], now, state[2], ev.seq))
            state = (name, now, ev.seq)
        elif k in ("case_completed", "case_failed", "terminated"):
            final = "failed" if k == "case_failed" else "done"
            marks.append(
                Mark(0, "end" if k != "case_failed" else "fail", k, now, ev.seq, _brief(ev.data))
            )
        if k == "case_cancelled":
            final = "cancelled"
    end = now
    for okey, (start, sseq, kind, retries) in list(open_.items()):
        bars.append(
            Bar(
                lane_of.get(okey[0], 0) if isinstance(okey[0], int) else 0,
                okey[1],
                okey[0],
                None,
                kind,
                "running" if final is None else "cancelled",
                start,
                end,
                sseq,
                last_seq,
                retries + 1,
            )
        )
    for wkey, (ws, wseq, _wname) in waits.items():
        bars.append(
            Bar(
                lane_of.get(wkey[0], 0) if isinstance(wkey[0], int) else 0,
                wkey[1],
                wkey[0],
                None,
                "wait",
                "running" if final is None else "cancelled",
                ws,
                end,
                wseq,
                last_seq,
            )
        )
    if state is not None and state[0] not in ("done", "failed", "cancelled"):
        segments.append(Segment(state[0], state[1], end, state[2], last_seq))
    return Timeline(
        tuple(lanes),
        tuple(bars),
        tuple(marks),
        tuple(segments),
        end,
        last_seq,
        final,
        case_id,
    )
