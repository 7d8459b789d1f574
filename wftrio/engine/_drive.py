"""Deprecated location of :mod:`wftrio.engine.replay` (kept for old imports)."""

from __future__ import annotations

from wftrio.engine.replay import feed_input, run_with_inputs

__all__ = ["feed_input", "run_with_inputs"]
