"""The derived patterns: every function builds its term only from the kernel constructors.

Documented for users in :mod:`wftrio.patterns` (the public face of this
module).  The bookkeeping steps the patterns add (lock acquire/release,
routing state) are frozen callable values defined here: identical calls
build equal terms, and the validator trusts this module's functions
(``wftrio.validation.abstract``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from wftrio.algebra.approval import approval_functions, approval_signal
from wftrio.algebra.call_patterns import recursion
from wftrio.algebra.checks import check_name, is_name, is_number, name_problem
from wftrio.algebra.constructors import (
    after,
    branch,
    choice,
    defer,
    join,
    loop,
    mi,
    on_signal,
    par,
    region,
    seq,
    task,
    terminate,
    wait_signal,
    xor,
)
from wftrio.algebra.join_patterns import (
    blocking_discriminator,
    blocking_partial_join,
    thread_merge,
    thread_split,
)
from wftrio.algebra.machine import Transitions, machine
from wftrio.algebra.mi_node import MI
from wftrio.algebra.mi_patterns import (
    cancelling_partial_join_mi,
    complete_mi_activity,
    dynamic_partial_join_mi,
    mi_without_a_priori_runtime_knowledge,
)
from wftrio.algebra.nodes import (
    After,
    Defer,
    Join,
    Loop,
    OnSignal,
    Region,
    Seq,
    Term,
    Terminate,
    WaitSignal,
    Xor,
    walk,
)
from wftrio.algebra.pattern_steps import (
    Claim,
    End,
    Must,
    NotOwner,
    Release,
    Runs,
    Skip,
    Start,
    StepDone,
    TryAcquire,
)
from wftrio.algebra.policies import first
from wftrio.algebra.sync_patterns import (
    general_synchronizing_merge,
    generalised_and_join,
    local_synchronizing_merge,
)
from wftrio.errors import TermError, TermTypeError

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

Ctx = Mapping[str, Any]


def _check_name(where: str, arg: str, value: object) -> str:
    """Return ``value`` if it is a name; else raise naming ``where(arg=value)``."""
    problem = name_problem(value)
    if problem is not None:
        raise TermTypeError(f"{where}({arg}={value!r}): {arg} {problem}")
    assert isinstance(value, str)
    return value


def _noop(ctx: Ctx) -> None:
    """A bookkeeping task that changes nothing."""
    return None


# ---------------------------------------------------------------------------
# basic control flow (WCP-1..8)


def sequence(*terms: Term) -> Seq:
    """Sequence (WCP-1).  Term form: ``seq(*terms)``."""
    return seq(*terms)


def parallel_split(*terms: Term) -> Join:
    """Parallel split (WCP-2), synchronised at the end.  Term form: ``par(*terms)``.

    A block-structured split always has its join; the AND-join half is
    :func:`synchronization` (WCP-3), the same term.
    """
    return par(*terms)


def synchronization(*terms: Term) -> Join:
    """Synchronization / AND-join (WCP-3).  Term form: ``par(*terms)``."""
    return par(*terms)


def exclusive_choice(*alternatives: Term) -> Xor:
    """Exclusive choice (WCP-4).  Term form: ``xor(*alternatives)``.

    Alternatives are terms (defaults) or ``branch(cond, term)``; the first
    true condition wins, see :func:`wftrio.terms.xor`.
    """
    return xor(*alternatives)


def simple_merge(*alternatives: Term) -> Xor:
    """Simple merge (WCP-5).  Term form: ``xor(*alternatives)``.

    In a block-structured algebra the merge is the end of the exclusive
    choice that opened the branches: whatever follows an ``xor`` runs once,
    after the one alternative taken.  This is a documentation-level alias of
    :func:`exclusive_choice`.
    """
    return xor(*alternatives)


def multi_choice(*branches: Term) -> Join:
    """Multi-choice / OR-split (WCP-6).  Term form: ``choice(*branches)``.

    Every branch whose condition holds (and every unconditioned term)
    starts; the structured synchronising merge (WCP-7) that closes it waits
    for exactly those.
    """
    return choice(*branches)


def structured_synchronizing_merge(*branches: Term) -> Join:
    """Structured synchronizing merge (WCP-7).  Term form: ``choice(*branches)``,
    i.e. ``join("sync_merge", *branches)``."""
    return choice(*branches)


def multi_merge(*branches: Term, then: Term) -> Join:
    """Multi-merge (WCP-8): ``then`` runs once for *each* branch that arrives.

    Term form: ``par(seq(b1, then), seq(b2, then), ...)``.  Each branch runs
    its own copy of the continuation as soon as it finishes, without waiting
    for the others; what follows the multi-merge runs after every copy.

    Raises:
        TermError: no branches, or ``then`` contains a region (each copy
            would reuse its id; region ids must be unique in a workflow).
    """
    if not branches:
        raise TermError("multi_merge(): needs at least one branch")
    if isinstance(then, Term) and then.region_ids:
        raise TermError(
            f"multi_merge(then={then!r}): then contains region(s) "
            f"{sorted(then.region_ids)}; it is copied into every branch and region ids "
            "must be unique in a workflow"
        )
    return par(*(seq(b, then) for b in branches))


# ---------------------------------------------------------------------------
# advanced branching and synchronisation


def discriminator(*branches: Term) -> Join:
    """Structured discriminator (WCP-9).  Term form: ``join(first(1), *branches)``.

    What follows runs once, when the first branch arrives; later branches
    run to completion and are absorbed (the case ends only after them).
    """
    return join(first(1), *branches)


def cancelling_discriminator(*branches: Term) -> Join:
    """Cancelling discriminator (WCP-29).

    Term form: ``join(first(1, cancel_rest=True), *branches)``: when the first
    branch arrives the others are withdrawn (their effects cancelled, their
    timers and signal waits dropped) and what follows runs once.
    """
    return join(first(1, cancel_rest=True), *branches)


def n_out_of_m(n: int, *branches: Term, cancel_rest: bool = False) -> Join:
    """Structured partial join, N-out-of-M (WCP-30; WCP-32 with ``cancel_rest``).

    Term form: ``join(first(n, cancel_rest), *branches)``.  What follows runs
    once, when ``n`` branches have arrived.  Without ``cancel_rest`` the
    remaining branches finish and are absorbed; with it they are withdrawn
    (the cancelling partial join, WCP-32).  The blocking partial join
    (WCP-31) is :func:`blocking_partial_join`.

    Raises:
        TermError: ``n`` is not an int >= 1 or exceeds the number of branches.
    """
    return join(first(n, cancel_rest=cancel_rest), *branches)


def partial_join(n: int, *branches: Term) -> Join:
    """Structured partial join (WCP-30).  Term form: ``join(first(n), *branches)``."""
    return join(first(n), *branches)


def cancelling_partial_join(n: int, *branches: Term) -> Join:
    """Cancelling partial join (WCP-32).

    Term form: ``join(first(n, cancel_rest=True), *branches)``.
    """
    return join(first(n, cancel_rest=True), *branches)


def arbitrary_cycles(
    start: str, states: Mapping[str, tuple[Term, Transitions]], *, key: str = "machine"
) -> Seq:
    """Arbitrary cycles (WCP-10).  Term form: ``machine(start, states)``.

    A state machine of named states, each a term followed by transitions
    chosen by conditions on the ctx; cycles need not be block-structured.
    See :func:`wftrio.terms.machine` for the syntax and what it desugars to.
    """
    return machine(start, states, key=key)


# ---------------------------------------------------------------------------
# multiple instances


def mi_without_sync(
    body: Term,
    *,
    count: int | Callable[[Ctx], int] | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] | None = None,
    item_key: str = "item",
) -> MI:
    """Multiple instances without synchronization (WCP-12).

    Term form: ``mi(body, count=/items=, join="none")``: control continues at
    once; the case ends only when every instance has.
    """
    return mi(body, count=count, items=items, join="none", item_key=item_key)


def mi_with_design_time_knowledge(
    body: Term,
    *,
    count: int | None = None,
    items: Sequence[Any] | None = None,
    collect: str | None = None,
    item_key: str = "item",
) -> MI:
    """Multiple instances with a priori design-time knowledge (WCP-13).

    Term form: ``mi(body, count=n | items=[...], join="all")`` with the
    number of instances fixed in the term.

    Raises:
        TermTypeError: ``count`` or ``items`` is a callable (that is WCP-14,
            :func:`mi_with_runtime_knowledge`).
    """
    if callable(count) or callable(items):
        raise TermTypeError(
            "mi_with_design_time_knowledge: count/items must be fixed in the term (an int or "
            "a sequence); use mi_with_runtime_knowledge for a callable"
        )
    return mi(body, count=count, items=items, join="all", collect=collect, item_key=item_key)


def mi_with_runtime_knowledge(
    body: Term,
    *,
    count: Callable[[Ctx], int] | None = None,
    items: Callable[[Ctx], Iterable[Any]] | None = None,
    collect: str | None = None,
    item_key: str = "item",
) -> MI:
    """Multiple instances with a priori run-time knowledge (WCP-14).

    Term form: ``mi(body, count=fn | items=fn, join="all")``: the number of
    instances is computed from the ctx when the node is reached.

    Raises:
        TermTypeError: ``count`` / ``items`` is given but not callable.
    """
    for arg, v in (("count", count), ("items", items)):
        if v is not None and not callable(v):
            raise TermTypeError(
                f"mi_with_runtime_knowledge({arg}={v!r}): must be fn(ctx); use "
                "mi_with_design_time_knowledge for a fixed number"
            )
    return mi(body, count=count, items=items, join="all", collect=collect, item_key=item_key)


def static_partial_join_mi(
    body: Term,
    n: int,
    *,
    count: int | Callable[[Ctx], int] | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] | None = None,
    collect: str | None = None,
    item_key: str = "item",
) -> MI:
    """Static partial join for multiple instances (WCP-34).

    Term form: ``mi(body, count=/items=, join=n)``: control continues once
    ``n`` instances are done; the rest finish and are absorbed.
    """
    return mi(body, count=count, items=items, join=n, collect=collect, item_key=item_key)


# ---------------------------------------------------------------------------
# state-based patterns


def deferred_choice(*alternatives: OnSignal | After) -> Defer:
    """Deferred choice (WCP-16).  Term form: ``defer(*alternatives)``.

    Alternatives are ``on_signal(name, term)`` / ``after(seconds, term)``;
    the first trigger wins and the others are withdrawn.
    """
    return defer(*alternatives)


def _chains(where: str, chains: Sequence[Term | Sequence[Term]]) -> tuple[tuple[Term, ...], ...]:
    out: list[tuple[Term, ...]] = []
    for i, c in enumerate(chains):
        if isinstance(c, Term):
            out.append((c,))
        elif isinstance(c, Sequence) and not isinstance(c, str | bytes) and c:
            for j, t in enumerate(c):
                if not isinstance(t, Term):
                    raise TermTypeError(
                        f"{where}[{i}][{j}] is {t!r} ({type(t).__name__}), expected a term"
                    )
            out.append(tuple(c))
        else:
            raise TermTypeError(
                f"{where}[{i}] is {c!r}, expected a term or a non-empty sequence of terms"
            )
    return tuple(out)


def interleaved_parallel_routing(*chains: Term | Sequence[Term], key: str = "interleaved") -> Seq:
    """Interleaved parallel routing (WCP-17): run every step once, one at a time.

    Each argument is a *chain*: a term, or a sequence of terms that must run
    in that order (the partial order of WCP-17, as disjoint chains).  Every
    step of every chain runs exactly once, never two at the same time, and
    which chain moves next is chosen at run time by the case's scheduler:
    program order under ``"deterministic"`` (the chains run one after
    another as written), random and recorded under ``Seeded``, reproduced
    under ``Replay``.  Steps may be any terms, effects included; a step's
    own inner concurrency is untouched, but no other step starts before it
    has finished.

    Term form (a single token runs it, so mutual exclusion is structural)::

        seq(start,
            loop(seq(decide[0], ..., decide[m-1],
                     xor(branch(claimed(i) and next_step(i) == j, step[i][j]), ...),
                     step_done),
                 times=<number of steps>),
            end)

    where ``decide[i] = xor(branch(skip_i, pass), branch(must_i, claim_i),
    claim_i, pass)``: chain ``i`` is skipped once a chain is claimed this
    round or when it is exhausted, must be claimed when no later chain has a
    step left (so every round claims exactly one), and otherwise the two
    defaults ``claim_i`` / ``pass`` are a scheduler choice.

    Bookkeeping lives in ``ctx[key]`` (written by the pattern's own tasks,
    named ``"{key}:..."``): while running it is a dict, and when the pattern
    has finished ``ctx[key]`` is the list of chain indices in the order
    their steps ran.  Give every interleaving that can be live at the same
    time its own ``key``.

    Args:
        *chains: at least one term or non-empty sequence of terms.
        key: the ctx key holding the bookkeeping and, at the end, the order.

    Raises:
        TermError: no chains, a chain that is empty or not made of terms,
            a bad ``key``, or region ids repeated across steps.
    """
    where = "interleaved_parallel_routing"
    if not chains:
        raise TermError(f"{where}(): needs at least one chain")
    check_name(where, "key", key)
    cs = _chains(where, chains)
    sizes = tuple(len(c) for c in cs)
    m = len(cs)
    pass_ = task(f"{key}:pass", _noop)
    decides = [
        xor(
            branch(Skip(key, i, sizes), pass_),
            branch(Must(key, i, sizes), task(f"{key}:claim[{i}]", Claim(key, i))),
            task(f"{key}:claim[{i}]", Claim(key, i)),
            pass_,
        )
        for i in range(m)
    ]
    steps = [branch(Runs(key, i, j), t) for i, c in enumerate(cs) for j, t in enumerate(c)]
    body = seq(*decides, xor(*steps), task(f"{key}:step_done", StepDone(key)))
    return seq(
        task(f"{key}:start", Start(key, m)),
        loop(body, times=sum(sizes)),
        task(f"{key}:end", End(key)),
    )


def interleaved_routing(*terms: Term, key: str = "interleaved") -> Seq:
    """Interleaved routing (WCP-40): each term once, in any order, one at a time.

    The special case of :func:`interleaved_parallel_routing` where every
    chain is a single term; ``ctx[key]`` ends as the list of term indices in
    the order they ran.
    """
    for i, t in enumerate(terms):
        if not isinstance(t, Term):
            raise TermTypeError(f"interleaved_routing[{i}] is {t!r}, expected a term")
    return interleaved_parallel_routing(*terms, key=key)


def milestone(name: str, body: Term, *, otherwise: Term | None = None) -> Defer:
    """Milestone (WCP-18): ``body`` is enabled only while milestone ``name`` holds.

    A task cannot raise a signal, so the milestone's state is announced from
    outside the branch by two persistent signals: ``"{name}:reached"`` when
    the milestone starts to hold and ``"{name}:expired"`` when the process
    has moved past it.  Term form::

        defer(on_signal("{name}:expired", otherwise),
              on_signal("{name}:reached", body))

    When the branch gets here: if the milestone has expired (its
    ``expired`` signal is queued, whether or not ``reached`` is too) the
    ``otherwise`` term runs; if it holds (only ``reached`` queued) ``body``
    runs at once; if neither has been sent yet the branch waits and the
    first of the two to arrive decides.  ``expired`` is listed first because
    a deferred choice takes the first alternative, in written order, whose
    signal is already queued.  Each milestone watcher consumes one
    ``reached`` (or ``expired``) signal: send one per watcher.

    Args:
        name: the milestone's name (the prefix of both signal names).
        body: what runs while the milestone holds.
        otherwise: what runs when it was missed (default: a task named
            ``"{name}:missed"`` that changes nothing).

    Raises:
        TermError: ``name`` is not a non-empty string, or a bad term.
    """
    _check_name("milestone", "name", name)
    if otherwise is None:
        otherwise = task(f"{name}:missed", _noop)
    return defer(on_signal(f"{name}:expired", otherwise), on_signal(f"{name}:reached", body))


def critical_section(
    lock: str, body: Term, *, poll: float = 0.01, section: str | None = None
) -> Region:
    """Critical section (WCP-39): sections on the same ``lock`` never overlap.

    Place one ``critical_section(lock, ...)`` in each branch whose region
    must not run concurrently with the others'.  A task cannot send a
    signal, so the lock is not a signal: it is the ctx key
    ``"lock:{lock}"``, taken with an atomic test-and-set *task* (a pure
    task's read and its update are one reduction step, so no other token
    can slip in between).  A section that finds the lock taken waits
    ``poll`` seconds of (trio) time and tries again.  Term form::

        region(section,
               seq(acquire,
                   loop(defer(after(poll, acquire)), while_=not_owner),
                   body,
                   release),
               compensate=release)

    with ``acquire`` = ``task("{section}:acquire", ...)`` setting
    ``ctx["lock:{lock}"] = section`` when it is ``None``/absent, and
    ``release`` = ``task("{section}:release", ...)`` setting it back to
    ``None`` if this section holds it.  The ``region`` gives every
    section an id (``section``; by default ``"critical:{lock}@<digest>"``,
    where the digest is computed from ``body``'s node paths, so the same
    call builds the same term in every process).  Region ids must be
    unique in a workflow: placing the *same* section term twice, or two
    sections on one lock whose bodies have the same shape and names, is
    rejected as a duplicate region id; give them ``section=`` names.
    Cancelling the region releases the lock through its compensation.

    Limits, stated precisely: the lock is a ctx key, so it only excludes
    sections sharing a ctx scope (branches of ``par``/``join``/``choice``/
    ``xor``/``defer``, not different ``mi`` instances, whose writes are
    instance-local); waiting is polling, not a queue (no fairness); if an
    *enclosing* region is cancelled while the section holds the lock, the
    section is withdrawn without its compensation and the lock stays taken
    (release it in that region's ``compensate``, e.g. with a task returning
    ``{"lock:<lock>": None}``).  ``ctx["lock:{lock}"]`` remains in the ctx
    (``None`` when free).

    Args:
        lock: the lock's name; sections with the same name exclude each other.
        body: the critical region.
        poll: seconds between two attempts to take a busy lock (> 0).
        section: the region id of this section (unique in the workflow).

    Raises:
        TermError: bad ``lock``, ``poll`` or ``section``, or ``body`` not a term.
    """
    _check_name("critical_section", "lock", lock)
    if not is_number(poll) or poll <= 0:
        raise TermTypeError(f"critical_section(poll={poll!r}): must be a finite number > 0")
    if section is None:
        if not isinstance(body, Term):
            raise TermTypeError(f"critical_section(body={body!r}): expected a term")
        sid = f"critical:{lock}@{_digest(body)}"
    else:
        sid = _check_name("critical_section", "section", section)
    key = f"lock:{lock}"
    acquire = task(f"{sid}:acquire", TryAcquire(key, sid))
    release_t = task(f"{sid}:release", Release(key, sid))
    wait = loop(defer(after(poll, acquire)), while_=NotOwner(key, sid))
    return region(sid, seq(acquire, wait, body, release_t), compensate=release_t)


def _digest(body: Term) -> str:
    """Eight hex digits naming ``body`` by its node paths (task names, region ids, ...).

    A pure function of the term's shape and names, the same in every
    process (never ``hash()``, which is salted per process).
    """
    h = hashlib.sha256()
    for path, _node in walk(body):
        h.update(path.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:8]


def structured_loop(
    body: Term,
    *,
    times: int | None = None,
    while_: Callable[[Ctx], object] | None = None,
    until: Callable[[Ctx], object] | None = None,
) -> Loop:
    """Structured loop (WCP-21).  Term form: ``loop(body, times=|while_=|until=)``."""
    return loop(body, times=times, while_=while_, until=until)


def persistent_trigger(name: str, store_as: str | None = None) -> WaitSignal:
    """Persistent trigger (WCP-24).  Term form: ``wait_signal(name, store_as)``.

    Signals are persistent by default: one sent before the branch gets here
    is queued and consumed when it does.
    """
    return wait_signal(name, store_as)


# ---------------------------------------------------------------------------
# cancellation and termination


def cancel_activity(scope_id: str, activity: Term, *, compensate: Term | None = None) -> Region:
    """Cancel task (WCP-19).  Term form: ``region(scope_id, activity, compensate=...)``.

    ``cancel_region(scope_id)`` withdraws the activity (cancelling its
    effect if one is in flight); control continues after it.
    """
    return region(scope_id, activity, compensate=compensate)


def cancel_region(scope_id: str, term: Term, *, compensate: Term | None = None) -> Region:
    """Cancel region (WCP-25).  Term form: ``region(scope_id, term, compensate=...)``."""
    return region(scope_id, term, compensate=compensate)


def cancel_mi_activity(
    scope_id: str,
    body: Term,
    *,
    count: int | Callable[[Ctx], int] | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] | None = None,
    join: int | Literal["all", "none"] = "all",
    compensate: Term | None = None,
) -> Region:
    """Cancel multiple-instance activity (WCP-26).

    Term form: ``region(scope_id, mi(body, ...), compensate=...)``: cancelling
    the region withdraws every instance still running.
    """
    return region(scope_id, mi(body, count=count, items=items, join=join), compensate=compensate)


# ---------------------------------------------------------------------------
# governance: approval points


def approval(
    name: str,
    approver: str | Iterable[str] | None = None,
    *,
    then: Term | None = None,
    on_reject: Term | None = None,
) -> Seq:
    """An approval point: block until an explicit decision arrives, then go on or not.

    A persistent trigger (WCP-24) repeated until a valid decision, then an
    exclusive choice (WCP-4) between going on and rejecting.
    The point waits (``wait_signal``, persistent: a decision sent early is
    kept) for the signal ``approval_signal(name)`` whose payload is
    ``wf.approve(by, note)`` or ``wf.reject(by, note)``
    (:mod:`wftrio.algebra.approval`, re-exported by :mod:`wftrio.governance`).  A
    decision from someone who is not an ``approver`` (when given), or a
    malformed payload, is recorded as ``"ignored"`` and the point keeps
    waiting.  On approval ``then`` runs (if given); on rejection
    ``on_reject`` runs instead (a compensation; the case goes on after the
    approval point), or, without ``on_reject``, the case fails with
    :class:`ApprovalRejected`.

    Every decision taken is an audited step (the task
    ``"approval:<name>"``, ``kind="approval"``): it leaves a receipt whose
    ``detail`` names the decision and who made it, and
    ``ctx["approval:<name>"]`` holds the last decision,
    ``{"decision": "approved" | "rejected" | "ignored", "by": ..., "note": ...}``.
    Term form (``key = "approval:<name>"``)::

        seq(loop(seq(wait_signal(key, store_as=key),
                     task(key, decide, kind="approval")),
                 until=decided),
            xor(branch(approved, then), on_reject or task(key + ":rejected", fail)))

    Args:
        name: the approval point's name (unique per workflow, by convention).
        approver: who may decide: a name, a collection of names, or ``None``
            for anyone.
        then: what runs once approved (default: nothing).
        on_reject: what runs once rejected; ``None`` fails the case.

    Raises:
        TermError: a bad name, approver or term.
    """
    _check_name("approval", "name", name)
    allowed: frozenset[str] | None
    if approver is None:
        allowed = None
    elif isinstance(approver, str):
        allowed = frozenset({check_name(f"approval({name!r})", "approver", approver)})
    elif isinstance(approver, Iterable):
        names = list(approver)
        if not names or not all(is_name(a) for a in names):
            raise TermTypeError(
                f"approval({name!r}, approver={approver!r}): approvers must be names "
                "(non-empty strings of valid Unicode text), at least one"
            )
        allowed = frozenset(names)
    else:
        raise TermTypeError(
            f"approval({name!r}, approver={approver!r}): expected a name, names or None"
        )
    key = approval_signal(name)
    # the decision functions live in wftrio.algebra.approval, not here: they read
    # a signal's payload, so a validator must treat them like user code (both outcomes)
    decide, decided, approved, rejected = approval_functions(name, allowed)
    wait = loop(
        seq(wait_signal(key, store_as=key), task(key, decide, kind="approval")), until=decided
    )
    if then is not None and not isinstance(then, Term):
        raise TermTypeError(f"approval({name!r}, then={then!r}): expected a term")
    if on_reject is not None and not isinstance(on_reject, Term):
        raise TermTypeError(f"approval({name!r}, on_reject={on_reject!r}): expected a term")
    ok = then if then is not None else task(f"{key}:approved", _noop)
    no = on_reject if on_reject is not None else task(f"{key}:rejected", rejected)
    return seq(wait, xor(branch(approved, ok), no))


def explicit_termination() -> Terminate:
    """Explicit termination (WCP-43).  Term form: ``terminate()``."""
    return terminate()


CATALOGUE: dict[int, tuple[str, Callable[..., Term]]] = {
    1: ("sequence", sequence),
    2: ("parallel_split", parallel_split),
    3: ("synchronization", synchronization),
    4: ("exclusive_choice", exclusive_choice),
    5: ("simple_merge", simple_merge),
    6: ("multi_choice", multi_choice),
    7: ("structured_synchronizing_merge", structured_synchronizing_merge),
    8: ("multi_merge", multi_merge),
    9: ("discriminator", discriminator),
    10: ("arbitrary_cycles", arbitrary_cycles),
    12: ("mi_without_sync", mi_without_sync),
    13: ("mi_with_design_time_knowledge", mi_with_design_time_knowledge),
    14: ("mi_with_runtime_knowledge", mi_with_runtime_knowledge),
    15: ("mi_without_a_priori_runtime_knowledge", mi_without_a_priori_runtime_knowledge),
    16: ("deferred_choice", deferred_choice),
    17: ("interleaved_parallel_routing", interleaved_parallel_routing),
    18: ("milestone", milestone),
    19: ("cancel_activity", cancel_activity),
    21: ("structured_loop", structured_loop),
    22: ("recursion", recursion),
    24: ("persistent_trigger", persistent_trigger),
    25: ("cancel_region", cancel_region),
    26: ("cancel_mi_activity", cancel_mi_activity),
    27: ("complete_mi_activity", complete_mi_activity),
    28: ("blocking_discriminator", blocking_discriminator),
    29: ("cancelling_discriminator", cancelling_discriminator),
    30: ("partial_join", partial_join),
    31: ("blocking_partial_join", blocking_partial_join),
    32: ("cancelling_partial_join", cancelling_partial_join),
    33: ("generalised_and_join", generalised_and_join),
    34: ("static_partial_join_mi", static_partial_join_mi),
    35: ("cancelling_partial_join_mi", cancelling_partial_join_mi),
    36: ("dynamic_partial_join_mi", dynamic_partial_join_mi),
    37: ("local_synchronizing_merge", local_synchronizing_merge),
    38: ("general_synchronizing_merge", general_synchronizing_merge),
    39: ("critical_section", critical_section),
    40: ("interleaved_routing", interleaved_routing),
    41: ("thread_merge", thread_merge),
    42: ("thread_split", thread_split),
    43: ("explicit_termination", explicit_termination),
}
"""WCP number -> ``(name, function)`` for every pattern this module covers."""
