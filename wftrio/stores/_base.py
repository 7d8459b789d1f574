"""The store seam: what a substrate asks of the place it keeps cases in."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeAlias

import attrs
import trio

from wftrio.trace import TraceEvent

__all__ = ["DurableStore", "RequestKind", "Store", "StoredCase", "StoredRequest"]

RequestKind: TypeAlias = Literal["signal", "cancel", "cancel_region"]


@attrs.frozen
class StoredRequest:
    """A committed request to a case (a signal or a cancellation).

    Attributes:
        req: its id, unique within the case, in the order it was committed.
        kind: ``"signal"``, ``"cancel"`` or ``"cancel_region"``.
        name: the signal name or region id (``None`` for ``"cancel"``).
        payload: the signal payload (JSON).
        transient: whether the signal is transient.
    """

    req: int
    kind: RequestKind
    name: str | None = None
    payload: Any = None
    transient: bool = False


@attrs.frozen
class StoredCase:
    """An unfinished case as a store read it back, ready to resume.

    Attributes:
        case_id: the case id.
        workflow: its registered workflow name.
        version: the workflow version it started on.
        fingerprint: that version's Program fingerprint.
        root: the case's causal root (its idempotency keys derive from it).
        trace_level: the trace level it was recorded at (``"min"`` or ``"full"``).
        ctx: its initial ctx.
        events: its committed trace events, in order (with a snapshot, only
            the ones committed after it).
        pending: the requests committed but not yet consumed, in order.
        options: the options it was started with, as the JSON text the
            runtime wrote (``wftrio.runtime._stored``).
        created: when it was created, on the store's clock (wall-clock seconds).
        timers: the wall-clock deadline (store's clock) of every timer it
            armed and that may still be pending, by timer id.
        snapshot: its latest snapshot (``dumps_snapshot`` JSON), or ``None``.
        snapshot_seq: the trace ``seq`` the snapshot continues at (the number
            of events committed before it); 0 without a snapshot.
        snapshot_runner: the runner state (``"waiting_signal"``...) the case
            was in when the snapshot was taken.
    """

    case_id: str
    workflow: str
    version: int
    fingerprint: str
    root: str
    trace_level: str
    ctx: Mapping[str, Any]
    events: tuple[TraceEvent, ...] = ()
    pending: tuple[StoredRequest, ...] = ()
    options: str = "{}"
    created: float = 0.0
    timers: Mapping[int, float] = attrs.field(factory=dict)
    snapshot: str | None = None
    snapshot_seq: int = 0
    snapshot_runner: str = "running"


class Store(Protocol):
    """What a substrate needs from any store.

    ``durable`` False (``MemoryStore``): the substrate keeps nothing there,
    and cases cost nothing extra.  ``durable`` True: the store is also a
    :class:`DurableStore`.
    """

    @property
    def durable(self) -> bool:
        """Whether the store keeps cases beyond the process."""
        ...

    async def open(self, nursery: trio.Nursery) -> Sequence[StoredCase | Exception]:
        """Take ownership of the store; return its unfinished cases.

        An unreadable case comes back as the typed error describing it (a
        :class:`~wftrio.errors.StoreCorrupt` whose ``case_id`` names it).
        """
        ...

    async def aclose(self) -> None:
        """Commit everything queued, then release the store."""
        ...


class DurableStore(Store, Protocol):
    """A store that commits what the runner hands it, in order, each call in one transaction."""

    @property
    def clock(self) -> Callable[[], float]:
        """The store's wall clock (seconds; timer deadlines and creation times are on it)."""
        ...

    @property
    def snapshot_every(self) -> int | None:
        """Store a snapshot of a case after every this many committed bursts (None: never)."""
        ...

    async def create_case(self, case: StoredCase) -> None:
        """Store a new case (its workflow, root, level and ctx); returns once committed."""
        ...

    def append(
        self,
        case_id: str,
        events: Sequence[tuple[int, str]],
        consumed: Sequence[int],
        *,
        timers: Sequence[tuple[int, float]] = (),
        snapshot: tuple[int, str, str, tuple[int, ...]] | None = None,
        ctx: tuple[int, str] | None = None,
    ) -> None:
        """Queue one burst: events (``(seq, JSON line)``) and the requests it consumed.

        ``timers``: the ``(timer id, wall-clock deadline)`` of timers the burst
        armed; ``snapshot``: ``(seq, runner state, JSON, ids of the timers
        still armed)`` of the case's state after the burst (it replaces the
        case's previous snapshot, and the deadlines of its other timers,
        fired or withdrawn, are dropped); ``ctx``: ``(events committed,
        JSON)`` of the case's ctx after the burst, when it changed (it
        replaces the one stored before, for readers outside the process:
        :func:`~wftrio.stores._outside.read_ctx`).  All in the burst's
        transaction.
        """
        ...

    def finish(self, case_id: str, state: str, ctx: tuple[int, str] | None = None) -> None:
        """Queue the case's final state (the case is not resumed again), and its final ctx."""
        ...

    async def request(
        self, case_id: str, kind: RequestKind, name: str | None, payload: Any, transient: bool
    ) -> int:
        """Commit a request to a case; return its id once it is committed."""
        ...
