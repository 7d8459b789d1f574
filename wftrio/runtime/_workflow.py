"""What the runtime learns about a workflow before running it: the signals it waits for.

Derived from the term once per term (terms are hashable, and cache their
hash) and kept in a small cache, so ``sub.signal`` can refuse a signal no
step of the workflow can ever consume without looking at the program.
"""

from __future__ import annotations

from wftrio.terms import MI, Defer, OnSignal, Term, WaitSignal

__all__ = ["signal_names"]

_CACHE: dict[Term, frozenset[str]] = {}
_CACHE_SIZE = 512


def signal_names(term: Term) -> frozenset[str]:
    """Every signal name a ``wait_signal``, ``on_signal`` or ``mi`` inside ``term`` waits for.

    An iterative walk (terms nested 10,000 deep are fine), cached per term.
    """
    names = _CACHE.get(term)
    if names is not None:
        return names
    found: set[str] = set()
    stack = [term]
    while stack:
        node = stack.pop()
        if isinstance(node, WaitSignal):
            found.add(node.name)
        elif isinstance(node, Defer):
            found.update(a.name for a in node.alternatives if isinstance(a, OnSignal))
        elif isinstance(node, MI):
            found.update(node.signals)  # its watchers (WCP-15, WCP-27)
        stack.extend(node.children())
    names = frozenset(found)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[term] = names
    return names
