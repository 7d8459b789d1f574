"""Branches that end without arriving: ``halt()`` in a synchronising merge (WCP-33/37/38).

A ``choice`` / ``join("sync_merge", ...)`` waits for exactly the branches it
started.  A branch may instead end with ``halt()``: its thread of control
ends there, and the join stops waiting for it.  The join fires as soon as no
live token of its activation can still reach it.

Which tokens can still reach the join is decided at compile time:
:func:`check_halts` admits a ``halt()`` only where its nearest enclosing
split is a synchronising merge, with nothing between them but ``seq``,
``xor``, ``loop``, ``defer`` (and what ``machine`` is built from).  From
every other instruction of such a branch the join is reachable, so at run
time "no live token can still reach the join" is exactly "every branch
started has arrived or halted": the reducer counts a halt like an arrival
that does not fire the continuation (``needed`` and ``started`` both drop).
A token looping inside a branch, or waiting, is live and still counts.
"""

from __future__ import annotations

import attrs

from wftrio.algebra._base import EqKey, Parts
from wftrio.algebra.nodes import (
    After,
    Branch,
    Defer,
    Join,
    Loop,
    OnSignal,
    Seq,
    Term,
    Xor,
    node_label,
)
from wftrio.errors import TermError

__all__ = ["Halt", "check_halts", "halt"]

# terms that keep their children in the same thread of control and frame
_TRANSPARENT = (Seq, Xor, Loop, Defer, OnSignal, After, Branch)


@attrs.frozen(repr=False, eq=False)
class Halt(Term):
    """End this branch without arriving at its synchronising merge (see :func:`halt`)."""

    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        self._seal()

    def _eq_key(self) -> EqKey:
        return (), ()

    def _repr_parts(self) -> Parts:
        return ["halt()"]


def halt() -> Halt:
    """End this branch of a synchronising merge without arriving at it.

    Allowed only inside a branch of ``choice(...)`` / ``join("sync_merge",
    ...)``, with only ``seq``, ``xor``, ``loop``, ``defer`` (or a
    ``machine``) between the join and the ``halt()``; anywhere else
    compiling the term raises :class:`~wftrio.errors.TermError`.  The join
    then waits for the branches that are still live and fires once every
    branch started has arrived or halted (with none arrived, when every
    branch halted, it still fires once).  ``halt()`` withdraws nothing: other
    branches run on.
    """
    return Halt()


def check_halts(term: Term) -> None:
    """Raise :class:`~wftrio.errors.TermError` for a ``halt()`` outside a synchronising merge.

    ``term`` is walked with an explicit stack (any depth); the message names
    the node path of the first offending ``halt()`` and the construct that
    blocks it.  The walk builds no paths unless it finds one (compile runs
    it on every term).
    """
    stack: list[tuple[Term, bool]] = [(term, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, ok = pop()
        if type(node) is Halt:
            if not ok:
                _raise_first(term)
            continue
        if isinstance(node, Join):
            ok = node.policy == "sync_merge"
        elif not isinstance(node, _TRANSPARENT):
            ok = False
        for kid in node.children():
            push((kid, ok))


def _raise_first(term: Term) -> None:
    """Raise for the first misplaced ``halt()``, naming its path and what blocks it."""
    # (node, its path, why a halt here is not allowed, or None when it is)
    stack: list[tuple[Term, str, str | None]] = [(term, "", "it is not inside a branch")]
    while stack:
        node, p, why = stack.pop()
        if isinstance(node, Branch | OnSignal | After):
            here = p
        else:
            label = node_label(node)
            here = f"{p}.{label}" if p else label
        if isinstance(node, Halt):
            if why is not None:
                raise TermError(
                    f"halt() at {here}: {why}; halt() ends a branch of a synchronising merge "
                    "(choice(...) or join('sync_merge', ...)) with only seq, xor, loop and "
                    "defer between them"
                )
            continue
        if isinstance(node, Join):
            kid_why = (
                None
                if node.policy == "sync_merge"
                else f"its nearest split, {here}, is not a synchronising merge"
            )
        elif isinstance(node, _TRANSPARENT):
            kid_why = why
        else:
            kid_why = f"it stands inside {here}, whose thread of control it would end"
        kids = node.children()
        for i in range(len(kids) - 1, -1, -1):
            kid_path = here if isinstance(node, Branch | OnSignal | After) else f"{here}[{i}]"
            stack.append((kids[i], kid_path, kid_why))
    raise TermError("halt(): outside a branch of a synchronising merge")  # pragma: no cover
