"""What the validator says about sub-workflows and recursion (WCP-22).

A ``call`` is compiled inline, so the explorer walks the called workflow
like any other part of the Program.  Recursion is unfolded only up to the
call's ``max_depth``: past it the compiled ``call_enter`` fails the case
when it runs, and the explorer (whose abstract Program lets it continue
after the call, as if the deeper calls completed) has explored the
recursion only up to that depth.  That cut is a WF200 warning, one per
called workflow.
"""

from __future__ import annotations

from wftrio.compiler.program import CallEnterOps, Program
from wftrio.validation.issues import WARNING, Issue

__all__ = ["call_issues"]


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
