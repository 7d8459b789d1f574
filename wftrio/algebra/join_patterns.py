"""Derived patterns of the join family added with issue 14 (WCP-28, 31, 41, 42).

Built only from the kernel constructors, like :mod:`wftrio.algebra.patterns`
(whose ``CATALOGUE`` lists them); public through :mod:`wftrio.patterns`.
"""

from __future__ import annotations

from wftrio.algebra.constructors import join
from wftrio.algebra.nodes import Join, Term
from wftrio.algebra.policies import first
from wftrio.algebra.threads import Threads, threads

__all__ = ["blocking_discriminator", "blocking_partial_join", "thread_merge", "thread_split"]


def blocking_discriminator(*branches: Term) -> Join:
    """Blocking discriminator (WCP-28).

    Term form: ``join(first(1, blocking=True), *branches)``.  What follows
    runs once, when the first branch arrives; the other branches run on and
    are absorbed.  Reached again (a loop around it) before every branch has
    arrived, the join holds the new activation's arrivals until the previous
    one resets; the late branches are never cancelled.
    """
    return join(first(1, blocking=True), *branches)


def blocking_partial_join(n: int, *branches: Term) -> Join:
    """Blocking partial join (WCP-31).

    Term form: ``join(first(n, blocking=True), *branches)``: as
    :func:`blocking_discriminator`, firing on the ``n``-th arrival.

    Raises:
        TermError: ``n`` is not an int >= 1 or exceeds the number of branches.
    """
    return join(first(n, blocking=True), *branches)


def thread_split(n: int, body: Term) -> Threads:
    """Thread split (WCP-42).  Term form: ``threads(n, body)``.

    ``n`` threads of control start at ``body`` within one branch, sharing
    its ctx; :func:`thread_merge` is the same term seen from its end.

    Raises:
        TermTypeError: ``n`` is not an int >= 1, or ``body`` not a term.
    """
    return threads(n, body)


def thread_merge(n: int, body: Term) -> Threads:
    """Thread merge (WCP-41).  Term form: ``threads(n, body)``.

    The ``n`` threads running ``body`` in one branch merge into one thread
    of control: what follows runs once, after every thread has finished.

    Raises:
        TermTypeError: ``n`` is not an int >= 1, or ``body`` not a term.
    """
    return threads(n, body)
