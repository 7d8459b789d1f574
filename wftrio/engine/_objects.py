"""Deprecated: the engine's objects live in :mod:`wftrio.engine.objects`."""

from __future__ import annotations

from wftrio.engine.objects import (
    EMPTY,
    CtxLayer,
    Frame,
    JoinInst,
    LoopFrame,
    MIInst,
    RegionInst,
    Scope,
    Token,
)

__all__ = [
    "EMPTY",
    "CtxLayer",
    "Frame",
    "JoinInst",
    "LoopFrame",
    "MIInst",
    "RegionInst",
    "Scope",
    "Token",
]
