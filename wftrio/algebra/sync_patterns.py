"""Generalised AND-join (WCP-33), local (WCP-37) and general (WCP-38) synchronising merge.

One construct: a synchronising merge whose branches may end with
:func:`wftrio.algebra.sync.halt`.  Built only from kernel constructors, like
:mod:`wftrio.algebra.patterns` (whose ``CATALOGUE`` lists them); public
through :mod:`wftrio.patterns`.
"""

from __future__ import annotations

from wftrio.algebra.constructors import choice, join
from wftrio.algebra.nodes import Branch, Join, Term
from wftrio.errors import TermError

__all__ = ["general_synchronizing_merge", "generalised_and_join", "local_synchronizing_merge"]


def generalised_and_join(*branches: Term) -> Join:
    """Generalised AND-join (WCP-33).

    Term form: ``join("sync_merge", *branches)``, each branch unconditioned
    (all start) and free to end with ``halt()``.  What follows runs once,
    when every branch that did not halt has arrived: an AND-join over the
    branches still running, tolerant of branches withdrawn by ``halt()``.
    Reached again (a loop around it), the join is a new activation: the
    arrivals of two rounds never mix.

    Raises:
        TermError: no branches, or a conditioned ``branch(...)`` (use
            :func:`local_synchronizing_merge`).
    """
    for i, b in enumerate(branches):
        if isinstance(b, Branch):
            raise TermError(
                f"generalised_and_join[{i}]: every branch starts, so it takes no condition; "
                "use local_synchronizing_merge(...) for conditioned branches"
            )
    return join("sync_merge", *branches)


def local_synchronizing_merge(*branches: Term) -> Join:
    """Local synchronising merge (WCP-37).

    Term form: ``choice(*branches)``, a branch free to end with ``halt()``.
    The split starts the branches whose conditions hold; the join decides
    from its own activation alone (branches started, arrived, halted) when
    no branch can still arrive, and fires then.

    Raises:
        TermError: no branches.
    """
    return choice(*branches)


def general_synchronizing_merge(*branches: Term) -> Join:
    """General synchronising merge (WCP-38).

    Term form: ``join("sync_merge", *branches)``, a branch free to loop
    (``loop``, ``machine``) and to end with ``halt()`` on any round.  A
    token that may still come round to the join counts as live: the join
    fires once every branch started has arrived or halted, never on a
    timeout.

    Raises:
        TermError: no branches.
    """
    return join("sync_merge", *branches)
