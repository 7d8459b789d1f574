"""Group commit for ``PostgresStore``: the writer's batch of ops, committed together if they can be.

The ops of every case queued since the last commit go in one transaction
(one commit, one WAL flush).  A fenced op writes nothing (each op checks
its fence first), so it is left out and the others commit; any other error
rolls the batch back, and its ops are then committed one per transaction,
so only the failing one fails.  Once a case's commit was refused (fenced)
or failed, its later commits at that epoch are skipped: its stored history
stays whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeAlias

import trio

from wftrio.errors import CaseFenced

__all__ = ["Key", "Op", "Pending", "commit"]

logger = logging.getLogger("wftrio.stores")

Op: TypeAlias = Callable[[Any], None]
"""One commit's work on a connection (inside a transaction)."""

Key: TypeAlias = tuple[str, int]
"""``(case id, epoch)``: the fence an op checks first."""


class Pending:
    """An op queued for the writer, and what became of it."""

    __slots__ = ("done", "error", "key", "op")

    def __init__(self, op: Op, key: Key | None, waited: bool) -> None:
        self.op = op
        self.key = key  # (case, epoch) of a fenced commit
        self.done: trio.Event | None = trio.Event() if waited else None
        self.error: BaseException | None = None


def commit(
    conn: Any, batch: list[Pending], broken: set[Key], who: str
) -> tuple[int, list[Key], list[Key], bool]:
    """Commit ``batch`` on ``conn``: ``(ops committed, fenced keys, failed keys, together)``.

    ``broken``: the keys whose commits are refused from now on (updated);
    ``who``: the store, for the log.
    """
    if len(batch) > 1:
        together = _together(conn, batch, broken)
        if together is not None:
            return together
    return _each(conn, batch, broken, who)


def _together(
    conn: Any, batch: list[Pending], broken: set[Key]
) -> tuple[int, list[Key], list[Key], bool] | None:
    n = 0
    fenced: list[Key] = []  # in order, each once
    try:
        with conn.transaction():
            for p in batch:
                if p.key is not None and (p.key in broken or p.key in fenced):
                    p.error = CaseFenced(p.key[0])
                    continue
                try:
                    p.op(conn)
                except CaseFenced as exc:  # raised by its check, before any write
                    p.error = exc
                    if p.key is not None:
                        fenced.append(p.key)
                    continue
                n += 1
    except Exception:
        for p in batch:
            p.error = None
        return None
    broken.update(fenced)
    return n, fenced, [], True


def _each(
    conn: Any, batch: list[Pending], broken: set[Key], who: str
) -> tuple[int, list[Key], list[Key], bool]:
    n = 0
    fenced: list[Key] = []
    failed: list[Key] = []
    for p in batch:
        if p.key is not None and p.key in broken:
            p.error = CaseFenced(p.key[0])
            continue
        try:
            with conn.transaction():
                p.op(conn)
            n += 1
        except CaseFenced as exc:
            p.error = exc
            if p.key is not None:
                broken.add(p.key)
                fenced.append(p.key)
        except Exception as exc:
            p.error = exc
            if p.done is None:
                logger.error("%s: a burst could not be committed: %r", who, exc)
            if p.key is not None:
                broken.add(p.key)
                failed.append(p.key)
    return n, fenced, failed, False
