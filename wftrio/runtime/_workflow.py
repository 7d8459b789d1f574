"""What the runtime learns about a workflow before running it: its signals and regions.

Derived from the term once per term (terms are hashable, and cache their
hash) and kept in a small cache, so ``sub.signal`` can refuse a signal no
step of the workflow can ever consume without looking at the program.
"""

from __future__ import annotations

from collections.abc import Iterator

from wftrio.algebra.call_node import callees
from wftrio.terms import MI, Call, Defer, OnSignal, Region, Term, WaitSignal, walk

__all__ = ["region_names", "signal_names"]

_CACHE: dict[Term, frozenset[str]] = {}
_REGIONS: dict[Term, frozenset[str]] = {}
_CACHE_SIZE = 512


def _nodes(term: Term) -> Iterator[Term]:
    """Every node of ``term`` and of the workflows it calls (WCP-22), each callee once."""
    for top in (term, *(callee for _, callee in callees(term))):
        for _, node in walk(top):
            yield node


def region_names(term: Term) -> frozenset[str]:
    """Every region id of ``term``, of the workflows it calls and of its calls' regions."""
    names = _REGIONS.get(term)
    if names is not None:
        return names
    found: set[str] = set()
    for node in _nodes(term):
        if isinstance(node, Region | Call):
            found.add(node.scope_id)
    names = frozenset(found)
    if len(_REGIONS) >= _CACHE_SIZE:
        _REGIONS.clear()
    _REGIONS[term] = names
    return names


def signal_names(term: Term) -> frozenset[str]:
    """Every signal name a ``wait_signal``, ``on_signal`` or ``mi`` inside ``term`` waits for.

    Includes the workflows ``term`` calls.  An iterative walk (terms nested
    10,000 deep are fine), cached per term.
    """
    names = _CACHE.get(term)
    if names is not None:
        return names
    found: set[str] = set()
    for node in _nodes(term):
        if isinstance(node, WaitSignal):
            found.add(node.name)
        elif isinstance(node, Defer):
            found.update(a.name for a in node.alternatives if isinstance(a, OnSignal))
        elif isinstance(node, MI):
            found.update(node.signals)  # its watchers (WCP-15, WCP-27)
    names = frozenset(found)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[term] = names
    return names
