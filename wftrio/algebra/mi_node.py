"""The multiple-instance node (WCP-12..15, 26, 27, 34..36).

:class:`MI` lives apart from :mod:`wftrio.algebra.nodes` because its
options grew with the MI patterns: a partial join that withdraws the rest
(``cancel_rest``, WCP-35).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs

from wftrio.algebra._base import EqKey, Parts
from wftrio.algebra._regions import EMPTY, RegionIds
from wftrio.algebra.checks import check_condition, check_name, fn_name, is_int
from wftrio.algebra.nodes import Ctx, Term, check_term
from wftrio.errors import TermError, TermTypeError

__all__ = ["MI"]


@attrs.frozen(repr=False, eq=False)
class MI(Term):
    """Multiple instances (WCP-12..14, 34, 35) of ``body``.

    Raises:
        TermError: not exactly one of ``count`` / ``items``, a bad count,
            item list, join, ``collect`` or ``item_key``; ``cancel_rest``
            without a partial join.
        TermTypeError: ``cancel_rest`` not a bool.
    """

    body: Term
    count: int | Callable[[Ctx], int] | None = None
    items: tuple[Any, ...] | Callable[[Ctx], Iterable[Any]] | None = None
    join: int | Literal["all", "none"] = "all"
    collect: str | None = None
    item_key: str = "item"
    cancel_rest: bool = False
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        check_term("mi.body", self.body)
        count, items, join = self.count, self.items, self.join
        if (count is None) == (items is None):
            raise TermError("mi(...): give exactly one of count= or items=")
        static_n: int | None = None
        if count is not None:
            if callable(count):
                check_condition("mi", "count", count)
            elif not is_int(count) or count < 0:
                raise TermTypeError(f"mi(count={count!r}): count must be an int >= 0 or callable")
            else:
                static_n = count
        if items is not None:
            if callable(items):
                check_condition("mi", "items", items)
            elif not isinstance(items, tuple):
                raise TermTypeError(
                    f"mi(items={items!r}): items must be a tuple or fn(ctx) -> iterable"
                )
            else:
                static_n = len(items)
        if join not in ("all", "none"):
            if not is_int(join) or join < 1:
                raise TermError(f"mi(join={join!r}): join must be 'all', 'none' or an int >= 1")
            if static_n is not None and join > static_n:
                raise TermError(
                    f"mi(join={join}): exceeds the {static_n} instances; the join could never fire"
                )
        self._check_cancel_rest()
        if self.collect is not None:
            check_name("mi", "collect", self.collect)
        check_name("mi", "item_key", self.item_key)
        if self.item_key == "index":
            raise TermError("mi(item_key='index'): 'index' is reserved for the instance index")
        object.__setattr__(self, "_regions", self.body._region_set())
        # items are data, possibly unhashable: left out of the hash, compared by ==
        self._seal(self.body, count, join, self.collect, self.item_key, self.cancel_rest)

    def _check_cancel_rest(self) -> None:
        cancel_rest = self.cancel_rest
        if not isinstance(cancel_rest, bool):
            raise TermTypeError(f"mi(cancel_rest={cancel_rest!r}): cancel_rest must be a bool")
        if cancel_rest and not is_int(self.join):
            raise TermError(
                f"mi(join={self.join!r}, cancel_rest=True): cancel_rest needs a partial join "
                "(join=n): with join='all' no instance is left to withdraw, with join='none' "
                "nothing waits"
            )

    @property
    def withdraws(self) -> bool:
        """Whether the instances left when the mi continues are withdrawn."""
        return self.cancel_rest

    def children(self) -> tuple[Term, ...]:
        return (self.body,)

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (
            (self.count, self.items, self.join, self.collect, self.item_key, self.cancel_rest),
            (self.body,),
        )

    def _repr_parts(self) -> Parts:
        parts: list[str] = []
        if self.count is not None:
            c = self.count
            parts.append(f"count={c if isinstance(c, int) else fn_name(c)}")
        if self.items is not None:
            it = self.items
            parts.append(f"items={it!r}" if isinstance(it, tuple) else f"items={fn_name(it)}")
        if self.join != "all":
            parts.append(f"join={self.join!r}")
        if self.collect is not None:
            parts.append(f"collect={self.collect!r}")
        if self.item_key != "item":
            parts.append(f"item_key={self.item_key!r}")
        if self.cancel_rest:
            parts.append("cancel_rest=True")
        return ["mi(", self.body, "".join(f", {p}" for p in parts), ")"]
