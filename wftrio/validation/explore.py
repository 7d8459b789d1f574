"""Bounded exploration of a Program's state space, on the real reducer.

:func:`explore` builds the reachable state graph of a compiled workflow with
data abstracted (:mod:`wftrio.validation.abstract`): from every state it
tries

* every enabled token, with every outcome of the conditions and scheduler
  picks its step asks (one reduction step, the runtime's own handlers);
* every external input that could happen: a signal some token waits for
  (only names in ``signals=`` when it is given), the success or the failure
  of every pending effect, the firing of every armed timer that can fire
  first (within one ``defer`` only the shortest timers can win), and, with
  ``cancel_regions=True``, the cancellation of every live region.

States are identified by canonical keys (:mod:`wftrio.validation.statekey`,
computed by :mod:`wftrio.validation.fastkey`)
and explored breadth first, so every state's recorded path from the start
(its *witness*) is a shortest one.  Bounds: ``max_states`` (states
discovered), ``max_depth`` (branching points from the start), ``max_tokens`` (live
tokens in one state); a state beyond a bound is left unexpanded and the
result says which bound was hit.  Every move is applied to the expanded
state in place and undone (:mod:`wftrio.validation.checkpoint`); only a
move that reaches a new state copies it.

Partial-order reduction (``reduce=True``): a step that only touches its own
token (see :func:`~wftrio.validation.abstract.local_pcs`: an abstracted
task, an effect request, a user condition, a loop counter, a split, a wait
on a signal nothing else waits for, ...) commutes with everything else, so
when a state has such a step, only that token's step (all its outcomes) is
explored, provided every state it leads to is new, final, or discovered after
the state being expanded: node numbers then grow along reduced edges, so no
cycle of the reduced graph consists of reduced states only, and nothing is
postponed forever.  With every token blocked, the inputs
delivered to one blocked token (its effect's two outcomes, the signals it is
the oldest waiter of, its timers that can fire first) form the reduced set
the same way: a later waiter's registration for the same signal commutes
with the delivery to the oldest.  (Not while a token can step: a step that
is not local may withdraw a wait, as an ``mi``'s close withdraws its
``more_on`` waiter, so an input must not run ahead of it.)  Enabled tokens that are interchangeable
(siblings in one ``mi`` activation at the same place with the same data) are
expanded once (symmetry).  A local step with a single outcome (a task, a
join that waits for all its branches, a split without guards, a counted
loop step, ...; :func:`~wftrio.validation.abstract.deterministic_pcs`) is
the whole reduced set of its state, so such steps run back to back on one
copy, and only the state where the run ends is keyed and stored: one edge
carries the whole run (its moves, for witnesses).  The depth bound counts
the branching points on a path (states with more than one successor), not
its steps, so a long sequence never hits it.  Reduced exploration reaches exactly the final
states, the deadlocks and the "can no longer complete" states of the full
one, and runs every task the full one runs; tests check both give the same
findings.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, NamedTuple

import attrs

from wftrio.compiler import compile as compile_term
from wftrio.engine import FINAL, ExecState, Status
from wftrio.engine.objects import JoinInst, MIInst, Token
from wftrio.engine.program import LoopTestOps, Program
from wftrio.errors import ExploredFailure
from wftrio.terms import Term
from wftrio.validation.abstract import reads_ctx
from wftrio.validation.checkpoint import Checkpoint
from wftrio.validation.clone import clone_state, clone_with_checkpoint
from wftrio.validation.compose import Block, summary_blocks
from wftrio.validation.fastkey import fast_key
from wftrio.validation.issues import Step
from wftrio.validation.partial_joins import gathered, late_arrivals
from wftrio.validation.space import Move, Space
from wftrio.validation.statekey import StateKey, freeze, shape_key

__all__ = [
    "Bounds",
    "ExploredFailure",
    "Exploration",
    "Move",
    "Space",
    "explore",
]

_LOOP_OPS = frozenset({"loop_enter", "loop_next", "loop_test"})
_TASK_OPS = frozenset({"task", "step", "effect"})


@attrs.frozen
class Bounds:
    """Exploration bounds (see :func:`wftrio.validation.validate`)."""

    max_states: int = 20_000
    max_depth: int = 500
    max_tokens: int = 32
    max_instances: int = 3


@attrs.define(eq=False)
class Exploration:
    """The explored state graph and what was observed while building it.

    Node ``i``'s key is ``keys[i]``; nodes are numbered in breadth-first
    discovery order, so ``parent``/``via`` give a shortest path from the
    start.  ``succ[i]`` lists the successors of an expanded node.
    """

    space: Space
    keys: list[StateKey] = attrs.field(factory=list)
    parent: list[int] = attrs.field(factory=list)
    via: list[tuple[Move, ...]] = attrs.field(factory=list)
    depth: list[int] = attrs.field(factory=list)
    succ: list[list[int]] = attrs.field(factory=list)
    expanded: list[bool] = attrs.field(factory=list)
    covered: list[bool] = attrs.field(factory=list)
    status: list[Status | None] = attrs.field(factory=list)
    deadlocks: list[int] = attrs.field(factory=list)
    hit: dict[str, int] = attrs.field(factory=dict)
    edges: int = 0
    reduced: int = 0
    stepped: set[int] = attrs.field(factory=set)
    loop_entered: dict[int, tuple[int, tuple[Move, ...]]] = attrs.field(factory=dict)
    loop_exited: set[int] = attrs.field(factory=set)
    terminations: dict[int, tuple[int, tuple[Move, ...]]] = attrs.field(factory=dict)
    steps: int = 0
    chained: int = 0
    summaries: int = 0
    summarised: int = 0
    budget_s: float | None = None
    index: dict[StateKey, int] = attrs.field(factory=dict)
    shapes: list[Hashable] | None = None

    @property
    def states(self) -> int:
        return len(self.keys)

    @property
    def complete(self) -> bool:
        """Whether no bound was hit: the whole reachable state space was explored."""
        return not self.hit

    def moves(self, node: int, last: Sequence[Move] = ()) -> list[Move]:
        """The moves from the start to ``node`` (then ``last``)."""
        edges: list[tuple[Move, ...]] = []
        while node > 0:
            edges.append(self.via[node])
            node = self.parent[node]
        out = [m for edge in reversed(edges) for m in edge]
        out.extend(last)
        return out

    def witness(self, node: int, last: Sequence[Move] = ()) -> tuple[Step, ...]:
        """The steps from the start to ``node`` (then the moves ``last``)."""
        return tuple(self.space.step(m) for m in self.moves(node, last))


def _symmetric_key(tok: Token) -> tuple[Any, ...] | None:
    """Tokens with equal keys (not None) are interchangeable mi siblings."""
    sc = tok.scope
    if sc.parent is None:
        return None
    data = tuple(sorted((k, freeze(v)) for k, v in sc.data.items())) if sc.data else ()
    return (tok.pc, id(tok.frame), id(tok.region), id(sc.parent), data)


class _Child(NamedTuple):
    """Where a move led: its moves, key and final status, and a copy if it was new."""

    moves: tuple[Move, ...]
    key: StateKey
    status: Status | None  # the final status, None while running
    state: ExecState | None  # a copy, when the key was new when it was reached
    ck: Checkpoint | None  # the copy's checkpoint (with ``share``)
    shape: Hashable | None  # its shape_key, when new and shapes are recorded


class _Expanding:
    """The state being expanded, handed out for each move tried from it.

    With ``share`` every move gets the state itself and its
    :class:`~wftrio.validation.checkpoint.Checkpoint` (made with the copy
    that stored it, or taken at the first move), and the explorer restores
    the state after keying the result, so a move to a state already stored
    copies nothing.  Without, every move gets a fresh copy.
    """

    __slots__ = ("ck", "share", "st")

    def __init__(self, st: ExecState, ck: Checkpoint | None, share: bool) -> None:
        self.st = st
        self.share = share
        self.ck = ck

    def work(self) -> tuple[ExecState, Checkpoint | None]:
        """The state to apply the next move to, and the checkpoint to restore it with."""
        if not self.share:
            return clone_state(self.st), None
        if self.ck is None:
            self.ck = Checkpoint(self.st)
        return self.st, self.ck


CHAIN_STEPS = 4096
"""Most deterministic steps run back to back on one copy before the state is keyed."""


def explore(
    term_or_program: Term | Program,
    *,
    bounds: Bounds | None = None,
    signals: Iterable[str] | None = None,
    cancel_regions: bool = False,
    reduce: bool = True,
    record_shapes: bool = False,
    budget_s: float | None = None,
    share: bool = True,
) -> Exploration:
    """Explore the abstract state space of a workflow (see the module docs).

    Args:
        term_or_program: the workflow term, or its compiled Program.
        bounds: the exploration bounds.
        signals: the signal names the outside world may send (default: any
            name the workflow waits for).
        cancel_regions: also explore the cancellation of every live region.
        reduce: use partial-order and symmetry reduction, and run
            deterministic local steps back to back (one edge).
        record_shapes: also record every node's
            :func:`~wftrio.validation.statekey.shape_key` (in ``shapes``).
        budget_s: stop after this many seconds of wall-clock time (the bound
            ``time_budget``); ``None``: no time limit.  The budget only
            decides how far the exploration gets: what it finds before is
            the same on any machine.
        share: apply every move to the expanded state in place and undo it
            (:class:`~wftrio.validation.checkpoint.Checkpoint`), copying
            only the states that are new; ``False``: a full copy per move
            (the reference the tests compare with).  The graph is the same.
    """
    program = (
        term_or_program if isinstance(term_or_program, Program) else compile_term(term_or_program)
    )
    b = bounds if bounds is not None else Bounds()
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    space = Space(
        program,
        b.max_instances,
        frozenset(signals) if signals is not None else None,
        cancel_regions,
    )
    ex = Exploration(space)
    shapes = ex.shapes = [] if record_shapes else None
    instrs = program.instrs
    local = space.local
    det = space.det
    index = ex.index
    # pure block-structured blocks inside the term run as one step each
    blocks = (
        summary_blocks(program, max_instances=b.max_instances, collects=reads_ctx(program))
        if reduce and not cancel_regions
        else {}
    )
    ex.summaries = len(blocks)
    late = late_arrivals(space.program, local, cancel_regions) if reduce else {}

    def add(
        key: StateKey,
        parent: int,
        moves: tuple[Move, ...],
        depth: int,
        status: Status | None,
    ) -> int:
        i = len(ex.keys)
        index[key] = i
        ex.keys.append(key)
        ex.parent.append(parent)
        ex.via.append(moves)
        ex.depth.append(depth)
        ex.succ.append([])
        ex.expanded.append(False)
        ex.covered.append(False)
        ex.status.append(status)
        return i

    root = space.initial()
    add(fast_key(root), -1, (), 0, root.status if root.status in FINAL else None)
    if shapes is not None:
        shapes.append(shape_key(root))
    queue: deque[tuple[int, ExecState, Checkpoint | None]] = deque()
    if root.status not in FINAL:
        queue.append((0, root, None))

    # an until loop is entered when its body starts (its test comes after)
    until_body = {
        ops.body: pc
        for pc, ins in enumerate(instrs)
        if isinstance(ops := ins.ops, LoopTestOps) and ops.stop_when
    }

    def observe(node: int, moves: Sequence[Move], child: ExecState) -> None:
        """Record what the last of ``moves`` (from ``node``) did: tasks run, loops, terminate."""
        move = moves[-1]
        if move.kind != "run":
            return
        pc = move.pc
        op = instrs[pc].op
        test = until_body.get(pc)
        if test is not None and test not in ex.loop_entered:
            ex.loop_entered[test] = (node, tuple(moves))
        if op in _TASK_OPS:
            ex.stepped.add(pc)
        elif op in _LOOP_OPS:
            if pc not in ex.loop_entered:
                ex.loop_entered[pc] = (node, tuple(moves))
            tok = child.tokens.get(int(move.target))
            if tok is not None and tok.pc == instrs[pc].next:
                ex.loop_exited.add(pc)
        elif op == "terminate" and pc not in ex.terminations:
            ex.terminations[pc] = (node, tuple(moves))

    def next_det(st: ExecState) -> Token | None:
        best: Token | None = None
        for t in st.tokens.values():
            if (
                t.wait is None
                and (det[t.pc] or t.pc in blocks or (t.pc in late and is_late(t)))
                and (best is None or t.id < best.id)
            ):
                best = t
        return best

    def is_late(t: Token) -> bool:
        """Whether ``t`` arrives at a partial join that has fired (it is only absorbed)."""
        f = t.frame
        if type(f) is JoinInst:
            # at a blocking join only an arrival that does not reset it (see _blocking)
            return f.fired and (f.site < 0 or f.arrived + 1 < f.started)
        if type(f) is MIInst:
            # the last instance of mi(join="none") writes the collected results
            return f.fired and (f.needed is not None or not late[t.pc])
        return False

    def summarised(node: int, moves: list[Move], block: Block) -> None:
        """Record what running ``block`` on any path does: its tasks run, its loops exit."""
        ex.stepped.update(block.tasks)
        for pc in block.loops:
            if pc not in ex.loop_entered:
                ex.loop_entered[pc] = (node, tuple(moves))
        ex.loop_exited.update(block.loops)
        ex.summarised += 1

    def run_det(node: int, moves: list[Move], child: ExecState, t: Token | None) -> None:
        """Run deterministic local steps back to back in place, from ``t`` on.

        Every step is the only one of a (virtual) reduced state: its token's
        step touches nothing another token or an input can observe and has
        one outcome (a summarised block: one outcome up to what nobody
        observes), so the states in between need no key.  The run ends at a
        state with no such step, a final state, past ``max_tokens`` or after
        :data:`CHAIN_STEPS` steps.
        """
        while t is not None:
            block = blocks.get(t.pc)
            if block is not None:
                moves.extend(space.summarise(child, t, block))
                summarised(node, moves, block)
            else:
                moves.append(space.advance(child, t))
                observe(node, moves, child)
            if (
                child.status in FINAL
                or len(child.tokens) > b.max_tokens
                or len(moves) >= CHAIN_STEPS
            ):
                break
            t = next_det(child)

    def settle(node: int, move: Move, child: ExecState) -> tuple[Move, ...]:
        """Record ``move`` (just taken into ``child``); with ``reduce``, run on in place.

        The deterministic local steps it enabled run at once, as part of the
        same edge: they commute with everything and nobody observes the
        states in between, so no state with such a step pending is stored.
        Their being part of the edge is what the cycle proviso then checks,
        so a cycle closed by them is seen (a stored state with such a step
        pending whose run led back to an older state would otherwise have to
        be expanded fully, and its other steps would pile up pending runs
        without end).
        """
        moves = [move]
        observe(node, moves, child)
        if (
            reduce
            and child.status not in FINAL
            and len(child.tokens) <= b.max_tokens
            and (t := next_det(child)) is not None
        ):
            run_det(node, moves, child, t)
        ex.steps += len(moves)
        if len(moves) > 1:
            ex.chained += 1
        return tuple(moves)

    def reach(
        moves: tuple[Move, ...], child: ExecState, ck: Checkpoint | None, only: bool = False
    ) -> _Child:
        """Key the state ``moves`` led to; keep it if the key is new (it may be stored).

        With a checkpoint ``child`` is the expanded state changed in place:
        a new one is copied (with the checkpoint it will be expanded with),
        then the checkpoint puts the state back.  Without, ``child`` is a
        private copy, kept as it is.  ``only``: the move is the state's only
        one if it leads to a new state (a deterministic run: the cycle
        proviso holds), so then the changed state itself is kept, with a
        checkpoint of it, and the state expanded is not needed any more.
        """
        key = fast_key(child)
        fin = child.status if child.status in FINAL else None
        if key in index:
            if ck is not None:
                ck.restore()
            return _Child(moves, key, fin, None, None, None)
        shape = shape_key(child) if shapes is not None else None
        keep: ExecState | None = None
        keep_ck: Checkpoint | None = None
        if len(ex.keys) >= b.max_states:  # past the bound: it is not stored
            if ck is not None:
                ck.restore()
            return _Child(moves, key, fin, None, None, shape)
        if ck is None:
            keep = child if fin is None else None
        elif only:  # kept as it is (a final one is not needed either)
            keep, keep_ck = (child, Checkpoint(child)) if fin is None else (None, None)
        else:
            if fin is None:
                keep, keep_ck = clone_with_checkpoint(child)
            ck.restore()
        return _Child(moves, key, fin, keep, keep_ck, shape)

    def token_children(node: int, src: _Expanding, tok: Token) -> list[_Child]:
        """Every outcome of one step of ``tok`` (then the deterministic steps it enables)."""
        out: list[_Child] = []
        script: list[int] | None = []
        tid = tok.id
        while script is not None:
            work, ck = src.work()
            move = space.step_token(work, tid, script)
            script = space.oracle.next_script()
            out.append(reach(settle(node, move, work), work, ck))
        return out

    def input_child(node: int, src: _Expanding, m: Move) -> _Child:
        """The outcome of the input ``m`` (then the deterministic steps it enables)."""
        work, ck = src.work()
        space.feed(work, m)
        return reach(settle(node, m, work), work, ck)

    def chain(node: int, src: _Expanding, tok: Token) -> _Child:
        """Run ``tok``'s deterministic step and the ones after it."""
        work, ck = src.work()
        moves: list[Move] = []
        run_det(node, moves, work, work.tokens[tok.id])
        ex.steps += len(moves)
        if len(moves) > 1:
            ex.chained += 1
        return reach(tuple(moves), work, ck, only=True)

    expansions = 0
    while queue:
        if deadline is not None:
            expansions += 1
            # every 16 expansions, from the first: a spent budget stops any exploration
            if expansions & 15 == 1 and time.perf_counter() > deadline:
                ex.hit["time_budget"] = len(queue)
                ex.budget_s = budget_s
                break
        node, st, st_ck = queue.popleft()
        if len(st.tokens) > b.max_tokens:
            ex.hit["max_tokens"] = ex.hit.get("max_tokens", 0) + 1
            continue
        enabled = sorted((t for t in st.tokens.values() if t.wait is None), key=lambda t: t.id)
        inputs = space.input_moves(st, cancel_regions)
        if not enabled and not inputs:
            ex.deadlocks.append(node)
            ex.expanded[node] = True
            continue
        # a state with several moves: each is applied to ``st`` in place and
        # undone (``st`` is not stored anywhere else), and only a move to a
        # new state copies it
        first = (
            next(
                (
                    t
                    for t in enabled
                    if det[t.pc] or t.pc in blocks or (t.pc in late and is_late(t))
                ),
                None,
            )
            if reduce
            else None
        )
        src = _Expanding(st, st_ck, share)
        children: list[_Child] | None = None
        tried: dict[int, list[_Child]] = {}
        tried_inputs: dict[Move, _Child] = {}
        if reduce:
            cand: list[_Child] | None = None
            if first is not None:
                cand = [chain(node, src, first)]
            elif late and (at_join := gathered(st, enabled, late)):
                # before a local step: a loop's local steps could otherwise
                # run ahead of the gathered branches forever
                cand = []
                for t in at_join:
                    cand.extend(got := token_children(node, src, t))
                    tried[t.id] = got
            else:
                for t in enabled:
                    if local[t.pc]:
                        cand = tried[t.id] = token_children(node, src, t)
                        break
            owners = [m.owner for m in inputs if m.owner >= 0]
            if cand is None and owners and not enabled:
                # the inputs delivered to one token: a signal goes to the
                # oldest waiter, so a later waiter's registration commutes
                # with it; they touch nothing else.  Only with every token
                # blocked: an enabled step that is not local may withdraw
                # another token's wait (an mi's close withdraws its more_on
                # waiter), so postponing it behind an input is not safe
                owner = min(owners)
                cand = []
                for m in inputs:
                    if m.owner == owner:
                        cand.append(got_one := input_child(node, src, m))
                        tried_inputs[m] = got_one
            if cand is not None:
                # the cycle proviso: every state the reduced set leads to is
                # new, or was discovered after this one (node numbers grow
                # along such edges), or was expanded with every transition
                # it has; so every cycle of the reduced graph passes through
                # a state where nothing was postponed
                covered = ex.covered
                if all(
                    c.status is not None
                    or (old := index.get(c.key, node + 1)) > node
                    or covered[old]
                    for c in cand
                ):
                    children = cand
                    ex.reduced += 1
                    # a reduced set that holds every transition of the state
                    every = (
                        not inputs and len(enabled) == 1
                        if enabled
                        else all(m.owner == cand[0].moves[0].owner for m in inputs)
                    )
        if children is None:
            every = True
            children = []
            seen_sym: set[tuple[Any, ...]] = set()
            for t in enabled:
                if reduce:
                    sk = _symmetric_key(t)
                    if sk is not None:
                        if sk in seen_sym:
                            continue
                        seen_sym.add(sk)
                outcomes = tried.get(t.id)
                if outcomes is None:
                    outcomes = token_children(node, src, t)
                children.extend(outcomes)
            for m in inputs:
                got_input = tried_inputs.get(m)
                if got_input is None:
                    got_input = input_child(node, src, m)
                children.append(got_input)
        # the depth bound counts branching points, not steps
        depth = ex.depth[node]
        if len(children) > 1:
            if depth >= b.max_depth:
                ex.hit["max_depth"] = ex.hit.get("max_depth", 0) + 1
                continue
            depth += 1
        full = True
        for c in children:
            ex.edges += 1
            j = index.get(c.key)
            if j is None:
                if len(ex.keys) >= b.max_states:
                    ex.hit["max_states"] = ex.hit.get("max_states", 0) + 1
                    full = False
                    continue
                j = add(c.key, node, c.moves, depth, c.status)
                if shapes is not None:
                    shapes.append(c.shape)
                if c.status is None:
                    assert c.state is not None  # new when reached: copied then
                    queue.append((j, c.state, c.ck))
            ex.succ[node].append(j)
        ex.expanded[node] = full
        ex.covered[node] = full and every
    return ex
