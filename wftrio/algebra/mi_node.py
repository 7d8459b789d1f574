"""The multiple-instance node (WCP-12..15, 26, 27, 34..36).

:class:`MI` lives apart from :mod:`wftrio.algebra.nodes` because its
options grew with the MI patterns: a partial join that withdraws the rest
(``cancel_rest``, WCP-35), completing the activity early from inside
(``until``) or outside (``complete_on``, WCP-27), instances added while it
runs (``more_on`` / ``close_on``, WCP-15) and a join whose threshold is a
condition over the instances finished so far (``join=fn``, WCP-36).
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

__all__ = ["MI", "Results", "ResultsCond"]

Results = list[Any]
"""What ``until`` and a callable ``join`` are given: the finished instances'
results (each a read-only mapping of the instance's updates), in item order."""
ResultsCond = Callable[[Results], object]
"""``cond(results) -> bool``: a condition over the instances finished so far."""


@attrs.frozen(repr=False, eq=False)
class MI(Term):
    """Multiple instances (WCP-12..15, 27, 34..36) of ``body``.

    Raises:
        TermError: not exactly one of ``count`` / ``items``, a bad count,
            item list, join, ``collect`` or ``item_key``; ``cancel_rest``
            without a partial join; ``close_on`` without ``more_on``; a
            ``more_on`` activity with no way to end; a signal name used twice.
        TermTypeError: ``cancel_rest`` not a bool; ``until`` not a
            synchronous callable; a bad signal name.
    """

    body: Term
    count: int | Callable[[Ctx], int] | None = None
    items: tuple[Any, ...] | Callable[[Ctx], Iterable[Any]] | None = None
    join: int | Literal["all", "none"] | ResultsCond = "all"
    collect: str | None = None
    item_key: str = "item"
    cancel_rest: bool = False
    until: ResultsCond | None = None
    complete_on: str | None = None
    more_on: str | None = None
    close_on: str | None = None
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
        self._check_signals()
        if callable(join):
            check_condition("mi", "join", join)
        elif join not in ("all", "none"):
            if not is_int(join) or join < 1:
                raise TermError(
                    f"mi(join={join!r}): join must be 'all', 'none', an int >= 1 or "
                    "fn(results) -> bool"
                )
            if static_n is not None and join > static_n and self.more_on is None:
                raise TermError(
                    f"mi(join={join}): exceeds the {static_n} instances; the join could never fire"
                )
        self._check_cancel_rest()
        if self.until is not None:
            check_condition("mi", "until", self.until)
        if self.collect is not None:
            check_name("mi", "collect", self.collect)
        check_name("mi", "item_key", self.item_key)
        if self.item_key == "index":
            raise TermError("mi(item_key='index'): 'index' is reserved for the instance index")
        object.__setattr__(self, "_regions", self.body._region_set())
        # items are data, possibly unhashable: left out of the hash, compared by ==
        self._seal(
            self.body,
            count,
            join,
            self.collect,
            self.item_key,
            self.cancel_rest,
            self.until,
            self.complete_on,
            self.more_on,
            self.close_on,
        )

    def _check_signals(self) -> None:
        names: dict[str, str] = {}
        for arg in ("complete_on", "more_on", "close_on"):
            v = getattr(self, arg)
            if v is None:
                continue
            check_name("mi", arg, v)
            if v in names:
                raise TermError(
                    f"mi({names[v]}={v!r}, {arg}={v!r}): one signal name cannot do both"
                )
            names[v] = arg
        if self.close_on is not None and self.more_on is None:
            raise TermError(
                f"mi(close_on={self.close_on!r}): close_on ends the adding of instances, "
                "so it needs more_on="
            )
        if self.more_on is not None:
            if self.join == "none":
                raise TermError(
                    f"mi(more_on={self.more_on!r}, join='none'): instances added later need "
                    "a join that waits for them"
                )
            if self.close_on is None and self.complete_on is None and self.until is None:
                raise TermError(
                    f"mi(more_on={self.more_on!r}): instances may be added for ever; give "
                    "close_on= (no more instances), complete_on= or until="
                )

    def _check_cancel_rest(self) -> None:
        cancel_rest = self.cancel_rest
        if not isinstance(cancel_rest, bool):
            raise TermTypeError(f"mi(cancel_rest={cancel_rest!r}): cancel_rest must be a bool")
        if cancel_rest and not (is_int(self.join) or callable(self.join)):
            raise TermError(
                f"mi(join={self.join!r}, cancel_rest=True): cancel_rest needs a partial join "
                "(join=n or join=fn): with join='all' no instance is left to withdraw, with "
                "join='none' nothing waits"
            )

    @property
    def signals(self) -> tuple[str, ...]:
        """The signal names the activity watches (``more_on``, ``close_on``, ``complete_on``)."""
        return tuple(s for s in (self.more_on, self.close_on, self.complete_on) if s is not None)

    @property
    def dynamic(self) -> bool:
        """Whether it uses an option of WCP-15/27/35/36 (more than counting arrivals)."""
        return (
            self.cancel_rest
            or callable(self.join)
            or self.until is not None
            or self.complete_on is not None
            or self.more_on is not None
        )

    def children(self) -> tuple[Term, ...]:
        return (self.body,)

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (
            (
                self.count,
                self.items,
                self.join,
                self.collect,
                self.item_key,
                self.cancel_rest,
                self.until,
                self.complete_on,
                self.more_on,
                self.close_on,
            ),
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
        if callable(self.join):
            parts.append(f"join={fn_name(self.join)}")
        elif self.join != "all":
            parts.append(f"join={self.join!r}")
        if self.collect is not None:
            parts.append(f"collect={self.collect!r}")
        if self.item_key != "item":
            parts.append(f"item_key={self.item_key!r}")
        if self.cancel_rest:
            parts.append("cancel_rest=True")
        if self.until is not None:
            parts.append(f"until={fn_name(self.until)}")
        for arg in ("complete_on", "more_on", "close_on"):
            v = getattr(self, arg)
            if v is not None:
                parts.append(f"{arg}={v!r}")
        return ["mi(", self.body, "".join(f", {p}" for p in parts), ")"]
