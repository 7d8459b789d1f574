"""From an explored state graph to issues (WF2xx).

* **WF201 deadlock**: a reachable state that is not final, where no token
  can step and no input can come (every token waits on a signal outside
  ``signals=``; effects, timers and declared signals can always come).
* **WF202 no option to complete**: a reachable state from which no path
  leads to ``DONE`` and no path leads to a deadlock either (those are
  reported as WF201): a livelock, e.g. two critical sections polling for
  each other's lock forever, or a state whose every future fails.
* **WF203** is retired: ``terminate()`` withdrawing live work is explicit
  termination (WCP-43), what the user asked for, and is not reported.
* **WF204 loop without exit**: a loop entered on some path whose exit is
  taken on no path.
* **WF205 dead task**: a task that runs on no path.
* **WF206 unreachable terminate**: a ``terminate()`` that runs on no path:
  the case was meant to end there and never does (the termination the
  author wrote is dead, like a dead task).
* **WF200 bound hit**: the exploration stopped at a bound; the findings
  above hold for the explored part ("sound up to the bound"); WF204,
  WF205 and WF206 need the whole state space and are not reported then.

States not expanded because of a bound count as "may still complete", so a
bound never produces a false WF202.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from wftrio.engine import ExecState, Status
from wftrio.engine.objects import Token
from wftrio.engine.program import TaskOps
from wftrio.engine.protocol import WaitKind
from wftrio.validation.abstract import is_trusted
from wftrio.validation.explore import Bounds, Exploration
from wftrio.validation.issues import ERROR, WARNING, Issue
from wftrio.validation.witness import replay_witness

__all__ = ["exploration_issues"]

MAX_PER_CODE = 5
"""At most this many WF201 / WF202 issues (distinct situations) are reported."""


def _where(ex: Exploration, tok: Token) -> str:
    ins = ex.space.program.instrs[tok.pc]
    w = tok.wait
    if w is None:
        return f"{ins.path} (ready)"
    if w.kind == WaitKind.SIGNAL:
        return f"{ins.path} (waits for signal {w.name!r})"
    if w.kind == WaitKind.EFFECT:
        return f"{ins.path} (waits for its effect)"
    names = [repr(a.key) for a in w.arms if a.kind == WaitKind.SIGNAL]
    timers = sum(1 for a in w.arms if a.kind == WaitKind.TIMER)
    what = ", ".join([f"signal {n}" for n in names] + ([f"{timers} timer(s)"] if timers else []))
    return f"{ins.path} (waits for {what})"


def _tokens(st: ExecState) -> list[Token]:
    """The live tokens in an order that does not depend on their ids: by path.

    The reduced and the unreduced exploration reach one situation with the
    tokens numbered differently (a summarised block runs at once), so the
    issue's path (its first token's) and message follow the program, not
    the ids (ties: tokens at one path, which read the same).
    """
    instrs = st.program.instrs
    return sorted(st.tokens.values(), key=lambda t: (instrs[t.pc].path, t.id))


def _signature(ex: Exploration, node: int) -> tuple[object, ...]:
    """Where the tokens of ``node`` stand and what they wait on (from its key)."""
    control = ex.keys[node][0]
    assert isinstance(control, tuple)
    return tuple(sorted((pc, wait) for pc, wait, *_ in control[0]))


def _can_complete(ex: Exploration) -> tuple[list[bool], list[bool]]:
    """Per node: can it reach DONE (or an unexpanded state)?  Can it reach a deadlock?"""
    n = ex.states
    pred: list[list[int]] = [[] for _ in range(n)]
    for i, ss in enumerate(ex.succ):
        for j in ss:
            pred[j].append(i)

    def back(seeds: Iterable[int]) -> list[bool]:
        mark = [False] * n
        q: deque[int] = deque()
        for s in seeds:
            if not mark[s]:
                mark[s] = True
                q.append(s)
        while q:
            j = q.popleft()
            for i in pred[j]:
                if not mark[i]:
                    mark[i] = True
                    q.append(i)
        return mark

    seeds = [
        i
        for i in range(n)
        if ex.status[i] is Status.DONE or (ex.status[i] is None and not ex.expanded[i])
    ]
    return back(seeds), back(ex.deadlocks)


def _bottom_components(ex: Exploration, keep: list[bool]) -> list[list[int]]:
    """The strongly connected components of the ``keep`` subgraph that no edge leaves
    (edges to nodes outside ``keep`` are ignored), in order of their first node."""
    n = ex.states
    index = [-1] * n
    low = [0] * n
    comp_of = [-1] * n
    on_stack = [False] * n
    stack: list[int] = []
    comps: list[list[int]] = []
    counter = 0
    for root in range(n):
        if not keep[root] or index[root] >= 0:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, i = work[-1]
            succ = ex.succ[v]
            if i < len(succ):
                work[-1] = (v, i + 1)
                w = succ[i]
                if not keep[w]:
                    continue
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp_of[w] = len(comps)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(comp)
    bottom = []
    for c, comp in enumerate(comps):
        if all(comp_of[w] == c for v in comp for w in ex.succ[v] if keep[w]):
            bottom.append(sorted(comp))
    bottom.sort(key=lambda comp: comp[0])
    return bottom


def _lock_hint(ex: Exploration, st: ExecState) -> str:
    """Explain a livelock of critical sections from the locks in the abstract ctx."""
    held = {k[len("lock:") :]: v for k, v in st.ctx.items() if k.startswith("lock:") and v}
    if not held:
        return ""
    polling = []
    for t in _tokens(st):
        path = ex.space.program.instrs[t.pc].path
        for lock, sid in held.items():
            if f"region({sid!r})" in path:
                polling.append(lock)
    if not polling:
        return ""
    desc = ", ".join(f"lock {k!r} is held by section {v!r}" for k, v in sorted(held.items()))
    return (
        f" The critical sections wait for each other: {desc}, and each holder polls for "
        "a lock another holder keeps. Take the locks in the same order in every branch."
    )


def exploration_issues(
    ex: Exploration, bounds: Bounds, *, cancel_regions: bool = False
) -> list[Issue]:
    """The WF2xx issues of an exploration (see the module docs).

    ``cancel_regions`` says whether the exploration tried region
    cancellations; if not, compensation terms (which only a cancellation
    runs) are not reported as dead.
    """
    issues: list[Issue] = []
    space = ex.space
    program = space.original
    instrs = program.instrs

    def replay(node: int) -> ExecState:
        return replay_witness(program, ex.witness(node), max_instances=bounds.max_instances)

    # WF201 deadlocks, one per distinct situation, shortest witness first
    seen: set[tuple[object, ...]] = set()
    for node in ex.deadlocks:
        sig = _signature(ex, node)
        if sig in seen:
            continue
        seen.add(sig)
        if len(seen) > MAX_PER_CODE:
            break
        st = replay(node)
        toks = _tokens(st)
        declared = (
            f"the declared signals are {sorted(space.signals)}"
            if space.signals is not None
            else "no input can come"
        )
        issues.append(
            Issue(
                ERROR,
                "WF201",
                "deadlock: no token can move and no input can unblock the case ("
                + declared
                + "): "
                + "; ".join(_where(ex, t) for t in toks)
                + ". Declare the awaited signals or change the workflow so that these "
                "waits can end.",
                instrs[toks[0].pc].path if toks else "",
                ex.witness(node),
            )
        )

    # WF202 no option to complete (and no deadlock ahead either): one issue per
    # bottom strongly connected component of the trapped states (a livelock,
    # or a state whose every successor fails), reached by a shortest witness
    completes, deadlocks_ahead = _can_complete(ex)
    trapped = [
        ex.status[i] is None and not completes[i] and not deadlocks_ahead[i]
        for i in range(ex.states)
    ]
    seen = set()
    for comp in _bottom_components(ex, trapped):
        node = min(comp)
        sig = _signature(ex, node)
        if sig in seen:
            continue
        seen.add(sig)
        if len(seen) > MAX_PER_CODE:
            break
        st = replay(node)
        toks = _tokens(st)
        issues.append(
            Issue(
                ERROR,
                "WF202",
                "no option to complete: from this state no path reaches the end of the "
                "case (it can only go round in circles or fail): "
                + "; ".join(_where(ex, t) for t in toks)
                + "."
                + _lock_hint(ex, st),
                instrs[toks[0].pc].path if toks else "",
                ex.witness(node),
            )
        )

    if ex.hit:
        what = ", ".join(
            f"time_budget={ex.budget_s:g}s ({count} state(s) left unexplored)"
            if name == "time_budget"
            else f"{name}={getattr(bounds, name)} ({count} time(s))"
            for name, count in sorted(ex.hit.items())
        )
        issues.append(
            Issue(
                WARNING,
                "WF200",
                f"the exploration hit a bound: {what}; {ex.states} states explored. "
                "The workflow is sound only up to this bound (dead tasks and loop exits "
                "were not checked); raise the bound to explore further.",
                "",
            )
        )
        return issues

    # WF204 loops whose exit is never taken (grouped by loop node)
    by_path: dict[str, list[int]] = {}
    for pc, ins in enumerate(instrs):
        if ins.op in ("loop_enter", "loop_next", "loop_test"):
            by_path.setdefault(ins.path, []).append(pc)
    for path, pcs in by_path.items():
        entered = [ex.loop_entered[pc] for pc in pcs if pc in ex.loop_entered]
        if not entered or any(pc in ex.loop_exited for pc in pcs):
            continue
        node, move = min(entered, key=lambda nm: ex.depth[nm[0]])
        issues.append(
            Issue(
                ERROR,
                "WF204",
                "loop without exit: the loop is entered but on no path does control leave it "
                "(its body never completes or its condition never lets it stop); what "
                "follows it never runs.",
                path,
                ex.witness(node, move),
            )
        )

    # WF205 dead tasks (not wftrio's own pattern bookkeeping, and not
    # compensations unless cancellations were explored)
    compensations = (
        ()
        if cancel_regions
        else tuple(f"{ins.path}[1]." for ins in instrs if ins.op == "region_enter")
    )
    for pc, ins in enumerate(instrs):
        ops = ins.ops
        if (
            isinstance(ops, TaskOps)
            and pc not in ex.stepped
            and not is_trusted(ops.fn)
            and not ins.path.startswith(compensations)
        ):
            issues.append(
                Issue(
                    WARNING,
                    "WF205",
                    f"dead task: task {ops.name!r} runs on no path of the workflow; "
                    "remove it or fix what keeps control from reaching it.",
                    ins.path,
                )
            )
        # WF206: a terminate() that never runs (withdrawing live work when it
        # does run is explicit termination, WCP-43, and is never reported)
        elif (
            ins.op == "terminate"
            and pc not in ex.terminations
            and not ins.path.startswith(compensations)
        ):
            issues.append(
                Issue(
                    WARNING,
                    "WF206",
                    "unreachable terminate(): it runs on no path of the workflow, so the "
                    "case never ends here; remove it or fix what keeps control from reaching it.",
                    ins.path,
                )
            )
    return issues
