"""Thread split and thread merge (WCP-42, WCP-41): ``threads(n, body)``.

``n`` threads of control run ``body`` within one branch, then merge back
into one.  Unlike ``mi`` instances, threads have no ctx of their own (no
item, no index): they read and write the branch's ctx, like the branches of
a ``par``; unlike a ``par`` of ``n`` copies, the body is one term (compiled
once, its region ids written once: each thread enters its own activation).

The compiler lowers it to the split/join pair a ``par`` has, the split
starting ``n`` tokens at the body's one entry, so the reducer needs nothing
new.
"""

from __future__ import annotations

import attrs

from wftrio.algebra._base import EqKey, Parts
from wftrio.algebra._regions import EMPTY, RegionIds
from wftrio.algebra.checks import check_int
from wftrio.algebra.nodes import Term, check_term

__all__ = ["Threads", "threads"]


@attrs.frozen(repr=False, eq=False)
class Threads(Term):
    """Thread split + thread merge (WCP-42/41): ``n`` threads of ``body`` in one branch.

    Raises:
        TermTypeError: ``n`` is not an int >= 1, or ``body`` not a term.
    """

    n: int
    body: Term
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        check_int("threads", "n", self.n, low=1)
        check_term("threads.body", self.body)
        object.__setattr__(self, "_regions", self.body._region_set())
        self._seal(self.n, self.body)

    def children(self) -> tuple[Term, ...]:
        return (self.body,)

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (self.n,), (self.body,)

    def _repr_parts(self) -> Parts:
        return [f"threads({self.n}, ", self.body, ")"]


def threads(n: int, body: Term) -> Threads:
    """Thread split and merge (WCP-42, WCP-41): run ``body`` in ``n`` threads, then merge.

    The ``n`` threads of control start together at ``body`` in the same
    branch and share its ctx (each thread's updates are merged as it
    commits them, last writer wins); what follows runs once, when every
    thread has finished ``body``.  A region in ``body`` is entered once per
    thread, and ``cancel_region`` cancels every thread's activation.

    Raises:
        TermTypeError: ``n`` is not an int >= 1, or ``body`` not a term.
    """
    return Threads(n, body)
