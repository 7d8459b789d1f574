"""Case stores: where a substrate keeps its cases (the store seam).

``wf.MemoryStore()`` keeps nothing (cases live as long as the process);
``wf.SQLiteStore(path)`` commits every case's bursts to an embedded SQLite
file, so ``wf.open_substrate(path=...)`` resumes the cases a previous
process left unfinished (docs/DURABILITY.md); ``wf.PostgresStore(dsn)``
lets many worker processes share one PostgreSQL database (docs/SCALING.md).
"""

from __future__ import annotations

from wftrio.stores._base import DurableStore, Store, StoredCase, StoredRequest
from wftrio.stores._memory import MemoryStore
from wftrio.stores._postgres import PostgresStore
from wftrio.stores._retention import Purged, purge_finished
from wftrio.stores._sqlite import SQLiteStore

__all__ = [
    "DurableStore",
    "MemoryStore",
    "PostgresStore",
    "Purged",
    "SQLiteStore",
    "Store",
    "StoredCase",
    "StoredRequest",
    "purge_finished",
]
