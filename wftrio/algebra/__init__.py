"""The pattern algebra: terms, their constructors and policies, and derived patterns.

The bottom layer of wftrio (see docs/ARCHITECTURE.md): it imports nothing
from the package except :mod:`wftrio.errors`, and no trio.

* :mod:`~wftrio.algebra.nodes` -- the frozen term classes, which check their
  own fields, plus :func:`~wftrio.algebra.nodes.walk`;
* :mod:`~wftrio.algebra.constructors` -- ``task``, ``seq``, ``par``, ... ;
* :mod:`~wftrio.algebra.policies` -- ``Retry``, ``First`` / ``first``;
* :mod:`~wftrio.algebra.approval` -- the approval signal, its payloads and
  decision steps;
* :mod:`~wftrio.algebra.patterns` -- the named derived patterns (WCPs);
* :mod:`~wftrio.algebra.checks` -- argument checks shared with upper layers
  (``is_int``: an int that is not a bool).

Users import these names from :mod:`wftrio` (or the public façades
:mod:`wftrio.terms` and :mod:`wftrio.patterns`), never from here.
"""
