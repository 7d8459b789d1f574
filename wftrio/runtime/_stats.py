"""``Substrate.stats()``: the substrate's counters as a ``SubstrateStats``."""

from __future__ import annotations

from wftrio.runtime._children import Counters
from wftrio.runtime._sinks import SinkHub
from wftrio.runtime._types import CaseState, SubstrateStats

__all__ = ["substrate_stats"]


def _mean(total: float, n: int) -> float:
    return total / n if n else 0.0


def substrate_stats(
    c: Counters,
    hub: SinkHub,
    wall: float,
    live: int,
    retained: int,
    started: int,
    ended: dict[CaseState, int],
) -> SubstrateStats:
    """The telemetry of a substrate open for ``wall`` seconds (rates per second of it)."""

    def rate(n: int) -> float:
        return n / wall if wall > 0 else 0.0

    return SubstrateStats(
        live_cases=live,
        retained_cases=retained,
        cases_started=started,
        cases_done=ended[CaseState.DONE],
        cases_failed=ended[CaseState.FAILED],
        cases_cancelled=ended[CaseState.CANCELLED],
        steps=c.steps,
        effects_started=c.effects_started,
        effects_completed=c.effects_completed,
        effects_cancelled=c.effects_cancelled,
        signals=c.signals,
        wall_elapsed=wall,
        steps_per_sec=rate(c.steps),
        effects_per_sec=rate(c.effects_completed),
        signals_per_sec=rate(c.signals),
        effect_cancel_latency_mean=_mean(c.effect_cancel_sum, c.effect_cancel_count),
        effect_cancel_latency_max=c.effect_cancel_max,
        case_cancel_latency_mean=_mean(c.case_cancel_sum, c.case_cancel_count),
        case_cancel_latency_max=c.case_cancel_max,
        sink_batches=hub.batches,
        sink_events=hub.events,
        sinks_disabled=hub.disabled,
        effect_retries=c.effect_retries,
        sink_errors=hub.sink_errors,
    )
