"""The term strategy's synchronising merges whose branches may halt (WCP-33/37/38)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import wftrio.terms as wt
from wftrio.terms import Seq, Term

__all__ = ["halting_choice"]


def halting_choice(
    built: Sequence[tuple[Term, bool]],
    params: Sequence[tuple[Any, str | None]],
    cond: Callable[[Any], Callable[[Mapping[str, Any]], bool]],
    max_width: int,
) -> tuple[Term, bool]:
    """A ``choice`` over the built branches, each ``(cond spec, how)``; and whether it completes.

    ``how`` is ``"halt"`` (the branch is ``halt()``: it ends at once), ``"after"``
    (a sequence ends with ``halt()`` after its work) or ``None``.  A halting
    branch counts as one the join does not wait for, so it never keeps the
    choice from completing.  ``halt()`` is appended without making a
    sequence wider than ``max_width`` or deeper than drawn: when the
    sequence is full, the branch does not halt (nesting its last child and
    the halt in a sequence would exceed ``max_depth`` at the depth bound).
    """
    alts: list[Term] = []
    must: list[bool] = []
    can: list[bool] = []
    for (c, how), (sub, ok) in zip(params, built, strict=True):
        if how == "halt":
            sub, ok = wt.halt(), True
        elif how == "after" and isinstance(sub, Seq) and len(sub.terms) < max_width:
            sub = wt.seq(*sub.terms, wt.halt())
        alts.append(sub if c is None else wt.branch(cond(c), sub))
        can.append(ok)
        if c is None:
            must.append(ok)
    return wt.choice(*alts), all(must) and (bool(must) or any(can))
