"""The smart constructors: the only way users are meant to build terms.

Each constructor normalises its arguments (wraps plain terms as branches,
turns sequences into tuples, numbers into floats) and builds the node,
which checks its own fields (:mod:`wftrio.algebra.nodes`); the messages
name the constructor's node and argument, e.g. ``seq[1] is 3 (int), ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from wftrio.algebra.checks import check_callable, check_name
from wftrio.algebra.mi_node import MI, ResultsCond
from wftrio.algebra.nodes import (
    After,
    Branch,
    Cond,
    Ctx,
    Defer,
    Join,
    Loop,
    OnSignal,
    Region,
    Seq,
    Task,
    TaskFn,
    TaskOptions,
    Term,
    Terminate,
    WaitSignal,
    Xor,
    check_task_options,
    check_term,
)
from wftrio.algebra.policies import First, Retry
from wftrio.errors import TermError, TermTypeError

__all__ = [
    "after",
    "branch",
    "choice",
    "defer",
    "join",
    "loop",
    "mi",
    "on_signal",
    "par",
    "region",
    "seq",
    "task",
    "terminate",
    "wait_signal",
    "xor",
]


def task(
    name: str,
    fn: TaskFn,
    *,
    timeout: float | None = None,
    retry: Retry | None = None,
    on_error: Term | None = None,
    cost: float | None = None,
    kind: str | None = None,
) -> Task:
    """A task: ``fn(ctx)`` returns a Mapping of ctx updates or None.

    A sync ``fn`` is a pure step run by the reducer; an ``async def fn`` is an
    effect, run by the runtime in its region's cancel scope.  A sync ``fn``
    may instead return a ``wftrio.Effect(kind, payload)`` spec, which the
    case's ``effect_handler`` carries out (docs/EFFECTS.md).

    Args:
        name: the task's name (trace events, receipts, messages).
        fn: the task function.
        timeout: seconds of trio time one attempt of the task's effect may
            take; a slower attempt fails with ``wftrio.EffectTimeout``.
        retry: a :class:`Retry` policy for the task's effect.
        on_error: a compensating term: when the task fails (its effect
            failed after its retries, was refused by governance, or ``fn``
            raised), this term runs instead and the case continues after
            the task; without it the failure fails the case.
        cost: the cost charged to the case's budget per effect (an
            ``Effect`` may declare its own).
        kind: the effect kind (default: the task's name for an async
            ``fn``); allowlists and receipts use it.  On a sync ``fn`` it is
            the only kind of ``Effect`` the task may return, and a step that
            returns plain updates leaves a receipt of this kind (an audited
            step).

    Raises:
        TermTypeError: a bad name, ``fn`` not callable, or a bad option.
    """
    if timeout is None and retry is None and on_error is None and cost is None and kind is None:
        return Task(name, fn)
    check_name("task", "name", name)
    check_callable(f"task({name!r})", "fn", fn)
    opts = check_task_options(f"task({name!r})", timeout, retry, on_error, cost, kind)
    return Task(name, fn, TaskOptions(*opts))


def seq(*terms: Term) -> Seq:
    """Sequence (WCP-1): run ``terms`` in order.

    Raises:
        TermError: no terms were given, a child is not a term, or region ids repeat.
    """
    return Seq(terms)


def branch(cond: Cond, term: Term) -> Branch:
    """A guarded alternative for :func:`xor` and :func:`choice`.

    Raises:
        TermTypeError: ``cond`` is not a synchronous callable (conditions are
            pure and synchronous), or ``term`` is not a term.
    """
    if cond is None:  # Branch(None, term) is an unconditioned alternative, not this
        check_callable("branch", "cond", cond)
    return Branch(cond, term)


def _branches(where: str, items: Sequence[Term], allow_cond: bool) -> tuple[Branch, ...]:
    out: list[Branch] = []
    for i, t in enumerate(items):
        if isinstance(t, Branch):
            if not allow_cond:
                raise TermError(
                    f"{where}[{i}]: conditioned branches are only allowed in xor, choice and "
                    "join('sync_merge', ...); use choice(...) for a multi-choice"
                )
            out.append(t)
        else:
            out.append(Branch(None, check_term(f"{where}[{i}]", t)))
    return tuple(out)


def join(policy: str | First, *terms: Term) -> Join:
    """Parallel split of ``terms`` followed by a join with ``policy``.

    Args:
        policy: ``"all"`` (AND-join), ``"sync_merge"`` (synchronizing merge:
            waits for exactly the branches that started and did not end with
            ``halt()``; branches may be :func:`branch` guards) or :func:`first`.
        *terms: the branches.

    Raises:
        TermError: unknown policy, no branches, ``first(n)`` with ``n`` above the
            number of branches, or duplicate region ids.
    """
    if policy not in ("all", "sync_merge") and not isinstance(policy, First):
        Join(policy, ())  # raises, naming the policy
    where = "par" if policy == "all" else "join"
    if not terms:
        raise TermError(f"{where}(): needs at least one branch")
    return Join(policy, _branches(where, terms, allow_cond=policy == "sync_merge"))


def par(*terms: Term) -> Join:
    """Parallel split + synchronization (WCP-2/3): run ``terms`` concurrently, wait for all."""
    return join("all", *terms)


def choice(*branches: Term) -> Join:
    """Multi-choice + structured synchronizing merge (WCP-6/7).

    Starts every branch whose condition holds (unconditioned terms always
    start) and waits for exactly those.  If none starts, the case fails.  A
    branch that ends with ``halt()`` is no longer waited for (WCP-33/37/38,
    see :func:`wftrio.terms.halt`).
    """
    if not branches:
        raise TermError("choice(): needs at least one branch")
    return Join("sync_merge", _branches("choice", branches, allow_cond=True))


def xor(*alternatives: Term) -> Xor:
    """Exclusive choice + simple merge (WCP-4/5).

    Conditioned alternatives (:func:`branch`) are tried in order; the first
    true one wins.  Unconditioned alternatives are defaults; with several
    the scheduler picks one (recorded).  No true condition and no default
    fails the case.
    """
    if not alternatives:
        raise TermError("xor(): needs at least one alternative")
    return Xor(_branches("xor", alternatives, allow_cond=True))


def loop(
    body: Term,
    *,
    times: int | None = None,
    while_: Cond | None = None,
    until: Cond | None = None,
) -> Loop:
    """Structured loop (WCP-21) with exactly one policy.

    ``times=n`` runs the body exactly ``n`` times; ``while_=c`` tests ``c``
    before each iteration (zero or more); ``until=c`` tests after each
    iteration (one or more).  Conditions are pure and synchronous.
    """
    return Loop(body, times, while_, until)


def on_signal(name: str, term: Term) -> OnSignal:
    """A :func:`defer` alternative triggered by signal ``name``."""
    return OnSignal(name, term)


def after(seconds: float, term: Term) -> After:
    """A :func:`defer` alternative triggered after ``seconds`` of trio time."""
    return After(seconds, term)


def defer(*alternatives: OnSignal | After) -> Defer:
    """Deferred choice (WCP-16): wait for the first trigger; the others are withdrawn."""
    return Defer(alternatives)


def wait_signal(name: str, store_as: str | None = None) -> WaitSignal:
    """Block the token until signal ``name``; its payload goes to ``ctx[store_as]``."""
    return WaitSignal(name, store_as)


def region(
    scope_id: str,
    term: Term,
    *,
    compensate: Term | None = None,
    allow: Iterable[str] | None = None,
) -> Region:
    """Cancellation region (WCP-25): ``cancel_region(case, scope_id)`` withdraws it.

    A cancelled region runs ``compensate`` (if given), then control continues
    after the region as if it had completed.  ``allow`` is the set of effect
    kinds an effect requested inside the region may have (nested regions
    and the case's ``allow=`` option narrow it further); a disallowed effect
    never runs and fails its task with ``wftrio.GuardViolation``.
    """
    allowed: frozenset[str] | None = None
    if allow is not None:
        if isinstance(allow, str | bytes) or not isinstance(allow, Iterable):
            check_name("region", "scope_id", scope_id)
            raise TermTypeError(
                f"region({scope_id!r}): allow={allow!r} must be a set of effect kinds (strings)"
            )
        try:
            allowed = frozenset(allow)
        except TypeError:  # an unhashable kind
            check_name("region", "scope_id", scope_id)
            raise TermTypeError(
                f"region({scope_id!r}): allow={allow!r} must be a set of effect kinds (strings)"
            ) from None
    return Region(scope_id, term, compensate, allowed)


def mi(
    body: Term,
    *,
    count: int | Callable[[Ctx], int] | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] | None = None,
    join: int | Literal["all", "none"] | ResultsCond = "all",
    collect: str | None = None,
    item_key: str = "item",
    cancel_rest: bool = False,
    until: ResultsCond | None = None,
    complete_on: str | None = None,
    more_on: str | None = None,
    close_on: str | None = None,
) -> MI:
    """Multiple instances of ``body`` running concurrently (WCP-12..15, 27, 34..36).

    Args:
        body: the term each instance runs.
        count: number of instances, or ``fn(ctx) -> int`` evaluated at run time
            (pure and synchronous).
        items: a sequence, or ``fn(ctx) -> iterable`` (pure and synchronous);
            one instance per item.
        join: ``"all"`` waits for every instance, ``n`` continues after ``n``
            (the rest finish and are absorbed), ``"none"`` continues at once;
            ``fn(results) -> bool`` continues as soon as it holds for the
            instances finished so far (a dynamic partial join, WCP-36; it
            is asked each time an instance finishes, and the mi continues
            anyway once every instance is done and no more can come).
        collect: store the instances' results (their ctx updates) in
            ``ctx[collect]`` as a list in item order.
        item_key: the instance-local ctx key holding the instance's item.
        cancel_rest: with a partial join (``join=n``), withdraw the instances
            still running when the n-th finishes, and spawn no more (the
            cancelling partial join for MI, WCP-35); withdrawn instances
            are not compensated and do not appear in ``collect``.  Also
            with ``join=fn``.
        until: ``fn(results) -> bool``, asked each time an instance
            finishes: when it holds, the activity is complete (WCP-27): the
            instances still running are withdrawn without compensation,
            none is spawned or added any more, and the mi continues (if it
            has not already).
        complete_on: a signal that completes the activity from outside
            as ``until`` does (WCP-27).
        more_on: a signal whose every arrival adds an instance, its payload
            the item (WCP-15), while the activity runs; needs ``close_on``,
            ``complete_on`` or ``until`` to end, and a join that waits.
        close_on: a signal that ends the adding of instances (WCP-15): the
            join then waits for the instances started so far.

    Raises:
        TermError: not exactly one of ``count`` / ``items``; a bad join,
            ``collect`` or ``item_key``; ``cancel_rest=True`` without
            ``join=n`` or ``join=fn``; ``close_on`` without ``more_on``;
            ``more_on`` with ``join="none"`` or with nothing to end it; one
            signal name given to two options.
        TermTypeError: a bad count, item list, ``cancel_rest``, condition
            (not callable, or ``async``) or signal name.
    """
    items_v: tuple[Any, ...] | Callable[[Ctx], Iterable[Any]] | None = None
    if items is not None:
        if callable(items):
            items_v = items
        elif isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
            check_term("mi.body", body)
            raise TermTypeError(
                f"mi(items={items!r}): items must be a sequence or fn(ctx) -> iterable"
            )
        else:
            items_v = tuple(items)
    return MI(
        body,
        count,
        items_v,
        join,
        collect,
        item_key,
        cancel_rest,
        until,
        complete_on,
        more_on,
        close_on,
    )


def terminate() -> Terminate:
    """Explicit termination (WCP-43): the case ends DONE, withdrawing every token."""
    return Terminate()
