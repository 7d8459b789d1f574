"""The multiple-instance patterns beyond WCP-12..14, 26 and 34, as named aliases of ``mi``.

Each function here is a thin alias documenting which ``mi`` options
realise a pattern; the engine runs them with the ``mi_spawn`` /
``mi_done`` instructions (see docs/SEMANTICS.md, "Multiple instances").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from wftrio.algebra.constructors import mi
from wftrio.algebra.mi_node import MI
from wftrio.algebra.nodes import Ctx, Term

__all__ = ["cancelling_partial_join_mi"]


def cancelling_partial_join_mi(
    body: Term,
    n: int,
    *,
    count: int | Callable[[Ctx], int] | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] | None = None,
    collect: str | None = None,
    item_key: str = "item",
) -> MI:
    """Cancelling partial join for multiple instances (WCP-35).

    Term form: ``mi(body, count=/items=, join=n, cancel_rest=True)``:
    control continues once ``n`` instances are done; the instances still
    running are withdrawn (their effects cancelled, their waits dropped, no
    compensation) and those not yet spawned never start.  ``collect=``
    lists the ``n`` finished instances' results in item order.

    Raises:
        TermError: as :func:`~wftrio.terms.mi`, e.g. ``n`` above a fixed
            number of instances.
    """
    return mi(
        body,
        count=count,
        items=items,
        join=n,
        collect=collect,
        item_key=item_key,
        cancel_rest=True,
    )
