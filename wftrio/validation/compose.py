"""Soundness by construction: block-structured terms whose findings are known.

A term built only from

* user tasks without an ``on_error`` term (sync, not wftrio's own pattern
  bookkeeping),
* ``seq``, ``par`` / ``join("all")`` / ``join("sync_merge")`` / ``choice``
  and ``xor`` (conditions are user conditions),
* ``loop`` with ``times >= 1`` or a ``while_`` / ``until`` user condition,
* ``mi`` with ``join="all"`` and a count ``>= 1``, a non-empty item list, or
  a computed count or item list,
* ``region`` (only while region cancellations are not explored: the
  compensation then never runs and is not reported),

each around terms of the same kind, has no state the exploration could
report: every token is always enabled (nothing waits for a signal, an
effect or a timer), every join waits for exactly the branches it started
and every instance (so each fires once all of them arrive, in any order),
no step withdraws another token, every loop can be left (a count, or a
condition the abstraction lets be false), and every task runs on some path
(every alternative and guard can be chosen, every count runs the body at
least once on some path).  So the exploration would find no WF201, WF202,
WF204, WF205 or WF206, and would hit no bound but the ones large terms
hit by size alone: :func:`sound_by_construction` says so in time linear in
the term, and the validator then skips the exploration.

A failure the abstraction lets happen (a ``choice`` whose guards are all
false, an ``xor`` with no default whose conditions are all false) ends the
case ``FAILED``; the other outcomes still complete, so it is no finding here
either.  Everything else (waits, ``defer``, effects, ``first(n)``,
``mi(join=n | "none")``, ``terminate()``, a count of 0, wftrio's own lock
and routing functions, explored cancellations) is explored.
"""

from __future__ import annotations

from wftrio.terms import MI, Join, Loop, Region, Seq, Task, Term, Xor
from wftrio.validation.abstract import is_trusted

__all__ = ["sound_by_construction"]


def _untrusted(fn: object) -> bool:
    return fn is None or not is_trusted(fn)


def sound_by_construction(term: Term, *, cancel_regions: bool = False) -> bool:
    """Whether ``term`` is block-structured and pure enough to need no exploration.

    See the module docs for the constructors and the reasoning.  Linear in
    the term (an explicit stack: deep terms are fine).
    """
    stack: list[Term] = [term]
    while stack:
        node = stack.pop()
        if isinstance(node, Task):
            opts = node.options
            if (
                node.is_effect
                or is_trusted(node.fn)
                or (opts is not None and opts.on_error is not None)
            ):
                return False
        elif isinstance(node, Seq):
            stack.extend(node.terms)
        elif isinstance(node, Join):
            if node.policy not in ("all", "sync_merge"):
                return False
            for br in node.branches:
                if not _untrusted(br.cond):
                    return False
                stack.append(br.term)
        elif isinstance(node, Xor):
            for br in node.alternatives:
                if not _untrusted(br.cond):
                    return False
                stack.append(br.term)
        elif isinstance(node, Loop):
            if node.times is not None:
                if node.times < 1:
                    return False
            elif not (_untrusted(node.while_) and _untrusted(node.until)):
                return False
            stack.append(node.body)
        elif isinstance(node, MI):
            if node.join != "all":
                return False
            count, items = node.count, node.items
            if callable(count) or callable(items):
                if is_trusted(count) or is_trusted(items):
                    return False
            elif items is not None:
                if not items:
                    return False
            elif not (isinstance(count, int) and count >= 1):
                return False
            stack.append(node.body)
        elif isinstance(node, Region):
            if cancel_regions:
                return False
            stack.append(node.term)
        else:
            return False
    return True
