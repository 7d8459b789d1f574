"""What the term strategy draws for the MI patterns (WCP-15, 27, 35, 36)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

__all__ = ["finished_at_least", "mi_pattern_options"]


def finished_at_least(k: int) -> Callable[[list[Any]], bool]:
    """An ``mi(until=...)`` / ``mi(join=...)`` condition: ``k`` instances finished."""

    def cond(results: list[Any]) -> bool:
        return len(results) >= k

    cond.__qualname__ = cond.__name__ = f"finished_at_least({k})"
    return cond


def mi_pattern_options(join: object, signals: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """The options of the MI patterns an ``mi`` with ``join`` may take.

    ``cancel_rest`` (WCP-35) with ``join=n``; with ``join="all"``: ``until``
    (WCP-27), a condition as the join (WCP-36), and, given signal names,
    ``complete_on`` (WCP-27) or ``more_on`` / ``close_on`` (WCP-15).
    """
    if isinstance(join, int):
        return st.sampled_from(({}, {"cancel_rest": True}))
    if join != "all":
        return st.just({})
    k = st.integers(1, 2)
    options: list[st.SearchStrategy[dict[str, Any]]] = [
        st.just({}),
        k.map(lambda n: {"until": finished_at_least(n)}),
        k.map(lambda n: {"join": finished_at_least(n)}),
    ]
    if len(signals) >= 2:
        names = st.permutations(signals).map(lambda p: p[:2])
        options.append(st.sampled_from(signals).map(lambda s: {"complete_on": s}))
        options.append(names.map(lambda p: {"more_on": p[0], "close_on": p[1]}))
    return st.one_of(options)
