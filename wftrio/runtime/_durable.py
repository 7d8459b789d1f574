"""A durable case's link to its store, and resuming the cases a store holds.

The runner hands each committed burst to :meth:`CaseLog.commit` (events as
JSON lines, and the ids of the requests the burst consumed, in one
transaction); a resumed case replays its committed events, and
:class:`CaseLog` skips the ones already stored (a replay emits the same
events with the same ``seq``).  Nothing is written once the substrate is
closing: the cancellation a shutdown imposes on live cases is not their
end, so the store keeps them unfinished and the next substrate resumes them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

from wftrio.errors import (
    ReplayDivergence,
    SerializationError,
    StoreCorrupt,
    UnknownWorkflow,
    UnstorableValue,
    WorkflowVersionMismatch,
)
from wftrio.runtime._messages import CancelCase, CancelRegion, Message, Signal
from wftrio.scheduling import Replay
from wftrio.serialize import dumps_trace
from wftrio.stores import DurableStore, StoredCase, StoredRequest
from wftrio.trace import TraceEvent, replay_log

if TYPE_CHECKING:
    from wftrio.runtime._substrate import Substrate

__all__ = ["CaseLog", "check_json", "resume_cases"]

logger = logging.getLogger("wftrio.runtime")


def check_json(value: Any, what: str) -> None:
    """Refuse a value a durable store cannot keep.

    Raises:
        UnstorableValue: ``value`` is not JSON.
    """
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise UnstorableValue(f"{what} must be JSON to be stored durably: {exc}") from None


class CaseLog:
    """Where a durable case's bursts go.

    Attributes:
        store: the substrate's durable store.
        case_id: the case.
        stored: events already in the store (a resumed case's replay skips them).
        consumed: ids of the requests fed since the last commit.
        broken: an event could not be stored; the case failed, and only its
            final state is stored from then on.
        deliver: a resumed case's requests committed but not consumed, put
            in its inbox once the case has emitted every stored event again
            (fed earlier, they would make a history other than the stored one).
    """

    __slots__ = ("broken", "case_id", "consumed", "deliver", "store", "stored")

    def __init__(self, store: DurableStore, case_id: str, stored: int) -> None:
        self.store = store
        self.case_id = case_id
        self.stored = stored
        self.consumed: list[int] = []
        self.broken = False
        self.deliver: list[Message] = []

    def commit(self, events: Sequence[TraceEvent]) -> UnstorableValue | None:
        """Queue one burst; the error to fail the case with if it cannot be stored."""
        if self.broken:
            return None
        skip = self.stored
        new = [ev for ev in events if ev.seq >= skip] if skip else events
        if not new and not self.consumed:
            return None
        try:
            lines = dumps_trace(new).splitlines()
        except SerializationError as exc:
            self.broken = True
            return UnstorableValue(
                f"case {self.case_id!r}: an event cannot be stored: {exc} (effect results "
                "and signal payloads of a durable case must be JSON)"
            )
        consumed, self.consumed = self.consumed, []
        self.store.append(
            self.case_id, [(ev.seq, ln) for ev, ln in zip(new, lines, strict=True)], consumed
        )
        return None

    def finish(self, state: str) -> None:
        """Queue the case's final state."""
        self.store.finish(self.case_id, state)


def _message(req: StoredRequest, now: float) -> Message:
    if req.kind == "signal":
        assert req.name is not None
        return Signal(req.name, req.payload, req.transient, req.req)
    if req.kind == "cancel":
        return CancelCase(now, req.req)
    assert req.name is not None
    return CancelRegion(req.name, req.req)


async def resume_cases(sub: Substrate, found: Sequence[StoredCase | Exception]) -> None:
    """Resume every unfinished stored case; note the ones that cannot be in ``sub.unresumed``.

    A case resumes on the registered workflow version it started on (its
    Program fingerprint checked), through a replay of its committed events;
    then the requests committed but not consumed are delivered to it.
    """
    for item in found:
        if isinstance(item, Exception):
            sub.unresumed[getattr(item, "case_id", "?")] = item
            continue
        try:
            entry = sub.registry.check(item.workflow, item.version, item.fingerprint)
            options: dict[str, Any] = {"trace_level": item.trace_level, "validate": False}
            if item.events:
                try:
                    log = replay_log(item.events)
                    # past its stored choices the case goes on as it started
                    deterministic = log.scheduler == "deterministic"
                    options["scheduler"] = Replay(log, then_deterministic=deterministic)
                except (ValueError, ReplayDivergence) as exc:
                    raise StoreCorrupt(
                        f"stored case {item.case_id!r}: its events do not replay: {exc}",
                        item.case_id,
                    ) from exc
        except (WorkflowVersionMismatch, UnknownWorkflow, StoreCorrupt) as exc:
            logger.error("stored case %r cannot resume: %s", item.case_id, exc)
            sub.unresumed[item.case_id] = exc
            continue
        now = trio.current_time()
        await sub.resume_case(entry, item, options, [_message(r, now) for r in item.pending])
