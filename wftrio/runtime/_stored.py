"""A durable case's options as its store keeps them, and back.

``new_case`` on a durable store writes the options the case was started
with (everything but ``effect_handler=``, a function) as JSON through
wftrio's one cattrs converter (:func:`wftrio.serialize.converter`); resume
reads them back, so a resumed case runs with its own budget, allowlist,
timeout, step quanta, ... rather than the resuming substrate's defaults.
Its effect handler is the resuming substrate's.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from wftrio.errors import OptionError, StoreCorrupt
from wftrio.governance import Budget
from wftrio.runtime._types import CaseOptions
from wftrio.scheduling import Deterministic, Seeded
from wftrio.serialize import converter

__all__ = ["StoredOptions", "dump_options", "load_options"]


@attrs.frozen
class StoredOptions:
    """The data options of a durable case (the ``options`` column of its row).

    Attributes:
        scheduler: ``"deterministic"`` or ``"seeded"``.
        seed: the ``wf.Seeded`` seed (``None`` for ``"deterministic"``).
        preemptive: the ``wf.Seeded`` ``preemptive=`` flag.
        step_quanta, timeout, trace_level, budget, allow, validate,
        keep_events, max_pending_signals, validate_budget: as given to
            ``new_case`` (``allow`` sorted).
    """

    scheduler: str = "deterministic"
    seed: int | None = None
    preemptive: bool = False
    step_quanta: int = 1000
    timeout: float | None = None
    trace_level: str = "full"
    budget: Budget | None = None
    allow: list[str] | None = None
    validate: bool = True
    keep_events: int | None = 1000
    max_pending_signals: int | None = 1000
    validate_budget: float | None = 0.05


def dump_options(opts: CaseOptions, where: str) -> str:
    """The JSON text a durable store keeps for ``opts``.

    Raises:
        OptionError: ``scheduler=wf.Replay(...)``: a resumed case is fed its
            own committed inputs, so it cannot also follow a recorded log.
    """
    spec = opts.scheduler
    if isinstance(spec, Seeded):
        sched, seed, preemptive = "seeded", spec.seed, spec.preemptive
    elif spec == "deterministic" or isinstance(spec, Deterministic):
        sched, seed, preemptive = "deterministic", None, False
    else:
        raise OptionError(
            f"{where}: scheduler={spec!r} on a durable store: use 'deterministic' or "
            "wf.Seeded(seed) (a resumed case replays its own committed inputs)"
        )
    rec = StoredOptions(
        sched,
        seed,
        preemptive,
        opts.step_quanta,
        None if opts.timeout is None else float(opts.timeout),
        opts.trace_level,
        opts.budget,
        None if opts.allow is None else sorted(opts.allow),
        opts.validate,
        opts.keep_events,
        opts.max_pending_signals,
        None if opts.validate_budget is None else float(opts.validate_budget),
    )
    return json.dumps(converter().unstructure(rec), sort_keys=True)


def load_options(text: str, case_id: str) -> dict[str, Any]:
    """The ``new_case`` options stored as ``text`` (checked by ``parse_case_options`` next).

    Raises:
        StoreCorrupt: ``text`` is not options wftrio wrote.
    """
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise TypeError("not a JSON object")
        rec = converter().structure(raw, StoredOptions)
        if rec.scheduler == "seeded":
            if rec.seed is None:
                raise ValueError("a seeded scheduler without a seed")
            scheduler: object = Seeded(rec.seed, preemptive=rec.preemptive)
        elif rec.scheduler == "deterministic":
            scheduler = "deterministic"
        else:
            raise ValueError(f"unknown scheduler {rec.scheduler!r}")
    except Exception as exc:  # json, cattrs, attrs validators, Seeded's checks
        raise StoreCorrupt(
            f"stored case {case_id!r}: its options are not ones wftrio wrote: {exc}", case_id
        ) from exc
    return {
        "scheduler": scheduler,
        "step_quanta": rec.step_quanta,
        "timeout": rec.timeout,
        "trace_level": rec.trace_level,
        "budget": rec.budget,
        "allow": None if rec.allow is None else frozenset(rec.allow),
        "validate": rec.validate,
        "keep_events": rec.keep_events,
        "max_pending_signals": rec.max_pending_signals,
        "validate_budget": rec.validate_budget,
    }
