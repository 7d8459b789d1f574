"""Case ids and run tokens: random bytes drawn from the OS a pool at a time."""

from __future__ import annotations

import os

__all__ = ["new_ids"]

_POOL_IDS = 64
"""Ids drawn per ``os.urandom`` call (:func:`new_ids`)."""

_pool: list[tuple[str, str]] = []


def _drop_pool() -> None:
    """In a forked child: forget the parent's ids (they are the parent's)."""
    _pool.clear()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_drop_pool)


# where each id and token lies in the pool's hex string (40 digits per pair)
_ID_AT = tuple(slice(i, i + 32) for i in range(0, 40 * _POOL_IDS, 40))
_TOKEN_AT = tuple(slice(i + 32, i + 40) for i in range(0, 40 * _POOL_IDS, 40))

# byte maps setting the uuid4 bits: the version nibble, the RFC 4122 variant
_VERSION4 = bytes((x & 0x0F) | 0x40 for x in range(256))
_VARIANT = bytes((x & 0x3F) | 0x80 for x in range(256))


def new_ids() -> tuple[str, str]:
    """A case id as ``uuid.uuid4().hex`` and a token as ``secrets.token_hex(4)``.

    Made from 20 bytes of ``os.urandom``, drawn 64 ids' worth at a time:
    one system call per 64 cases instead of one per case.  The pool is
    dropped in a forked child (``os.register_at_fork``; a ``getpid`` per id
    was a system call per case), so no two processes ever hand out the same
    ids.
    """
    try:
        return _pool.pop()  # atomic: substrates in other threads draw other ids
    except IndexError:
        pass
    b = bytearray(os.urandom(20 * _POOL_IDS))
    # per 20 bytes: 16 for the id (bytes 6 and 8 carry the uuid4 bits), 4 for the token
    b[6::20] = b[6::20].translate(_VERSION4)
    b[8::20] = b[8::20].translate(_VARIANT)
    h = b.hex()
    # (the slices taken by C loops: a comprehension cost ~20 opcodes per id)
    fresh = list(zip(map(h.__getitem__, _ID_AT), map(h.__getitem__, _TOKEN_AT), strict=True))
    mine = fresh.pop()
    _pool.extend(fresh)  # other threads may have refilled meanwhile: all are fresh
    return mine
