"""The set of region ids below a term node, shared between nodes.

Every node knows the region ids inside it (region ids must be unique in a
workflow, so each constructor checks its children's sets against each
other).  A plain frozenset per node would make a term of ``n`` nested
regions cost ``O(n**2)`` time and memory; a :class:`RegionIds` instead
shares a frozen ``base`` with the node below and keeps the ids added since
in a short ``extra`` tuple, folded into a new base once it grows past the
square root of the base's size.  Nesting ``n`` regions then costs
``O(n**1.5)``, and a node with one child holding regions reuses that
child's set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

__all__ = ["EMPTY", "RegionIds", "merge"]


class RegionIds:
    """An immutable set of region ids: ``base`` and ``extra`` are disjoint."""

    __slots__ = ("_frozen", "base", "extra")

    def __init__(self, base: frozenset[str], extra: tuple[str, ...] = ()) -> None:
        self.base = base
        self.extra = extra
        self._frozen: frozenset[str] | None = None if extra else base

    def __contains__(self, sid: object) -> bool:
        return sid in self.base or sid in self.extra

    def __len__(self) -> int:
        return len(self.base) + len(self.extra)

    def __iter__(self) -> Iterator[str]:
        yield from self.base
        yield from self.extra

    def frozen(self) -> frozenset[str]:
        """The ids as one frozenset (built once per set, on demand)."""
        f = self._frozen
        if f is None:
            f = self._frozen = self.base.union(self.extra)
        return f

    def plus(self, ids: Sequence[str]) -> RegionIds:
        """This set with ``ids`` (none of them in it yet) added."""
        if not ids:
            return self
        extra = self.extra + tuple(ids)
        if len(extra) > max(8, math.isqrt(len(self.base))):
            return RegionIds(self.base.union(extra))
        return RegionIds(self.base, extra)

    def __repr__(self) -> str:
        return f"RegionIds({sorted(self)!r})"


EMPTY = RegionIds(frozenset())


def merge(sets: Sequence[RegionIds]) -> RegionIds | tuple[str, int, int]:
    """The union of ``sets``, or ``(id, i, j)`` for an id in ``sets[i]`` and ``sets[j]``, i < j.

    Small sets are checked against the largest one (whose storage the
    result shares), so a chain of merges stays cheap.
    """
    full = [i for i, s in enumerate(sets) if len(s)]
    if not full:
        return EMPTY
    if len(full) == 1:
        return sets[full[0]]
    big = max(full, key=lambda i: len(sets[i]))
    added: dict[str, int] = {}
    for i in full:
        if i == big:
            continue
        for sid in sets[i]:
            if sid in sets[big] or sid in added:
                holders = [j for j in full if sid in sets[j]]
                return sid, holders[0], holders[1]
            added[sid] = i
    return sets[big].plus(list(added))
