"""An abstract case the explorer steps: its moves, and how to apply them.

:class:`Space` holds the abstracted Program (:mod:`wftrio.validation.abstract`)
with its oracle and steps the real reducer on it: one token's step with given
answers, an external input, a deterministic step or a summarised block run in
place.  :class:`Move` is one edge of the explored graph, replayable by
:meth:`Space.apply` on a fresh copy (witnesses do that).
"""

from __future__ import annotations

from typing import NamedTuple

from wftrio.engine import FINAL, ExecState
from wftrio.engine.objects import Token
from wftrio.engine.program import DeferOps, Program
from wftrio.engine.protocol import WaitKind
from wftrio.errors import ExploredFailure, InvariantViolation
from wftrio.validation.abstract import (
    Oracle,
    OracleScheduler,
    abstract_program,
    deterministic_pcs,
    instances_bound,
    local_pcs,
)
from wftrio.validation.clone import clone_state
from wftrio.validation.compose import Block
from wftrio.validation.issues import Step

__all__ = ["Move", "Space"]

_SUMMARY_STEPS = 1 << 20
"""A summarised block that runs longer than this is a validator bug (see Space.summarise)."""


class Move(NamedTuple):
    """One edge of the state graph: what happened, replayable."""

    kind: str  # run | signal | effect | effect_failed | timer | cancel_region
    target: int | str
    answers: tuple[int, ...] = ()
    pc: int = -1
    labels: tuple[str, ...] = ()
    asked: tuple[int, ...] = ()
    owner: int = -1  # the token an input is delivered to (-1: none in particular)


class Space:
    """An abstract case: the relinked Program, its oracle, and how to step it."""

    __slots__ = ("det", "local", "oracle", "original", "program", "signals", "stop_adding")

    def __init__(
        self,
        program: Program,
        max_instances: int,
        signals: frozenset[str] | None,
        cancel_regions: bool = False,
    ) -> None:
        self.original = program
        self.oracle = Oracle()
        self.program = abstract_program(program, self.oracle, max_instances)
        self.local = local_pcs(program, cancel_regions=cancel_regions)
        self.det = deterministic_pcs(program, self.local)
        self.signals = signals
        self.stop_adding = instances_bound(program, max_instances)

    def initial(self) -> ExecState:
        st = ExecState(
            self.program, None, scheduler=OracleScheduler(self.oracle), trace_level="none"
        )
        st.take_outbox()
        return st

    # -- moves ---------------------------------------------------------------

    def run_token(self, st: ExecState, tid: int, script: list[int]) -> ExecState:
        """Copy ``st`` and let token ``tid`` take one step, answering from ``script``."""
        child = clone_state(st)
        self.step_token(child, tid, script)
        return child

    def step_token(self, st: ExecState, tid: int, script: list[int]) -> Move:
        """Let token ``tid`` of ``st`` take one step in place, answering from ``script``.

        Returns the move, with the answers given (``script`` grows by the
        ones the step asked beyond it).
        """
        oracle = self.oracle
        oracle.reset(script)
        tok = st.tokens[tid]
        pc = tok.pc
        st.ready = [t for t in st.tokens.values() if t.wait is None and t is not tok]
        st.current = tok
        st.run(1)
        st.outbox.clear()
        asked = oracle.asked
        return Move(
            "run",
            tid,
            tuple(oracle.script[: len(asked)]),
            pc,
            tuple(label for _, label in asked),
            tuple(n for n, _ in asked),
        )

    def advance(self, st: ExecState, tok: Token) -> Move:
        """Let ``tok`` take one deterministic step in place (no copy); return the move.

        Only for a token at a :func:`~wftrio.validation.abstract.deterministic_pcs`
        place: the step asks the oracle nothing, so it has this one outcome.
        """
        pc = tok.pc
        self.oracle.reset([])
        st.ready = [t for t in st.tokens.values() if t.wait is None and t is not tok]
        st.current = tok
        st.run(1)
        st.outbox.clear()
        assert not self.oracle.asked, "a deterministic step asked the oracle"
        return Move("run", tok.id, (), pc)

    def summarise(self, st: ExecState, tok: Token, block: Block) -> list[Move]:
        """Run ``tok`` through ``block`` in place, along one completing path; return the moves.

        Only the tokens of this run (``tok`` and the ones created on the way)
        step, lowest id first, each while it is inside the block, with the
        oracle giving completing answers (see
        :class:`~wftrio.validation.abstract.Oracle`); the run ends when none
        of them is left inside.  The moves record every answer, so a witness
        through the block replays.

        Raises:
            InvariantViolation: the run did not leave the block the way
                :func:`~wftrio.validation.compose.summary_blocks` promises
                (a validator bug).
        """
        pcs = block.pcs
        first = st.next_id
        own = tok.id
        oracle = self.oracle
        moves: list[Move] = []
        oracle.completing = True
        try:
            while True:
                cur: Token | None = None
                for t in st.tokens.values():
                    if (
                        t.wait is None
                        and (t.id == own or t.id >= first)
                        and t.pc in pcs
                        and (cur is None or t.id < cur.id)
                    ):
                        cur = t
                if cur is None:
                    break
                pc = cur.pc
                oracle.reset([])
                st.ready = [t for t in st.tokens.values() if t.wait is None and t is not cur]
                st.current = cur
                st.run(1)
                st.outbox.clear()
                asked = oracle.asked
                moves.append(
                    Move(
                        "run",
                        cur.id,
                        tuple(oracle.script[: len(asked)]),
                        pc,
                        tuple(label for _, label in asked),
                        tuple(n for n, _ in asked),
                    )
                )
                if st.status in FINAL or len(moves) > _SUMMARY_STEPS:
                    break
        finally:
            oracle.completing = False
        left = [t for t in st.tokens.values() if t.id == own or t.id >= first]
        if st.status in FINAL or len(left) != 1 or left[0].wait is not None or left[0].pc in pcs:
            raise InvariantViolation(
                f"summarising {block.path} from token {own} did not leave it in one token "
                f"(status {st.status}, tokens {[(t.id, t.pc) for t in left]})"
            )
        return moves

    def token_moves(self, st: ExecState, tok: Token) -> list[tuple[Move, ExecState]]:
        """Every outcome of one step of ``tok``."""
        out: list[tuple[Move, ExecState]] = []
        script: list[int] | None = []
        oracle = self.oracle
        while script is not None:
            child = clone_state(st)
            out.append((self.step_token(child, tok.id, script), child))
            script = oracle.next_script()
        return out

    def input_moves(self, st: ExecState, cancel_regions: bool) -> list[Move]:
        """The external inputs that could happen in ``st``."""
        moves: list[Move] = []
        declared = self.signals
        for name in sorted(st.waiters):
            if declared is None or name in declared:
                owner = st.signal_waiters(name)[0][0]
                if not self.stop_adding(owner):
                    moves.append(Move("signal", name, owner=owner.id))
        for eid in sorted(st.effects):
            tok = st.effects[eid]
            moves.append(Move("effect", eid, pc=tok.pc, owner=tok.id))
            moves.append(Move("effect_failed", eid, pc=tok.pc, owner=tok.id))
        instrs = self.program.instrs
        for tok in sorted(st.tokens.values(), key=lambda t: t.id):
            w = tok.wait
            if w is None or w.kind != WaitKind.DEFER:
                continue
            ops = instrs[tok.pc].ops
            assert isinstance(ops, DeferOps)
            timers = [
                (float(ops.alts[a.alt].key), a.key, a.alt)
                for a in w.arms
                if a.kind == WaitKind.TIMER
            ]
            if timers:
                first = min(s for s, _, _ in timers)
                for s, tid, _ in timers:
                    if s == first:
                        moves.append(Move("timer", tid, pc=tok.pc, owner=tok.id))
        if cancel_regions:
            for sid in st.live_regions():
                moves.append(Move("cancel_region", sid))
        return moves

    def apply_input(self, st: ExecState, move: Move) -> ExecState:
        """Copy ``st`` and feed it the input ``move``."""
        child = clone_state(st)
        self.feed(child, move)
        return child

    def feed(self, child: ExecState, move: Move) -> None:
        """Feed ``child`` the input ``move``, in place."""
        kind, target = move.kind, move.target
        if kind == "signal":
            child.feed_signal(str(target), None)
        elif kind == "effect":
            child.feed_effect(int(target), None)
        elif kind == "effect_failed":
            child.feed_effect(int(target), error=ExploredFailure("the explorer let it fail"))
        elif kind == "timer":
            child.fire_timer(int(target))
        elif kind == "cancel_region":
            child.cancel_region(str(target))
        else:  # pragma: no cover - moves are built above
            raise ValueError(f"unknown move {kind!r}")
        child.outbox.clear()

    def apply(self, st: ExecState, move: Move) -> ExecState:
        """Copy ``st`` and apply ``move`` (a step with its answers, or an input)."""
        if move.kind == "run":
            return self.run_token(st, int(move.target), list(move.answers))
        return self.apply_input(st, move)

    # -- readable steps ------------------------------------------------------

    def describe(self, move: Move) -> str:
        instrs = self.program.instrs
        kind, target = move.kind, move.target
        if kind == "run":
            ins = instrs[move.pc]
            text = f"token {target}: {ins.op} {ins.path}"
            if move.labels:
                parts = []
                for label, n, a in zip(move.labels, move.asked, move.answers, strict=True):
                    ans = ("true" if a else "false") if n == 2 and "count" not in label else a
                    parts.append(f"{label} -> {ans}")
                text += " (" + "; ".join(parts) + ")"
            return text
        if kind == "signal":
            return f"signal {target!r} arrives"
        if kind in ("effect", "effect_failed"):
            ins = instrs[move.pc]
            verb = "completes" if kind == "effect" else "fails"
            return f"effect {target} ({ins.path}) {verb}"
        if kind == "timer":
            return f"timer {target} of {instrs[move.pc].path} fires"
        return f"region {target!r} is cancelled"

    def step(self, move: Move) -> Step:
        return Step(move.kind, move.target, move.answers, self.describe(move))
