"""Derived workflow patterns, named after the van der Aalst control-flow patterns.

Every function here builds its term *only* from the kernel constructors of
:mod:`wftrio.terms` (``task``, ``seq``, ``join``, ``xor``, ``loop``,
``defer``, ``region``, ``mi``, ...): no pattern adds a node class, and the
compiler and reducer know nothing about this module.  Most functions are thin
named aliases that document which kernel term realises a pattern; a few
(:func:`multi_merge`, :func:`interleaved_parallel_routing`,
:func:`milestone`, :func:`critical_section`) are real encodings whose term
form is spelt out in their docstrings, and :func:`arbitrary_cycles` (WCP-10)
is :func:`wftrio.terms.machine`, a state machine encoded as a loop around an
exclusive choice on the current state's name.

Patterns that are *behaviour* rather than terms are documented here and not
given a function: WCP-11 implicit termination (a case with no live token
left ends DONE), WCP-20 cancel case (``sub.cancel(case_id)`` /
``ExecState.cancel()``), WCP-23 transient trigger (send the signal with
``transient=True``; a :func:`persistent_trigger` waiting at that moment
consumes it, otherwise it is dropped).

WCP-33, 37 and 38 (generalised AND-join, local and general synchronising
merge) are one construct: the synchronising merge whose branches may end
with :func:`wftrio.terms.halt` (see :mod:`wftrio.algebra.sync`). WCP-22
recursion and sub-workflows is :func:`recursion`, i.e. :func:`wftrio.call`
with an explicit registry (the one node here the compiler lowers by
resolving a registered workflow's name).

:data:`CATALOGUE` maps each covered WCP number to ``(name, function)``.
The functions live in :mod:`wftrio.algebra.patterns`; this module is their
public face.
"""

from __future__ import annotations

from wftrio.algebra.patterns import (
    CATALOGUE,
    approval,
    arbitrary_cycles,
    blocking_discriminator,
    blocking_partial_join,
    cancel_activity,
    cancel_mi_activity,
    cancel_region,
    cancelling_discriminator,
    cancelling_partial_join,
    cancelling_partial_join_mi,
    complete_mi_activity,
    critical_section,
    deferred_choice,
    discriminator,
    dynamic_partial_join_mi,
    exclusive_choice,
    explicit_termination,
    general_synchronizing_merge,
    generalised_and_join,
    interleaved_parallel_routing,
    interleaved_routing,
    local_synchronizing_merge,
    mi_with_design_time_knowledge,
    mi_with_runtime_knowledge,
    mi_without_a_priori_runtime_knowledge,
    mi_without_sync,
    milestone,
    multi_choice,
    multi_merge,
    n_out_of_m,
    parallel_split,
    partial_join,
    persistent_trigger,
    recursion,
    sequence,
    simple_merge,
    static_partial_join_mi,
    structured_loop,
    structured_synchronizing_merge,
    synchronization,
    thread_merge,
    thread_split,
)

__all__ = [
    "CATALOGUE",
    "approval",
    "arbitrary_cycles",
    "blocking_discriminator",
    "blocking_partial_join",
    "cancel_activity",
    "cancel_mi_activity",
    "cancel_region",
    "cancelling_discriminator",
    "cancelling_partial_join",
    "cancelling_partial_join_mi",
    "complete_mi_activity",
    "critical_section",
    "deferred_choice",
    "discriminator",
    "dynamic_partial_join_mi",
    "exclusive_choice",
    "explicit_termination",
    "interleaved_parallel_routing",
    "interleaved_routing",
    "mi_with_design_time_knowledge",
    "mi_with_runtime_knowledge",
    "mi_without_a_priori_runtime_knowledge",
    "mi_without_sync",
    "milestone",
    "multi_choice",
    "multi_merge",
    "n_out_of_m",
    "parallel_split",
    "partial_join",
    "persistent_trigger",
    "recursion",
    "sequence",
    "simple_merge",
    "static_partial_join_mi",
    "general_synchronizing_merge",
    "generalised_and_join",
    "local_synchronizing_merge",
    "structured_loop",
    "structured_synchronizing_merge",
    "synchronization",
    "thread_merge",
    "thread_split",
]
