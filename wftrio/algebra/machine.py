"""Arbitrary cycles (WCP-10) as a state machine built from kernel terms.

:func:`machine` takes named states, each a term with transitions to other
states, and desugars them to a structured loop around an exclusive choice
that dispatches on the current state's name, kept in a ctx key::

    seq(task("{key}:->{start}", ...),
        loop(xor(branch({key}=={s}, seq(term_s, transitions_s)), ...),
             until={key}:ended))

so the compiler and the reducer run it with the instructions they already
have (``xor``, ``loop_test``, ``task``).  The bookkeeping steps are frozen
values of :mod:`wftrio.algebra.pattern_steps` (trusted by the validator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from wftrio.algebra.checks import check_condition, check_name, is_name
from wftrio.algebra.constructors import branch, loop, seq, task, xor
from wftrio.algebra.nodes import Cond, Seq, Term
from wftrio.algebra.pattern_steps import Ended, Goto, InState
from wftrio.errors import TermError, TermTypeError

__all__ = ["END", "machine"]

END: Final = "end"
"""The target of a transition that ends the machine (no state may be named so)."""

Transitions = str | Sequence[tuple[Cond, str] | str]


def _transitions(
    where: str, value: object, targets: frozenset[str]
) -> tuple[list[tuple[Cond, str]], str | None]:
    """Split a state's transitions into ``(cond, target)`` pairs and the default."""
    if isinstance(value, str):
        items: list[object] = [value]
    elif isinstance(value, Sequence) and not isinstance(value, bytes) and value:
        items = list(value)
    else:
        raise TermTypeError(
            f"{where}: transitions={value!r} must be a target state name, or a non-empty "
            "list of (cond, target) pairs optionally ending with a default target"
        )
    pairs: list[tuple[Cond, str]] = []
    default: str | None = None
    for i, item in enumerate(items):
        at = f"{where}.transitions[{i}]"
        if isinstance(item, str):
            if i != len(items) - 1:
                raise TermError(f"{at}: the default target {item!r} must be the last transition")
            target = item
            default = item
        elif isinstance(item, tuple) and len(item) == 2:
            cond = check_condition(at, "cond", item[0])
            target = item[1]
            if not is_name(target):
                raise TermTypeError(f"{at}: target must be a state name, got {target!r}")
            pairs.append((cond, target))
        else:
            raise TermTypeError(
                f"{at} is {item!r}: expected a (cond, target) pair or a default target name"
            )
        if target not in targets:
            raise TermError(
                f"{at}: unknown target state {target!r} (states: {sorted(targets - {END})}, "
                "or wf.END)"
            )
    return pairs, default


def machine(
    start: str, states: Mapping[str, tuple[Term, Transitions]], *, key: str = "machine"
) -> Seq:
    """Arbitrary cycles (WCP-10): a state machine of named states.

    Each state is ``name: (term, transitions)``.  The machine enters
    ``start`` and runs its term; when the term completes, the state's
    transitions choose the next state and that state's term runs, and so on
    until a transition goes to :data:`END` (``"end"``).  ``transitions`` is
    a target name (always taken), or a list of ``(cond, target)`` pairs
    tried in order, the first whose ``cond(ctx)`` is true winning, which may
    end with a bare target name: the default, taken when no condition holds.
    Conditions are pure synchronous callables, as for :func:`xor`; without a
    default, no true condition fails the case (as an ``xor`` does).

    The current state's name is kept in ``ctx[key]`` (``"machine"`` by
    default; ``END`` once the machine has ended); the key is reserved for
    the machine, so give machines that can be live at the same time
    different keys, and do not write it from a state's term (a name that is
    no state makes the dispatching ``xor`` fail the case).  Term form:
    ``seq(task(key + ":->" + start, ...), loop(xor(branch(in_state,
    seq(term, transitions)), ...), until=ended))`` where a transition is
    the task ``"{key}:{state}->{target}"`` setting ``ctx[key]``; a state's
    transitions with conditions are an ``xor`` of such tasks.  The trace
    names every transition taken.

    Every state must be able to reach ``END`` along its transitions
    (ignoring their conditions); a state that cannot is refused here.
    States that ``start`` cannot reach are allowed (they never run).

    Args:
        start: the first state.
        states: state name -> ``(term, transitions)``; names are non-empty
            strings other than ``"end"``.
        key: the ctx key holding the current state's name.

    Returns:
        The term (a ``seq``), built only from kernel constructors.

    Raises:
        TermTypeError: a bad ``start``, ``key``, state name, state value,
            term, condition (not callable, or ``async``) or transition.
        TermError: ``start`` or a transition's target is not a state, a
            state named ``"end"``, a default that is not last, no transition
            to ``END``, a state from which ``END`` cannot be reached, or
            region ids repeated across states.
    """
    check_name("machine", "key", key)
    check_name("machine", "start", start)
    if not isinstance(states, Mapping):
        raise TermTypeError(
            f"machine(states={states!r}): states must be a mapping name -> (term, transitions)"
        )
    if not states:
        raise TermError("machine(states={}): needs at least one state")
    for s in states:
        check_name("machine(states=...)", "a state name", s)
        if s == END:
            raise TermError(
                f"machine.states[{s!r}]: {END!r} is reserved for wf.END, the end of the machine"
            )
    if start not in states:
        raise TermError(f"machine(start={start!r}): unknown state (states: {sorted(states)})")
    targets = frozenset(states) | {END}
    parsed: dict[str, tuple[Term, list[tuple[Cond, str]], str | None]] = {}
    for s, value in states.items():
        where = f"machine.states[{s!r}]"
        if not (isinstance(value, tuple) and len(value) == 2):
            raise TermTypeError(f"{where} is {value!r}: expected a (term, transitions) pair")
        term, trans = value
        if not isinstance(term, Term):
            raise TermTypeError(
                f"{where}.term is {term!r} ({type(term).__name__}), expected a term"
            )
        pairs, default = _transitions(where, trans, targets)
        parsed[s] = (term, pairs, default)
    _check_ends(parsed)
    dispatch = xor(
        *(
            branch(InState(key, s), seq(term, _transition(key, s, pairs, default)))
            for s, (term, pairs, default) in parsed.items()
        )
    )
    enter = task(f"{key}:->{start}", Goto(key, "", start))
    return seq(enter, loop(dispatch, until=Ended(key, END)))


def _goto(key: str, source: str, target: str) -> Term:
    return task(f"{key}:{source}->{target}", Goto(key, source, target))


def _transition(key: str, source: str, pairs: list[tuple[Cond, str]], default: str | None) -> Term:
    if not pairs:
        assert default is not None
        return _goto(key, source, default)
    alts: list[Term] = [branch(c, _goto(key, source, t)) for c, t in pairs]
    if default is not None:
        alts.append(_goto(key, source, default))
    return xor(*alts)


def _check_ends(parsed: Mapping[str, tuple[Term, list[tuple[Cond, str]], str | None]]) -> None:
    """Refuse a state from which no path of transitions reaches END."""
    edges = {
        s: {t for _, t in pairs} | ({default} if default is not None else set())
        for s, (_, pairs, default) in parsed.items()
    }
    if not any(END in ts for ts in edges.values()):
        raise TermError(
            "machine(states=...): no transition goes to wf.END, so the machine never ends"
        )
    can_end = {END}
    changed = True
    while changed:
        changed = False
        for s, ts in edges.items():
            if s not in can_end and ts & can_end:
                can_end.add(s)
                changed = True
    stuck = [s for s in parsed if s not in can_end]
    if stuck:
        raise TermError(
            f"machine.states[{stuck[0]!r}]: no path of transitions from {stuck[0]!r} reaches "
            f"wf.END (ignoring conditions); states that cannot end: {stuck}"
        )
