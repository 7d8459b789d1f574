"""Derived workflow patterns, named after the van der Aalst control-flow patterns.

The public face of :mod:`wftrio.algebra.patterns`, where every function is
documented: each builds its term only from the kernel constructors of
:mod:`wftrio.terms`.  :data:`CATALOGUE` maps each covered WCP number to
``(name, function)``.
"""

from __future__ import annotations

from wftrio.algebra.patterns import (
    CATALOGUE,
    approval,
    cancel_activity,
    cancel_mi_activity,
    cancel_region,
    cancelling_discriminator,
    cancelling_partial_join,
    critical_section,
    deferred_choice,
    discriminator,
    exclusive_choice,
    explicit_termination,
    interleaved_parallel_routing,
    interleaved_routing,
    mi_with_design_time_knowledge,
    mi_with_runtime_knowledge,
    mi_without_sync,
    milestone,
    multi_choice,
    multi_merge,
    n_out_of_m,
    parallel_split,
    partial_join,
    persistent_trigger,
    sequence,
    simple_merge,
    static_partial_join_mi,
    structured_loop,
    structured_synchronizing_merge,
    synchronization,
)

__all__ = [
    "CATALOGUE",
    "approval",
    "cancel_activity",
    "cancel_mi_activity",
    "cancel_region",
    "cancelling_discriminator",
    "cancelling_partial_join",
    "critical_section",
    "deferred_choice",
    "discriminator",
    "exclusive_choice",
    "explicit_termination",
    "interleaved_parallel_routing",
    "interleaved_routing",
    "mi_with_design_time_knowledge",
    "mi_with_runtime_knowledge",
    "mi_without_sync",
    "milestone",
    "multi_choice",
    "multi_merge",
    "n_out_of_m",
    "parallel_split",
    "partial_join",
    "persistent_trigger",
    "sequence",
    "simple_merge",
    "static_partial_join_mi",
    "structured_loop",
    "structured_synchronizing_merge",
    "synchronization",
]
