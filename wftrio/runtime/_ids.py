"""Case ids and run tokens: random bytes drawn from the OS a pool at a time."""

from __future__ import annotations

import os

__all__ = ["new_ids"]

_POOL_IDS = 64
"""Ids drawn per ``os.urandom`` call (:func:`new_ids`)."""

_pool: list[bytes] = []
_pool_pid = 0


def _random20() -> bytes:
    """20 bytes from ``os.urandom``, drawn 64 ids' worth at a time.

    One system call per 64 cases instead of one per case.  The pool is
    dropped in a forked child (another pid), so no two processes ever hand
    out the same bytes.
    """
    global _pool_pid
    pid = os.getpid()
    if pid == _pool_pid:
        try:
            return _pool.pop()  # atomic: substrates in other threads draw other bytes
        except IndexError:
            pass
    b = os.urandom(20 * _POOL_IDS)
    fresh = [b[i : i + 20] for i in range(0, len(b), 20)]
    mine = fresh.pop()
    _pool[:] = fresh  # replaced before the pid: nothing drawn in this process is stale
    _pool_pid = pid
    return mine


def new_ids() -> tuple[str, str]:
    """A case id as ``uuid.uuid4().hex`` and a token as ``secrets.token_hex(4)`` (20 bytes)."""
    raw = _random20()
    b = bytearray(raw[:16])
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # variant: RFC 4122
    return b.hex(), raw[16:].hex()
