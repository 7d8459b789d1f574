"""Turning a witness into a replay log, so the runtime can be driven along it.

A witness (:attr:`wftrio.validation.Issue.witness`) is a path of the
abstracted workflow.  When it takes no condition outcome (its only choices
are which token steps, which ``xor`` default the scheduler picks, and which
inputs arrive), the *real* workflow can follow it too: :func:`witness_log`
drives the real Program on the reducer along the witness, with a scheduler
that picks exactly the witness's tokens, and returns the
:class:`~wftrio.trace.ReplayLog` of that run.  Start a case with
``scheduler=wf.Replay(log)`` (and ``validate=False``) on a substrate and the
runtime reproduces the run step for step, e.g. to watch a deadlock happen.
"""

from __future__ import annotations

from collections.abc import Sequence

from wftrio.compiler import compile as compile_term
from wftrio.engine import ExecState
from wftrio.engine.program import Program
from wftrio.errors import ExploredFailure, ReplayDivergence
from wftrio.terms import Term
from wftrio.trace import ReplayLog, replay_log
from wftrio.validation.explore import Move, Space
from wftrio.validation.fastkey import fast_key
from wftrio.validation.issues import Step

__all__ = ["replay_witness", "witness_log"]

_SCHEDULER_PICK = "scheduler pick"


class _Picker:
    """A preemptive scheduler picking the witness's next token (and xor default)."""

    __slots__ = ("picks", "st", "target")
    preemptive = True
    name = "witness"

    def __init__(self) -> None:
        self.st: ExecState | None = None
        self.target = -1
        self.picks: list[int] = []

    def pick(self, n: int, what: str) -> int:
        if what == "token":
            assert self.st is not None
            for i, t in enumerate(self.st.ready):
                if t.id == self.target:
                    return i
            raise ReplayDivergence(f"witness: token {self.target} is not ready")
        if not self.picks:
            raise ReplayDivergence(f"witness: the real workflow asks for a {what} pick here")
        return self.picks.pop(0)


def witness_log(
    term_or_program: Term | Program,
    witness: Sequence[Step],
    *,
    max_instances: int = 3,
    case_id: str = "witness",
) -> ReplayLog:
    """The replay log of the real workflow driven along ``witness``.

    Args:
        term_or_program: the workflow the witness was found in.
        witness: the issue's witness.
        max_instances: as passed to ``validate`` (default 3).
        case_id: the case id recorded in the log (effect causal ids derive
            from it).

    Returns:
        A log for ``wf.Replay``: its choices pick the witness's tokens, its
        inputs are the witness's signals (payload ``None``), effect outcomes
        (result ``None``, or a failure) and timer firings.

    Raises:
        ValueError: the witness takes a condition outcome or a computed
            ``mi`` count, which the real workflow decides from its data.
        ReplayDivergence: the real task functions took the real workflow
            elsewhere (e.g. a task raised, or returned an ``Effect``).
    """
    program = (
        term_or_program if isinstance(term_or_program, Program) else compile_term(term_or_program)
    )
    space = Space(program, max_instances, None)
    oracle = space.oracle
    abstract = space.initial()
    picker = _Picker()
    real = ExecState(program, case_id=case_id, scheduler=picker, trace_level="min")
    picker.st = real
    real.take_outbox()
    for n, s in enumerate(witness, 1):
        move = Move(s.kind, s.target, s.answers)
        abstract = space.apply(abstract, move)
        if s.kind == "run":
            labels = [label for _, label in oracle.asked]
            if any(not label.startswith(_SCHEDULER_PICK) for label in labels):
                raise ValueError(
                    f"witness step {n} ({s}) takes a condition outcome; the real workflow "
                    "decides those from its data, so it cannot be driven along this witness"
                )
            picker.target = int(s.target)
            picker.picks = list(s.answers)
            real.run(1)
        elif s.kind == "signal":
            real.feed_signal(str(s.target), None)
        elif s.kind == "effect":
            real.feed_effect(int(s.target), None)
        elif s.kind == "effect_failed":
            real.feed_effect(int(s.target), error=ExploredFailure("the witness lets it fail"))
        elif s.kind == "timer":
            real.fire_timer(int(s.target))
        else:
            real.cancel_region(str(s.target))
        real.take_outbox()
        if fast_key(real)[0] != fast_key(abstract)[0]:
            raise ReplayDivergence(
                f"witness step {n} ({s}): the real workflow went elsewhere (its task "
                "functions do not behave as the validator's abstraction)"
            )
    return replay_log(real.events)


def replay_witness(
    term_or_program: Term | Program,
    witness: Sequence[Step | Move],
    *,
    max_instances: int = 3,
) -> ExecState:
    """Run the reducer on the abstracted workflow along ``witness``; return the state.

    This is how a finding is checked: the returned state is the one the
    issue is about (e.g. a deadlock: every token waits and no input can
    come).  ``max_instances`` must match the value the witness was found
    with.
    """
    program = (
        term_or_program if isinstance(term_or_program, Program) else compile_term(term_or_program)
    )
    space = Space(program, max_instances, None)
    st = space.initial()
    for s in witness:
        move = s if isinstance(s, Move) else Move(s.kind, s.target, s.answers)
        st = space.apply(st, move)
    return st
