"""A substrate as one worker over a ``wf.PostgresStore`` (docs/SCALING.md).

:func:`serve_postgres` links the store's claim loop and request listener
to the substrate: claimed cases resume through :func:`resume_cases` (the
path a restarted SQLite substrate takes), remote requests reach the local
case's inbox (as ``sub.signal`` / ``cancel`` / ``cancel_region`` would put
them, with their committed ids), and a case the store found owned
elsewhere (fencing) is cancelled here without writing anything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

from wftrio.runtime._durable import _message, resume_cases
from wftrio.runtime._messages import CancelCase
from wftrio.runtime._types import FINAL_STATES
from wftrio.runtime._workflow import region_names, signal_names
from wftrio.stores import StoredCase, StoredRequest
from wftrio.stores._postgres import PostgresStore

if TYPE_CHECKING:
    from wftrio.runtime._substrate import Substrate

__all__ = ["serve_postgres"]

logger = logging.getLogger("wftrio.runtime")


async def serve_postgres(sub: Substrate, store: PostgresStore) -> None:
    """Start claiming cases for ``sub`` and taking the requests other processes commit.

    Returns once the registered workflows are recorded (a client may start
    their cases from then on).
    """

    def workflows() -> list[tuple[str, int, str, Any, Any]]:
        return [
            (e.name, e.version, e.fingerprint, signal_names(e.term), region_names(e.term))
            for e in sub.registry
        ]

    await store.note_workflows(workflows())

    async def resume(found: Sequence[StoredCase | Exception]) -> None:
        for item in found:
            if isinstance(item, StoredCase):
                old = sub._cases.get(item.case_id)  # noqa: SLF001
                if old is not None and old.state in FINAL_STATES:
                    sub.forget(item.case_id)  # dropped here earlier, claimed back now
        if not sub.closing:
            await resume_cases(sub, found)

    def deliver(case_id: str, req: StoredRequest) -> bool:
        case = sub._cases.get(case_id)  # noqa: SLF001
        if case is None or case.state in FINAL_STATES or case.inbox.closed:
            return False
        msg = _message(req, trio.current_time())
        log = case.durable
        if log is not None and log.deliver:  # still catching up: after the stored ones
            log.deliver.append(msg)
        else:
            case.inbox.put(msg)
        return True

    def lost(case_id: str) -> None:
        case = sub._cases.get(case_id)  # noqa: SLF001
        if case is None or case.state in FINAL_STATES or case.inbox.closed:
            return
        case.reason = "owned by another worker"
        case.inbox.put(CancelCase(trio.current_time()))

    def live() -> int:
        return int(sub._live.value)  # noqa: SLF001

    store.serve(resume, deliver, lost, live)
