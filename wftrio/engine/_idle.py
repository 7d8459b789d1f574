"""A waiting state's empty work lists, swapped for one shared read-only list while it idles.

A case waiting on a signal keeps three empty lists (its trace events since
the last ``take_events``, its outbox, its ready stack).  Lists are always
tracked by CPython's cyclic collector, which traverses every tracked object
at each collection of its oldest generation: with 100,000 waiting cases the
time per start grew with the number of cases (docs/BENCHMARKS.md, figure
12b).  A host that leaves a state untouched until the next input (the
runtime's parked cases) calls :func:`idle`, and :func:`wake` before it feeds
the state anything.  While idle the three fields hold :data:`IDLE_LIST`,
which reads as an empty list and raises ``TypeError`` on any change, so a
state fed without :func:`wake` fails loudly rather than sharing its lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from wftrio.engine._state import ExecState

__all__ = ["IDLE_LIST", "idle", "wake"]


class _IdleList(list[Any]):
    """The shared empty list of idle states: every mutating method raises TypeError."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("an idle ExecState was changed: call engine wake(st) first")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __copy__(self) -> _IdleList:
        return self

    def __deepcopy__(self, memo: Any) -> _IdleList:
        return self

    def __reduce__(self) -> str:
        return "IDLE_LIST"


IDLE_LIST: list[Any] = _IdleList()
"""The read-only empty list an idle state's ``_events``, ``outbox`` and ``ready`` hold."""


def idle(st: ExecState) -> bool:
    """Swap ``st``'s empty event list, outbox and ready stack for :data:`IDLE_LIST`.

    Only when all three are empty lists and no compact record waits to be
    built (the state blocked and its host took its events and commands);
    returns whether it did.  Until :func:`wake`, the state may be read but
    not changed: no input, no ``run``.
    """
    if st.outbox or st.ready or st._events or st._lazy or type(st.ready) is not list:
        return False
    st.outbox = st.ready = st._events = IDLE_LIST
    return True


def wake(st: ExecState) -> None:
    """Give an idle state fresh lists again (nothing if it is not idle)."""
    if st.outbox is IDLE_LIST:
        st.outbox = []
    if st.ready is IDLE_LIST:
        st.ready = []
    if st._events is IDLE_LIST:
        st._events = []
