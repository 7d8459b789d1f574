"""Soundness by construction: block-structured terms whose findings are known.

A term built only from

* user tasks without an ``on_error`` term (sync, not wftrio's own pattern
  bookkeeping),
* ``seq``, ``par`` / ``join("all")`` / ``join("sync_merge")`` / ``choice``
  and ``xor`` (conditions are user conditions),
* ``loop`` with ``times >= 1`` or a ``while_`` / ``until`` user condition,
* ``mi`` with ``join="all"`` and a count ``>= 1``, a non-empty item list, or
  a computed count or item list,
* ``region`` (only while region cancellations are not explored: the
  compensation then never runs and is not reported),
* ``threads(n, body)`` (a ``par`` of ``n`` copies of ``body``),

each around terms of the same kind, has no state the exploration could
report: every token is always enabled (nothing waits for a signal, an
effect or a timer), every join waits for exactly the branches it started
and every instance (so each fires once all of them arrive, in any order),
no step withdraws another token, every loop can be left (a count, or a
condition the abstraction lets be false), and every task runs on some path
(every alternative and guard can be chosen, every count runs the body at
least once on some path).  So the exploration would find no WF201, WF202,
WF204, WF205 or WF206, and would hit no bound but the ones large terms
hit by size alone: :func:`sound_by_construction` says so in time linear in
the term, and the validator then skips the exploration.

A failure the abstraction lets happen (a ``choice`` whose guards are all
false, an ``xor`` with no default whose conditions are all false) ends the
case ``FAILED``; the other outcomes still complete, so it is no finding here
either.  Everything else (waits, ``defer``, effects, ``first(n)``,
``mi(join=n | "none")``, ``terminate()``, a count of 0, wftrio's own lock
and routing functions, explored cancellations) is explored.  Inside an
explored term, :func:`summary_blocks` runs the pure parts as one step each
(regions and zero counts included: their compensations and bodies never
run there).
"""

from __future__ import annotations

import attrs

from wftrio.engine.program import Program
from wftrio.terms import (
    MI,
    First,
    Join,
    Loop,
    Region,
    Seq,
    Task,
    Term,
    Threads,
    Xor,
    node_label,
)
from wftrio.validation.abstract import is_trusted

__all__ = ["Block", "sound_by_construction", "summary_blocks"]


def _untrusted(fn: object) -> bool:
    return fn is None or not is_trusted(fn)


def sound_by_construction(term: Term, *, cancel_regions: bool = False) -> bool:
    """Whether ``term`` is block-structured and pure enough to need no exploration.

    See the module docs for the constructors and the reasoning.  Linear in
    the term (an explicit stack: deep terms are fine).
    """
    stack: list[Term] = [term]
    while stack:
        node = stack.pop()
        if not _node_sound(node, cancel_regions):
            return False
        stack.extend(_kids(node))
    return True


def _kids(node: Term) -> tuple[Term, ...]:
    """The sub-terms a token of ``node`` runs (a region's compensation is not one of them)."""
    if isinstance(node, Seq):
        return node.terms
    if isinstance(node, Join):
        return tuple(br.term for br in node.branches)
    if isinstance(node, Xor):
        return tuple(br.term for br in node.alternatives)
    if isinstance(node, Loop | MI | Threads):
        return (node.body,)
    if isinstance(node, Region):
        return (node.term,)
    return ()


def _node_sound(node: Term, cancel_regions: bool) -> bool:
    """Whether ``node`` itself (not its children) may be part of a term sound by construction."""
    if isinstance(node, Task):
        opts = node.options
        return not (
            node.is_effect
            or is_trusted(node.fn)
            or (opts is not None and opts.on_error is not None)
        )
    if isinstance(node, Seq | Threads):
        return True
    if isinstance(node, Join):
        return node.policy in ("all", "sync_merge") and all(
            _untrusted(br.cond) for br in node.branches
        )
    if isinstance(node, Xor):
        return all(_untrusted(br.cond) for br in node.alternatives)
    if isinstance(node, Loop):
        if node.times is not None:
            return node.times >= 1
        return _untrusted(node.while_) and _untrusted(node.until)
    if isinstance(node, MI):
        return node.join == "all" and not node.dynamic and _count_ok(node, 1)
    if isinstance(node, Region):
        return not cancel_regions
    return False


def _count_ok(node: MI, least: int) -> bool:
    """Whether ``node`` starts at least ``least`` instances on some path (a user count)."""
    count, items = node.count, node.items
    if callable(count) or callable(items):
        return not (is_trusted(count) or is_trusted(items))
    if items is not None:
        return len(items) >= least
    return isinstance(count, int) and count >= least


# -- summaries inside explored terms ------------------------------------------


@attrs.frozen
class Block:
    """A block the explorer runs as one atomic step (see :func:`summary_blocks`).

    Attributes:
        path: the block's node path.
        entry: the program counter a token enters the block at.
        pcs: every program counter of the block's instructions that can
            run (not its regions' compensations, not the bodies of its zero
            counts: :func:`_never_run`).
        tasks: the program counters of its tasks (each runs on some path).
        loops: the program counters of its loop instructions (each loop is
            entered and left on some path).
    """

    path: str
    entry: int
    pcs: frozenset[int]
    tasks: frozenset[int]
    loops: frozenset[int]


def _summarisable(
    term: Term, max_instances: int, collects: bool = True, cancel_regions: bool = False
) -> bool:
    """Sound by construction (or a pure partial-join ``mi``), and every path ends in one state.

    On top of :func:`sound_by_construction`: a ``region`` only while region
    cancellations are not explored (:func:`_region_in_block`), no ``mi``
    collecting its results (the collected list's length depends on the path
    through a computed count, and whether it is written at all on the path
    through an ``xor`` or a ``while_`` loop; not with ``collects=False``:
    the abstract run then collects nothing, see
    :func:`~wftrio.validation.abstract.reads_ctx`), and a computed count is
    explored with at least one instance.  An ``mi(join=n | "none")`` without
    ``collect`` (or with the MI patterns' ``until``, condition join or
    ``cancel_rest``) around such a body is a block too (:func:`_partial_mi`),
    and so is a ``first(n)`` join around such branches (:func:`_partial_join`).
    """
    stack = [term]
    while stack:
        node = stack.pop()
        if _zero_count(node):
            if isinstance(node, MI) and collects and node.collect is not None:
                return False
            continue  # its body never runs: not part of the block (see _zero_count)
        if isinstance(node, Region):
            if not _region_in_block(node, cancel_regions):
                return False
        elif isinstance(node, MI):
            computed = callable(node.count) or callable(node.items)
            if (collects and node.collect is not None) or (computed and max_instances < 1):
                return False
            if not (_node_sound(node, False) or _partial_mi(node, collects)):
                return False
        elif not (_node_sound(node, False) or _partial_join(node)):
            return False
        stack.extend(_kids(node))  # a region's body, not its compensation
    return True


def _zero_count(node: Term) -> bool:
    """A ``loop(times=0)`` or a plain ``mi`` of 0 instances (a count or item list).

    A deterministic step whatever its body holds: the loop goes straight
    to its exit, the ``mi`` (``join="all" | "none"``, none of the MI
    patterns' options) spawns nothing and goes on.  Its body runs on no
    path of the full exploration either, so it is not part of the block
    (:func:`_never_run`): its tasks are not recorded as run and stay
    reported dead (``WF205``), as they would be; the loop itself is
    entered and left.
    """
    if isinstance(node, Loop):
        return node.times == 0
    if isinstance(node, MI):
        static = not (callable(node.count) or callable(node.items))
        zero = static and (node.count == 0 or node.items == ())
        return zero and not node.dynamic and node.join in ("all", "none")
    return False


def _never_run(here: str, node: Term) -> tuple[str, ...]:
    """The path prefixes of the parts of block ``node`` (at ``here``) that never run.

    The compensations of its regions (:func:`_region_in_block`) and the
    bodies of its zero counts (:func:`_zero_count`).
    """
    out: list[str] = []
    stack: list[tuple[str, Term]] = [(here, node)]
    while stack:
        p, n = stack.pop()
        if _zero_count(n):
            out.append(f"{p}[0].")
            continue
        if isinstance(n, Region) and n.compensate is not None:
            out.append(f"{p}[1].")
        for i, kid in enumerate(n.children()):
            stack.append((f"{p}[{i}].{node_label(kid)}", kid))
    return tuple(out)


def _region_in_block(node: Region, cancel_regions: bool) -> bool:
    """Whether a ``region`` (its body pure: the caller checks it) may be inside a block.

    Only the outside input ``cancel_region`` runs a compensation, and the
    exploration tries it only with ``cancel_regions=True``; without, the
    region is its body plus bookkeeping nobody reads (which activations are
    live: no effect in a pure block asks its ``allow=`` list), and every
    way it can end leaves no trace in the state:

    * its token leaves at ``region_exit``: the activation is closed then,
      or, holding late tokens (the absorbed branches of a partial join
      inside), once the last of them is gone, which the summary waits for;
    * a withdrawal decided inside the block (``cancel_rest``, ``until``, a
      condition join of a pure partial join or ``mi`` around or inside the
      region) withdraws an activation of the region tree: every activation
      nested in it is unregistered with it (without compensation), and one
      around it closes once empty, as at an exit;
    * a withdrawal from outside the block (an enclosing ``cancel_rest`` or
      ``until``, explored) withdraws an activation around the block's
      token, so every activation the block opened under it, wherever the
      token stood, is unregistered with it: the same state as withdrawing
      the token at the block's entry (the key lists live activations only);
      ``terminate()`` or a failure ends the case, whose key is its status.

    So a pure block holding regions still ends in one state on every path,
    and is withdrawn the same wherever it stands.  Its compensation is not
    part of the block (it never runs; :func:`summary_blocks` leaves its
    instructions out), so it may hold anything.
    """
    return not cancel_regions


def _partial_join(node: Term) -> bool:
    """A ``first(n)`` join (plain, ``cancel_rest`` or ``blocking``), inside a pure block.

    Its branches being pure (the caller checks them), which of them arrive
    first decides nothing anybody reads: every branch reaches the join (or
    fails the case, which is final and no finding), the continuation starts
    with the same frames, region and ctx whichever ones won, and a late
    branch only counts itself and ends (``cancel_rest``: it is withdrawn,
    which leaves the same state once it is gone).  A *blocking* join adds
    the reset: an activation forked while the previous activation of the
    same join (same fork, same ctx layer: a loop round, another thread)
    has not reset is held until it has.  With pure branches the previous
    activation always resets (its late branches are always enabled and
    arrive), so holding only delays the new one; run as one block, every
    activation resets before anything else moves, and no activation is
    ever held.  Every branch wins on some path (it can reach the join
    before the others move), so every task in it runs on some path.
    """
    return (
        isinstance(node, Join)
        and isinstance(node.policy, First)
        and all(br.cond is None for br in node.branches)
    )


def _partial_mi(node: MI, collects: bool = True) -> bool:
    """A pure ``mi`` with a partial join or the MI patterns' options, whose body runs.

    ``join=n | "none"`` (no ``collect``), and the options of the MI patterns
    that need no outside input: ``cancel_rest``, ``until`` and a condition
    ``join`` (user conditions; no ``complete_on`` / ``more_on`` watchers).
    Its body being pure, the instances that arrive after the join fired are
    invisible: they touch nothing anybody reads, always end (or fail the
    case, which is final and no finding), and the state once they are gone
    is the one where the join fired and they were withdrawn.  The
    conditions are abstracted (either outcome after every instance);
    whichever instance they hold after, or none (a condition join then
    fires when every instance is done), the join fires once, and the rest
    end or are withdrawn (``until``, ``cancel_rest``): the same state once
    they are gone.  So the whole ``mi`` runs as one block: every instance
    to its end (or until a condition withdraws the rest), the continuation
    left where the join fired.  The completing path starts ``max(1, n)``
    instances (the oracle's completing count,
    :mod:`wftrio.validation.abstract`); on it the body runs, so its tasks
    and loops run on some path.  (The instances' own summarised runs are
    the rule of :func:`summary_blocks`; a count below ``n`` fails the case.)
    """
    join = node.join
    if node.complete_on is not None or node.more_on is not None:
        return False
    if (collects and node.collect is not None) or (join == "all" and not node.dynamic):
        return False
    conds = (node.until, join if callable(join) else None)
    if any(c is not None and is_trusted(c) for c in conds):
        return False
    return _count_ok(node, join if isinstance(join, int) else 1)


def _entry(here: str, node: Term, at: dict[str, dict[str, int]]) -> int | None:
    """The program counter a token entering ``node`` (at path ``here``) stands at."""
    ops = at.get(here, {})
    if isinstance(node, Task):
        return ops.get("task", ops.get("step"))
    if isinstance(node, Seq):
        first = node.terms[0]
        return _entry(f"{here}[0].{node_label(first)}", first, at)
    if isinstance(node, Join | Threads):
        return ops.get("fork")
    if isinstance(node, Xor):
        return ops.get("xor")
    if isinstance(node, MI):
        return ops.get("mi_spawn")
    if isinstance(node, Region):
        return ops.get("region_enter")
    if isinstance(node, Loop):
        if node.times is not None:
            return ops.get("loop_enter")
        if node.while_ is not None:
            return ops.get("loop_test")
        return _entry(f"{here}[0].{node_label(node.body)}", node.body, at)  # until: test after
    return None


def summary_blocks(
    program: Program,
    *,
    max_instances: int = 3,
    collects: bool = True,
    cancel_regions: bool = False,
) -> dict[int, Block]:
    """The maximal proper sub-terms the explorer may run as one atomic step, by entry pc.

    A sub-term that is sound by construction and pure (see
    :func:`_summarisable`) touches nothing another token or an input can
    observe: no waits, no shared ctx (no trusted functions, no conditions
    that read what others write: abstracted conditions read nothing), no
    partial joins, no withdrawals of its own.  Whatever path a token takes
    through it, it leaves it at the same instruction with the same frames,
    regions and data, having left nothing behind; every task and loop in it
    runs (and every loop is left) on some path; and its steps commute with
    every step of every other token.  So from a token at its entry, the
    explorer runs the block along one completing path as a single edge (the
    moves kept for the witness) and records every task and loop of the block
    as run: the final states, deadlocks, "cannot complete" states, dead
    tasks and loops without exit are those of the full exploration.  The
    paths on which such a block fails the case (a ``choice`` whose guards
    are all false) are dropped; a failure is final and is no finding.
    Regions inside a block are bookkeeping that leaves no trace
    (:func:`_region_in_block`): with ``cancel_regions=True`` (the explorer
    then summarises nothing) a region is never part of a block.

    The whole term is never a block (it is sound by construction then, and
    not explored by :func:`wftrio.validation.validate` at all), nor is a
    single task (a deterministic step already).
    """
    instrs = program.instrs
    at: dict[str, dict[str, int]] = {}
    for pc, ins in enumerate(instrs):
        at.setdefault(ins.path, {}).setdefault(ins.op, pc)
    out: dict[int, Block] = {}
    root = program.term
    stack: list[tuple[str, Term]] = [(node_label(root), root)]
    while stack:
        here, node = stack.pop()
        if (
            node is not root
            and not isinstance(node, Task)
            and _summarisable(node, max_instances, collects, cancel_regions)
        ):
            entry = _entry(here, node, at)
            if entry is not None:
                inner = here + "["
                never = _never_run(here, node)
                pcs = frozenset(
                    pc
                    for pc, ins in enumerate(instrs)
                    if (ins.path == here or ins.path.startswith(inner))
                    and not ins.path.startswith(never)
                )
                tasks = frozenset(pc for pc in pcs if instrs[pc].op in ("task", "step"))
                loops = frozenset(
                    pc for pc in pcs if instrs[pc].op in ("loop_enter", "loop_next", "loop_test")
                )
                out[entry] = Block(here, entry, pcs, tasks, loops)
                continue
        for i, kid in enumerate(node.children()):
            stack.append((f"{here}[{i}].{node_label(kid)}", kid))
    return out
