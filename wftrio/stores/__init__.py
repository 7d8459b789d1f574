"""Case stores: where a substrate keeps its cases (the store seam).

``wf.MemoryStore()`` keeps nothing (cases live as long as the process);
``wf.SQLiteStore(path)`` commits every case's bursts to an embedded SQLite
file, so ``wf.open_substrate(path=...)`` resumes the cases a previous
process left unfinished (docs/DURABILITY.md).
"""

from __future__ import annotations

from wftrio.stores._base import DurableStore, Store, StoredCase, StoredRequest
from wftrio.stores._memory import MemoryStore
from wftrio.stores._sqlite import SQLiteStore

__all__ = ["DurableStore", "MemoryStore", "SQLiteStore", "Store", "StoredCase", "StoredRequest"]
