"""The multiple-instance patterns WCP-15, 27, 35 and 36, as named aliases of ``mi``.

Each function here is a thin alias documenting which ``mi`` options
realise a pattern; the engine runs them with the ``mi_spawn`` /
``mi_done`` instructions (see docs/SEMANTICS.md, "Multiple instances").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from wftrio.algebra.constructors import mi
from wftrio.algebra.mi_node import MI, ResultsCond
from wftrio.algebra.nodes import Ctx, Term
from wftrio.errors import TermError

__all__ = [
    "cancelling_partial_join_mi",
    "complete_mi_activity",
    "dynamic_partial_join_mi",
    "mi_without_a_priori_runtime_knowledge",
]


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


def complete_mi_activity(
    body: Term,
    *,
    count: int | Callable[[Ctx], int] | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] | None = None,
    until: ResultsCond | None = None,
    complete_on: str | None = None,
    collect: str | None = None,
    item_key: str = "item",
) -> MI:
    """Complete multiple instance activity (WCP-27).

    Term form: ``mi(body, count=/items=, until=cond, complete_on=signal)``:
    the activity completes when every instance is done, or earlier when
    ``until(results)`` holds for the instances finished so far (from
    inside) or the signal ``complete_on`` arrives (from outside); then the
    instances still running are withdrawn without compensation, none is
    spawned any more, and control continues.  ``collect=`` lists the
    finished instances' results in item order.

    Raises:
        TermError: neither ``until`` nor ``complete_on`` given, or as
            :func:`~wftrio.terms.mi`.
    """
    if until is None and complete_on is None:
        raise TermError("complete_mi_activity(...): give until=, complete_on= or both")
    return mi(
        body,
        count=count,
        items=items,
        collect=collect,
        item_key=item_key,
        until=until,
        complete_on=complete_on,
    )


def mi_without_a_priori_runtime_knowledge(
    body: Term,
    *,
    more_on: str,
    close_on: str | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] = (),
    until: ResultsCond | None = None,
    complete_on: str | None = None,
    collect: str | None = None,
    item_key: str = "item",
) -> MI:
    """Multiple instances without a priori run-time knowledge (WCP-15).

    Term form: ``mi(body, items=..., more_on=signal, close_on=signal)``: the
    activity starts one instance per item (none by default), and every
    ``more_on`` signal adds one more while it runs, the signal's payload
    its item; ``close_on`` ends the adding, and the activity continues once
    every instance started is done.  ``until`` / ``complete_on`` end it
    early instead, as for :func:`complete_mi_activity`.

    Raises:
        TermError: nothing ends the adding (no ``close_on``, ``until`` or
            ``complete_on``), or as :func:`~wftrio.terms.mi`.
    """
    return mi(
        body,
        items=items,
        collect=collect,
        item_key=item_key,
        until=until,
        complete_on=complete_on,
        more_on=more_on,
        close_on=close_on,
    )


def dynamic_partial_join_mi(
    body: Term,
    when: ResultsCond,
    *,
    more_on: str,
    close_on: str | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] = (),
    cancel_rest: bool = False,
    complete_on: str | None = None,
    collect: str | None = None,
    item_key: str = "item",
) -> MI:
    """Dynamic partial join for multiple instances (WCP-36).

    Term form: ``mi(body, items=..., join=cond, more_on=signal, close_on=signal)``:
    instances are added while the activity runs (as in WCP-15), and control
    continues as soon as ``when(results)`` holds for the instances finished
    so far (or, if it never does, once every instance is done and the adding
    closed); later instances finish and are absorbed, or are withdrawn with
    ``cancel_rest=True``.

    Raises:
        TermError: as :func:`~wftrio.terms.mi`.
        TermTypeError: ``when`` not a synchronous callable.
    """
    return mi(
        body,
        items=items,
        join=when,
        collect=collect,
        item_key=item_key,
        cancel_rest=cancel_rest,
        complete_on=complete_on,
        more_on=more_on,
        close_on=close_on,
    )
