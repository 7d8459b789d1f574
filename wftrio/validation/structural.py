"""Structural checks (WF1xx): properties of the term itself, linear in its size.

These need the whole term (the constructors check each node on its own) and
no exploration:

* **WF101** a region id used twice (the constructors and the term classes
  reject it, so this is a defence for terms that bypassed them);
* **WF102** a ``first(n)`` join or an ``mi(join=n)`` whose threshold can
  never be reached because too few of its branches (instances) can ever
  complete: a branch that always ends in ``terminate()``, waits for a
  signal outside ``signals=``, or contains such a join itself;
* **WF103** a ``defer`` alternative on a signal an earlier alternative of the
  same ``defer`` already takes (the first alternative in written order
  wins a signal, so the later one never can);
* **WF104** a ``defer`` timer that can never fire first, because another
  alternative's timer is shorter (error), or that ties with another one of
  the same duration (warning: which fires first is up to the timer order);
* **WF105** / **WF106** a ``wait_signal`` (error: it would wait forever) or an
  ``on_signal`` alternative (warning: it can never win) on a name outside
  the declared ``signals=``; **WF108** a declared signal nothing waits for;
* **WF110** a blocking ``first(n, blocking=True)`` join in a loop with a
  branch that can never complete: the join never resets, so from the
  loop's next round on it holds every arrival (warning);
* **WF107** with ``durable=True``: a task function or condition that a
  restarted process cannot find again by module and qualified name (a
  lambda, a nested function or closure, a bound method, a partial).

``xor`` gets no structural check: an unconditioned alternative is a default,
used only when no condition holds, and several defaults are a scheduler
choice, so no alternative is unreachable because of where it stands (and
conditions are opaque, so none is unreachable because of what it tests).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

from wftrio.algebra.trampoline import Recursive, trampoline
from wftrio.terms import (
    MI,
    After,
    Defer,
    First,
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
    node_label,
)
from wftrio.validation.issues import ERROR, WARNING, Issue

__all__ = ["durable_name", "nodes", "structural_issues"]


def nodes(term: Term, path: str = "") -> Iterator[tuple[str, Term]]:
    """Yield ``(path, node)`` for every node, with the compiler's node paths."""
    stack: list[tuple[str, Term]] = [(path, term)]
    while stack:
        p, node = stack.pop()
        label = node_label(node)
        here = f"{p}.{label}" if p else label
        yield here, node
        kids = node.children()
        for i in range(len(kids) - 1, -1, -1):
            stack.append((f"{here}[{i}]", kids[i]))


def _path(parent: str, i: int, kid: Term) -> str:
    return f"{parent}[{i}].{node_label(kid)}"


# where a blocker is, relative to a node: a chain of path segments shared between
# the nodes above it (so results for a deep term take linear memory); () is the node
_Rel = tuple[str, "_Rel"] | tuple[()]
_Memo = dict[int, "_Rel | None"]


def blocker(
    term: Term, here: str, declared: frozenset[str] | None, memo: _Memo | None = None
) -> str | None:
    """The path of a node that keeps ``term`` from ever completing, or None.

    Data is abstracted (every condition may hold or not, a computed ``mi``
    count may be 0); region cancellation, an outside request, is not
    counted as a way to complete.  Any depth of nesting (an explicit
    stack); ``memo``, shared by the calls on one term, keeps the calls for
    nested joins linear in the term's size.
    """
    memo = {} if memo is None else memo

    def step(t: Term) -> Recursive[_Rel | None]:
        if id(t) in memo:
            return memo[id(t)]
        result = yield from _blocker(t, declared)
        memo[id(t)] = result
        return result

    rel = trampoline(step, term)
    if rel is None:
        return None
    parts = [here]
    while rel:
        segment, rel = rel
        parts.append(segment)
    return "".join(parts)


def _via(i: int, kid: Term, rel: _Rel | None) -> _Rel | None:
    return None if rel is None else (f"[{i}].{node_label(kid)}", rel)


def _blocker(term: Term, declared: frozenset[str] | None) -> Recursive[_Rel | None]:
    # a generator: ``yield (t,)`` stands for the blocker of child ``t``, relative to it
    if isinstance(term, Terminate):
        return ()
    if isinstance(term, WaitSignal):
        return () if declared is not None and term.name not in declared else None
    if isinstance(term, Seq):
        for i, t in enumerate(term.terms):
            b = _via(i, t, (yield (t,)))
            if b is not None:
                return b
        return None
    if isinstance(term, Join):
        bl: list[_Rel | None] = []
        for i, br in enumerate(term.branches):
            bl.append(_via(i, br.term, (yield (br.term,))))
        if isinstance(term.policy, First):
            ok = sum(1 for b in bl if b is None)
            return None if ok >= term.policy.n else next(b for b in bl if b is not None)
        if term.policy == "sync_merge":
            must = [b for br, b in zip(term.branches, bl, strict=True) if br.cond is None]
            if any(b is not None for b in must):
                return next(b for b in must if b is not None)
            if not must and all(b is not None for b in bl):
                return bl[0]
            return None
        return next((b for b in bl if b is not None), None)
    if isinstance(term, Xor):
        bl = []
        for i, alt in enumerate(term.alternatives):
            bl.append(_via(i, alt.term, (yield (alt.term,))))
        return None if any(b is None for b in bl) else bl[0]
    if isinstance(term, Loop):
        if term.times == 0 or term.while_ is not None:
            return None
        return _via(0, term.body, (yield (term.body,)))
    if isinstance(term, Defer):
        first_reason: _Rel | None = None
        for i, a in enumerate(term.alternatives):
            if isinstance(a, OnSignal) and declared is not None and a.name not in declared:
                first_reason = first_reason if first_reason is not None else ()
                continue
            b = _via(i, a.term, (yield (a.term,)))
            if b is None:
                return None
            first_reason = first_reason if first_reason is not None else b
        return first_reason
    if isinstance(term, Region):
        return _via(0, term.term, (yield (term.term,)))
    if isinstance(term, Threads):  # every thread runs the body: it completes as the body does
        return _via(0, term.body, (yield (term.body,)))
    if isinstance(term, MI):
        if term.join == "none" or callable(term.count) or callable(term.items):
            return None
        if _completable(term, declared):
            return None  # the complete_on signal ends it whatever its instances do
        n = term.count if term.count is not None else len(term.items or ())
        if n == 0:
            return None
        return _via(0, term.body, (yield (term.body,)))
    return None


def _completable(term: MI, declared: frozenset[str] | None) -> bool:
    """Whether an mi's ``complete_on`` signal can arrive (then it continues regardless)."""
    sig = term.complete_on
    return sig is not None and (declared is None or sig in declared)


_IN_LOOP = re.compile(r"(^|\.)loop\[")
"""A node path under a loop (``wf.machine`` is one too)."""


def _never_resets(here: str, policy: First, bl: list[str | None]) -> Issue:
    """WF110: a blocking join in a loop, with a branch that never arrives."""
    why = "; ".join(
        f"branch [{i}] never completes (because of {b})" for i, b in enumerate(bl) if b is not None
    )
    return Issue(
        WARNING,
        "WF110",
        f"{policy!r} join in a loop never resets ({why}): when the loop comes round, the "
        "join holds every arrival of its next activation until the case ends. Fix the "
        "branches or drop blocking=True.",
        here,
    )


def durable_name(fn: object) -> str | None:
    """Why ``fn`` cannot be found again by module and qualified name, or None if it can."""
    mod = getattr(fn, "__module__", None)
    qn = getattr(fn, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qn, str):
        return f"{fn!r} has no module and qualified name"
    if qn == "<lambda>" or qn.endswith(".<lambda>"):
        return "it is a lambda"
    if "<locals>" in qn:
        return f"{qn} is defined inside a function (a closure)"
    obj: Any = sys.modules.get(mod)
    if obj is None:
        return f"its module {mod!r} is not imported"
    for part in qn.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return f"{mod}.{qn} does not name it (it was built by a factory or renamed)"
    if obj is not fn:
        return f"{mod}.{qn} names another object (a bound method, a partial or a copy)"
    return None


def _callables(here: str, node: Term) -> Iterator[tuple[str, Callable[..., Any]]]:
    if isinstance(node, Task):
        yield f"task {node.name!r}'s fn", node.fn
    elif isinstance(node, Join | Xor):
        alts = node.branches if isinstance(node, Join) else node.alternatives
        for i, br in enumerate(alts):
            if br.cond is not None:
                yield f"the condition of [{i}]", br.cond
    elif isinstance(node, Loop):
        for name in ("while_", "until"):
            c = getattr(node, name)
            if c is not None:
                yield f"the {name} condition", c
    elif isinstance(node, MI):
        for name in ("count", "items"):
            c = getattr(node, name)
            if callable(c):
                yield f"the {name} function", c
        if callable(node.join):
            yield "the join condition", node.join
        if node.until is not None:
            yield "the until condition", node.until


def structural_issues(
    term: Term, *, signals: frozenset[str] | None = None, durable: bool = False
) -> list[Issue]:
    """The WF1xx issues of ``term`` (see the module docs)."""
    issues: list[Issue] = []
    regions: dict[str, int] = {}
    used_signals: set[str] = set()
    memo: _Memo = {}  # blocker results, shared by nested joins
    root = node_label(term)
    for index, (here, node) in enumerate(nodes(term)):
        if isinstance(node, Region):
            first_at = regions.get(node.scope_id)
            if first_at is not None:
                first_path = next(p for k, (p, _) in enumerate(nodes(term)) if k == first_at)
                issues.append(
                    Issue(
                        ERROR,
                        "WF101",
                        f"duplicate region id {node.scope_id!r}: already used at {first_path}; "
                        "give every region its own id (cancel_region would cancel both).",
                        here,
                    )
                )
            else:  # the node's index, not its path: paths of deep terms are long
                regions[node.scope_id] = index
        elif isinstance(node, Join) and isinstance(node.policy, First):
            bl = [
                blocker(br.term, _path(here, i, br.term), signals, memo)
                for i, br in enumerate(node.branches)
            ]
            ok = sum(1 for b in bl if b is None)
            if ok < node.policy.n:
                why = "; ".join(
                    f"branch [{i}] never completes (because of {b})"
                    for i, b in enumerate(bl)
                    if b is not None
                )
                issues.append(
                    Issue(
                        ERROR,
                        "WF102",
                        f"{node.policy!r} join can never fire: only {ok} of its "
                        f"{len(bl)} branches can reach it ({why}); lower n or fix the branches.",
                        here,
                    )
                )
            elif node.policy.blocking and ok < len(bl) and _IN_LOOP.search(here):
                issues.append(_never_resets(here, node.policy, bl))
        if isinstance(node, MI):
            issues.extend(_mi_signal_issues(here, node, signals, used_signals))
        if isinstance(node, MI) and isinstance(node.join, int) and not _completable(node, signals):
            b = blocker(node.body, _path(here, 0, node.body), signals, memo)
            if b is not None:
                issues.append(
                    Issue(
                        ERROR,
                        "WF102",
                        f"mi(join={node.join}) can never continue: no instance can complete "
                        f"(because of {b}); fix the instance body.",
                        here,
                    )
                )
        elif isinstance(node, Defer):
            issues.extend(_defer_issues(here, node, signals))
            used_signals.update(a.name for a in node.alternatives if isinstance(a, OnSignal))
        elif isinstance(node, WaitSignal):
            used_signals.add(node.name)
            if signals is not None and node.name not in signals:
                issues.append(
                    Issue(
                        ERROR,
                        "WF105",
                        f"wait_signal({node.name!r}) waits for a signal outside the declared "
                        f"signals {sorted(signals)}: it would wait forever. Declare it or "
                        "fix the name.",
                        here,
                    )
                )
        if durable:
            for what, fn in _callables(here, node):
                reason = durable_name(fn)
                if reason is not None:
                    issues.append(
                        Issue(
                            ERROR,
                            "WF107",
                            f"{what} cannot be restored in a durable case: {reason}. Define it "
                            "with def at module level so it can be found by module and "
                            "qualified name.",
                            here,
                        )
                    )
    if signals is not None:
        unused = sorted(signals - used_signals)
        if unused:
            issues.append(
                Issue(
                    WARNING,
                    "WF108",
                    f"declared signal(s) {unused} are waited for nowhere in the workflow; "
                    "remove them or fix the names.",
                    root,
                )
            )
    return issues


def _mi_signal_issues(
    here: str, node: MI, signals: frozenset[str] | None, used: set[str]
) -> Iterator[Issue]:
    """The signals an mi watches (WCP-15, WCP-27) are waited for; undeclared ones never come."""
    for arg in ("more_on", "close_on", "complete_on"):
        name = getattr(node, arg)
        if name is None:
            continue
        used.add(name)
        if signals is not None and name not in signals:
            yield Issue(
                WARNING,
                "WF109",
                f"mi({arg}={name!r}) watches a signal outside the declared signals "
                f"{sorted(signals)}: it can never arrive.",
                here,
            )


def _defer_issues(here: str, node: Defer, signals: frozenset[str] | None) -> Iterator[Issue]:
    taken: dict[str, int] = {}
    shortest: tuple[float, int] | None = None
    for i, a in enumerate(node.alternatives):
        if isinstance(a, OnSignal):
            j = taken.get(a.name)
            if j is not None:
                yield Issue(
                    ERROR,
                    "WF103",
                    f"alternative [{i}] on_signal({a.name!r}) can never win: alternative [{j}] "
                    f"takes signal {a.name!r} first. Merge the two alternatives.",
                    here,
                )
            else:
                taken[a.name] = i
            if signals is not None and a.name not in signals:
                yield Issue(
                    WARNING,
                    "WF106",
                    f"alternative [{i}] on_signal({a.name!r}) waits for a signal outside the "
                    f"declared signals {sorted(signals)}: it can never win.",
                    here,
                )
        elif isinstance(a, After) and (shortest is None or a.seconds < shortest[0]):
            shortest = (a.seconds, i)
    if shortest is None:
        return
    for i, a in enumerate(node.alternatives):
        if isinstance(a, After) and i != shortest[1]:
            if a.seconds > shortest[0]:
                yield Issue(
                    ERROR,
                    "WF104",
                    f"alternative [{i}] after({a.seconds:g}) can never fire first: alternative "
                    f"[{shortest[1]}] after({shortest[0]:g}) always fires before it. Remove it "
                    "or shorten it.",
                    here,
                )
            else:
                yield Issue(
                    WARNING,
                    "WF104",
                    f"alternative [{i}] after({a.seconds:g}) ties with alternative "
                    f"[{shortest[1]}]: which one fires first is up to the timer order. Give "
                    "them different durations or merge them.",
                    here,
                )
