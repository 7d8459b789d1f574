"""What the validator says about sub-workflows and recursion (WCP-22).

A ``call`` is compiled inline, so the explorer walks the called workflow
like any other part of the Program.  Recursion is unfolded only up to the
call's ``max_depth``: past it the compiled ``call_enter`` fails the case
when it runs, and the explorer (whose abstract Program lets it continue
after the call, as if the deeper calls completed) has explored the
recursion only up to that depth.  That cut is a WF200 warning, one per
called workflow.

The structural checks (WF1xx) walk terms, and a ``call`` node has no
children: :func:`callee_structural_issues` runs them on every workflow the
term calls (each once, however often it is called), their paths prefixed
with ``call('name')[0].``, and :func:`with_called_signals` corrects WF108
(a declared signal waited for nowhere) by the waits of the called workflows.
"""

from __future__ import annotations

import attrs

from wftrio.algebra.call_node import callees
from wftrio.compiler.program import CallEnterOps, DeferOps, MISpawnOps, Program, WaitSignalOps
from wftrio.terms import Term
from wftrio.validation.issues import WARNING, Issue
from wftrio.validation.structural import structural_issues

__all__ = ["call_issues", "callee_structural_issues", "with_called_signals"]


def callee_structural_issues(
    term: Term, *, signals: frozenset[str] | None, durable: bool
) -> list[Issue]:
    """The WF1xx issues of the workflows ``term`` calls (WF108 left to the caller)."""
    issues: list[Issue] = []
    for name, callee in callees(term):
        for issue in structural_issues(callee, signals=signals, durable=durable):
            if issue.code != "WF108":
                path = f"call({name!r})[0].{issue.path}" if issue.path else f"call({name!r})"
                issues.append(attrs.evolve(issue, path=path))
    return issues


def _waited(program: Program) -> set[str]:
    out: set[str] = set()
    for ins in program.instrs:
        ops = ins.ops
        if isinstance(ops, WaitSignalOps):
            out.add(ops.name)
        elif isinstance(ops, DeferOps):
            out.update(str(t.key) for t in ops.alts if t.kind == "signal")
        elif isinstance(ops, MISpawnOps):
            out.update(w.signal for w in ops.watch)
    return out


def with_called_signals(
    issues: list[Issue], program: Program, signals: frozenset[str] | None
) -> list[Issue]:
    """``issues`` with WF108 judged on the whole Program, called workflows included."""
    out = [i for i in issues if i.code != "WF108"]
    if len(out) == len(issues):
        return out
    unused = sorted((signals or frozenset()) - _waited(program))
    if unused:
        out.append(
            Issue(
                WARNING,
                "WF108",
                f"declared signal(s) {unused} are waited for nowhere in the workflow; "
                "remove them or fix the names.",
                next(i.path for i in issues if i.code == "WF108"),
            )
        )
    return out


def call_issues(program: Program) -> list[Issue]:
    """A WF200 warning per workflow whose recursion the compiler cut at ``max_depth``."""
    cut: dict[str, tuple[int, str]] = {}
    for ins in program.instrs:
        ops = ins.ops
        if isinstance(ops, CallEnterOps) and ops.exceeded and ops.name not in cut:
            cut[ops.name] = (ops.max_depth, ins.path)
    return [
        Issue(
            WARNING,
            "WF200",
            f"the recursion of call({name!r}) is unfolded to max_depth={depth} nested "
            "calls: the exploration assumed deeper calls complete (sound only up to that "
            "depth), and a case that goes deeper fails with CallDepthExceeded; raise "
            "max_depth= to explore and run deeper.",
            path,
        )
        for name, (depth, path) in sorted(cut.items())
    ]
