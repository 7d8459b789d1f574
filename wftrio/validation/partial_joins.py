"""Partial joins in the explorer: the two rules that keep their late arrivals cheap.

:func:`late_arrivals` finds the joins whose late arrivals (after the join
fired) are deterministic local steps; :func:`gathered` finds a partial
join all of whose live branches stand at it, whose arrivals then form a
reduced set of the state.  Both are used by
:func:`wftrio.validation.explore.explore`.
"""

from __future__ import annotations

from collections.abc import Sequence

from wftrio.compiler.program import MIDoneOps, Program
from wftrio.engine import ExecState
from wftrio.engine.objects import JoinInst, Token

__all__ = ["gathered", "late_arrivals"]


def gathered(st: ExecState, enabled: Sequence[Token], late: dict[int, bool]) -> list[Token]:
    """The tokens at a partial join all of whose live branches stand at it, or ``[]``.

    Which of them arrives first decides the join, but nothing outside
    reads it: every token that can still arrive is among them, the join's
    continuation is new, and what the join withdraws (``cancel_rest``) is
    its own branches.  So their arrivals (in every order, as separate
    steps) are a reduced set of the state; other tokens may not run ahead
    of them forever (a loop spawning such joins would otherwise pile them
    up without end).  Not with explored region cancellations (``late`` is
    empty then).
    """
    at: dict[int, list[Token]] = {}
    for t in enabled:
        if t.pc in late:
            at.setdefault(id(t.frame), []).append(t)
    for toks in at.values():
        frame = toks[0].frame
        if type(frame) is JoinInst and frame.site >= 0:
            continue  # a blocking join: its arrivals may be held or release held ones
        under = 0
        for t in st.tokens.values():
            f = t.frame
            while f is not None and f is not frame:
                f = f.parent
            if f is frame:
                under += 1
                if under > len(toks):
                    break
        if under == len(toks):
            return toks
    return []


def late_arrivals(
    program: Program, local: tuple[bool, ...], cancel_regions: bool
) -> dict[int, bool]:
    """Partial joins (``first(n)``, ``mi(join=n | "none")``), by pc: whether it collects.

    A token arriving at such a join *after it fired* is only absorbed: it
    counts itself and dies.  Nothing reads that counter but later arrivals
    at the same join (which commute with it); withdrawing the token instead
    leaves the same state once the join's last token is gone; and the step
    asks the oracle nothing.  So the explorer treats a late arrival as a
    deterministic local step (:func:`explore` checks ``fired`` on the
    token's frame).  Not with explored region cancellations, where being
    withdrawn before or after arriving runs different compensations.  The
    value says whether the join collects results: the last instance of an
    ``mi(join="none")`` that collects writes them to the shared ctx, so it
    stays a step of its own.
    """
    if cancel_regions:
        return {}
    out: dict[int, bool] = {}
    for pc, ins in enumerate(program.instrs):
        ops = ins.ops
        # not an mi with the MI patterns' options (spawn >= 0): a late instance may
        # complete the activity (until) or end it, withdrawing its watchers
        plain = ins.op == "join" or (isinstance(ops, MIDoneOps) and ops.spawn < 0)
        if plain and not local[pc]:
            out[pc] = isinstance(ops, MIDoneOps) and ops.collect is not None
    return out
