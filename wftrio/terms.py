"""The pattern algebra: immutable workflow terms and their smart constructors.

Every workflow is a term built from the constructors in this module (the
kernel of the van der Aalst control-flow patterns).  Terms are frozen,
slotted attrs classes: hashable, comparable and printable as the constructor
calls that build them.  The constructors validate their arguments and raise
:class:`TermError` naming the offending node and argument, so a malformed
workflow never reaches the compiler.

This module imports nothing from the rest of the package (DESIGN.md layering).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from wftrio.errors import TermError, TermTypeError, WftrioError

__all__ = [
    "After",
    "Branch",
    "Defer",
    "First",
    "Join",
    "Loop",
    "MI",
    "OnSignal",
    "Region",
    "Retry",
    "Seq",
    "Task",
    "TaskOptions",
    "Term",
    "TermError",
    "TermTypeError",
    "Terminate",
    "WaitSignal",
    "WftrioError",
    "Xor",
    "after",
    "branch",
    "choice",
    "defer",
    "first",
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
    "walk",
    "xor",
]


Ctx: TypeAlias = Mapping[str, Any]
Cond: TypeAlias = Callable[[Ctx], object]
TaskFn: TypeAlias = Callable[[Ctx], Any]


def _fn_name(fn: object) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else repr(fn)


def _args_repr(items: Iterable[object]) -> str:
    return ", ".join(repr(i) for i in items)


class Term:
    """Base class of every workflow term.  Build terms with the constructors."""

    __slots__ = ()

    def children(self) -> tuple[Term, ...]:
        """Return the direct sub-terms, in program order."""
        return ()

    @property
    def region_ids(self) -> frozenset[str]:
        """Every region id used anywhere inside this term."""
        return frozenset()


_NO_REGIONS: frozenset[str] = frozenset()


def _exc_types(value: object) -> tuple[type[Exception], ...]:
    items = value if isinstance(value, tuple) else (value,)
    for x in items:
        if not (isinstance(x, type) and issubclass(x, Exception)):
            raise TermTypeError(
                f"Retry(on={value!r}): expected an Exception subclass or a tuple of them "
                "(never BaseException: cancellation must not be retried)"
            )
    if not items:
        raise TermTypeError("Retry(on=()): give at least one exception type")
    return items


def _check_number(where: str, arg: str, value: object, *, low: float, strict: bool) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < low
        or (strict and value == low)
    ):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise TermTypeError(f"{where}: {arg}={value!r} must be a finite number {bound}")
    return float(value)


@attrs.frozen(repr=False)
class Retry:
    """Retry policy of a task's effect: ``task(name, fn, retry=Retry(3, 0.5))``.

    An effect attempt that raises one of ``on`` (a timed-out attempt raises
    ``wftrio.EffectTimeout``, an ``Exception``) is tried again after
    ``backoff * factor ** (n - 1)`` seconds of trio time (``n`` = attempts
    made so far; capped at ``max_backoff``), until ``attempts`` attempts
    were made.  No jitter: the delays are part of the deterministic record.

    Attributes:
        attempts: total attempts, the first included (>= 1).
        backoff: delay before the second attempt, in seconds (>= 0).
        factor: multiplier of the delay per further attempt (>= 1).
        max_backoff: upper bound of one delay (``None``: unbounded).
        on: exception types that are retried (default: every ``Exception``).

    Raises:
        TermTypeError: an argument is out of range or of the wrong type.
    """

    attempts: int = 3
    backoff: float = 0.0
    factor: float = 2.0
    max_backoff: float | None = None
    on: tuple[type[Exception], ...] = attrs.field(default=(Exception,), converter=_exc_types)

    def __attrs_post_init__(self) -> None:
        a = self.attempts
        if isinstance(a, bool) or not isinstance(a, int) or a < 1:
            raise TermTypeError(f"Retry(attempts={a!r}): must be an int >= 1")
        # floats, so that the delays recorded in traces do not depend on how they were written
        b = _check_number("Retry", "backoff", self.backoff, low=0.0, strict=False)
        object.__setattr__(self, "backoff", b)
        f = _check_number("Retry", "factor", self.factor, low=1.0, strict=False)
        object.__setattr__(self, "factor", f)
        if self.max_backoff is not None:
            m = _check_number("Retry", "max_backoff", self.max_backoff, low=0.0, strict=False)
            object.__setattr__(self, "max_backoff", m)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        d = self.backoff * self.factor ** (attempt - 1)
        return d if self.max_backoff is None else min(d, self.max_backoff)

    def retries(self, exc: BaseException) -> bool:
        """Whether an attempt that raised ``exc`` is retried (attempts permitting)."""
        return isinstance(exc, self.on)

    def __repr__(self) -> str:
        parts = [repr(self.attempts), repr(self.backoff)]
        if self.factor != 2.0:
            parts.append(f"factor={self.factor!r}")
        if self.max_backoff is not None:
            parts.append(f"max_backoff={self.max_backoff!r}")
        if self.on != (Exception,):
            names = ", ".join(t.__qualname__ for t in self.on)
            parts.append(f"on=({names}{',' if len(self.on) == 1 else ''})")
        return f"Retry({', '.join(parts)})"


@attrs.frozen(repr=False)
class TaskOptions:
    """The keyword options of one :func:`task` (at least one is set)."""

    timeout: float | None = None
    retry: Retry | None = None
    on_error: Term | None = None
    cost: float | None = None
    kind: str | None = None


@attrs.frozen(repr=False, cache_hash=True)
class Task(Term):
    """A unit of work.  Sync ``fn`` is a pure step; async ``fn`` is an effect.

    A sync ``fn`` may also return a ``wftrio.Effect`` spec, which the case's
    effect handler carries out.  The keyword options are the policies of
    the effect the task performs (see :func:`task`); they live in one
    optional record so that a plain task stays as small as it was (a
    workflow of 10,000 tasks keeps them all alive).
    """

    name: str
    fn: TaskFn
    is_effect: bool = attrs.field(default=False, eq=False)
    options: TaskOptions | None = None

    @property
    def has_options(self) -> bool:
        """Whether any keyword option (timeout, retry, on_error, cost, kind) is set."""
        return self.options is not None

    @property
    def timeout(self) -> float | None:
        """Seconds one attempt of the task's effect may take."""
        return self.options.timeout if self.options is not None else None

    @property
    def retry(self) -> Retry | None:
        """The retry policy of the task's effect."""
        return self.options.retry if self.options is not None else None

    @property
    def on_error(self) -> Term | None:
        """The compensating term run when the task fails."""
        return self.options.on_error if self.options is not None else None

    @property
    def cost(self) -> float | None:
        """The cost charged per effect."""
        return self.options.cost if self.options is not None else None

    @property
    def kind(self) -> str | None:
        """The declared effect kind."""
        return self.options.kind if self.options is not None else None

    def children(self) -> tuple[Term, ...]:
        on_error = self.on_error
        return (on_error,) if on_error is not None else ()

    @property
    def region_ids(self) -> frozenset[str]:
        on_error = self.on_error
        return on_error.region_ids if on_error is not None else _NO_REGIONS

    def __repr__(self) -> str:
        parts = [repr(self.name), _fn_name(self.fn)]
        if self.options is not None:
            for opt in ("timeout", "retry", "on_error", "cost", "kind"):
                v = getattr(self.options, opt)
                if v is not None:
                    parts.append(f"{opt}={v!r}")
        return f"task({', '.join(parts)})"


@attrs.frozen(repr=False, cache_hash=True)
class Seq(Term):
    """Sequence (WCP-1): run ``terms`` one after another."""

    terms: tuple[Term, ...]
    _regions: frozenset[str] = attrs.field(default=_NO_REGIONS, eq=False, alias="_regions")

    def children(self) -> tuple[Term, ...]:
        return self.terms

    @property
    def region_ids(self) -> frozenset[str]:
        return self._regions

    def __repr__(self) -> str:
        return f"seq({_args_repr(self.terms)})"


@attrs.frozen(repr=False)
class First:
    """Join policy: fire after the first ``n`` branches arrive (see :func:`first`)."""

    n: int = 1
    cancel_rest: bool = False

    def __repr__(self) -> str:
        extra = ", cancel_rest=True" if self.cancel_rest else ""
        return f"first({self.n}{extra})"


JoinPolicy: TypeAlias = "Literal['all', 'sync_merge'] | First"


@attrs.frozen(repr=False, cache_hash=True)
class Branch(Term):
    """A guarded alternative: ``term`` is taken when ``cond(ctx)`` is true.

    ``cond`` is ``None`` for an unconditioned alternative.
    """

    cond: Cond | None
    term: Term

    def children(self) -> tuple[Term, ...]:
        return (self.term,)

    @property
    def region_ids(self) -> frozenset[str]:
        return self.term.region_ids

    def __repr__(self) -> str:
        if self.cond is None:
            return repr(self.term)
        return f"branch({_fn_name(self.cond)}, {self.term!r})"


@attrs.frozen(repr=False, cache_hash=True)
class Join(Term):
    """Parallel split with a join policy (``par``, ``join``, ``choice``)."""

    policy: str | First
    branches: tuple[Branch, ...]
    _regions: frozenset[str] = attrs.field(default=_NO_REGIONS, eq=False, alias="_regions")

    def children(self) -> tuple[Term, ...]:
        return tuple(b.term for b in self.branches)

    @property
    def region_ids(self) -> frozenset[str]:
        return self._regions

    def __repr__(self) -> str:
        if self.policy == "all":
            return f"par({_args_repr(self.branches)})"
        if self.policy == "sync_merge" and any(b.cond is not None for b in self.branches):
            return f"choice({_args_repr(self.branches)})"
        return f"join({self.policy!r}, {_args_repr(self.branches)})"


@attrs.frozen(repr=False, cache_hash=True)
class Xor(Term):
    """Exclusive choice + simple merge (WCP-4/5)."""

    alternatives: tuple[Branch, ...]
    _regions: frozenset[str] = attrs.field(default=_NO_REGIONS, eq=False, alias="_regions")

    def children(self) -> tuple[Term, ...]:
        return tuple(b.term for b in self.alternatives)

    @property
    def region_ids(self) -> frozenset[str]:
        return self._regions

    def __repr__(self) -> str:
        return f"xor({_args_repr(self.alternatives)})"


@attrs.frozen(repr=False, cache_hash=True)
class Loop(Term):
    """Structured loop (WCP-21) with exactly one policy."""

    body: Term
    times: int | None = None
    while_: Cond | None = None
    until: Cond | None = None

    def children(self) -> tuple[Term, ...]:
        return (self.body,)

    @property
    def region_ids(self) -> frozenset[str]:
        return self.body.region_ids

    def __repr__(self) -> str:
        if self.times is not None:
            pol = f"times={self.times}"
        elif self.while_ is not None:
            pol = f"while_={_fn_name(self.while_)}"
        else:
            pol = f"until={_fn_name(self.until)}"
        return f"loop({self.body!r}, {pol})"


@attrs.frozen(repr=False, cache_hash=True)
class OnSignal(Term):
    """Deferred-choice trigger: signal ``name`` arrives."""

    name: str
    term: Term

    def children(self) -> tuple[Term, ...]:
        return (self.term,)

    @property
    def region_ids(self) -> frozenset[str]:
        return self.term.region_ids

    def __repr__(self) -> str:
        return f"on_signal({self.name!r}, {self.term!r})"


@attrs.frozen(repr=False, cache_hash=True)
class After(Term):
    """Deferred-choice trigger: ``seconds`` of (trio) time pass."""

    seconds: float
    term: Term

    def children(self) -> tuple[Term, ...]:
        return (self.term,)

    @property
    def region_ids(self) -> frozenset[str]:
        return self.term.region_ids

    def __repr__(self) -> str:
        return f"after({self.seconds!r}, {self.term!r})"


@attrs.frozen(repr=False, cache_hash=True)
class Defer(Term):
    """Deferred choice (WCP-16): the first trigger to happen wins."""

    alternatives: tuple[OnSignal | After, ...]
    _regions: frozenset[str] = attrs.field(default=_NO_REGIONS, eq=False, alias="_regions")

    def children(self) -> tuple[Term, ...]:
        return tuple(a.term for a in self.alternatives)

    @property
    def region_ids(self) -> frozenset[str]:
        return self._regions

    def __repr__(self) -> str:
        return f"defer({_args_repr(self.alternatives)})"


@attrs.frozen(repr=False, cache_hash=True)
class WaitSignal(Term):
    """Block until signal ``name`` is available; payload goes to ``ctx[store_as]``."""

    name: str
    store_as: str | None = None

    def __repr__(self) -> str:
        extra = f", store_as={self.store_as!r}" if self.store_as is not None else ""
        return f"wait_signal({self.name!r}{extra})"


@attrs.frozen(repr=False, cache_hash=True)
class Region(Term):
    """Cancellation region (WCP-25) with an optional compensation term."""

    scope_id: str
    term: Term
    compensate: Term | None = None
    _regions: frozenset[str] = attrs.field(default=_NO_REGIONS, eq=False, alias="_regions")
    allow: frozenset[str] | None = None

    def children(self) -> tuple[Term, ...]:
        if self.compensate is None:
            return (self.term,)
        return (self.term, self.compensate)

    @property
    def region_ids(self) -> frozenset[str]:
        return self._regions

    def __repr__(self) -> str:
        extra = f", compensate={self.compensate!r}" if self.compensate is not None else ""
        if self.allow is not None:
            extra += f", allow={{{', '.join(repr(k) for k in sorted(self.allow))}}}"
        return f"region({self.scope_id!r}, {self.term!r}{extra})"


@attrs.frozen(repr=False, cache_hash=True)
class MI(Term):
    """Multiple instances (WCP-12..15) of ``body``."""

    body: Term
    count: int | Callable[[Ctx], int] | None = None
    items: tuple[Any, ...] | Callable[[Ctx], Iterable[Any]] | None = attrs.field(
        default=None, hash=False
    )
    join: int | Literal["all", "none"] = "all"
    collect: str | None = None
    item_key: str = "item"

    def children(self) -> tuple[Term, ...]:
        return (self.body,)

    @property
    def region_ids(self) -> frozenset[str]:
        return self.body.region_ids

    def __repr__(self) -> str:
        parts = [repr(self.body)]
        if self.count is not None:
            c = self.count
            parts.append(f"count={c if isinstance(c, int) else _fn_name(c)}")
        if self.items is not None:
            it = self.items
            parts.append(f"items={it!r}" if isinstance(it, tuple) else f"items={_fn_name(it)}")
        if self.join != "all":
            parts.append(f"join={self.join!r}")
        if self.collect is not None:
            parts.append(f"collect={self.collect!r}")
        if self.item_key != "item":
            parts.append(f"item_key={self.item_key!r}")
        return f"mi({', '.join(parts)})"


@attrs.frozen(repr=False, cache_hash=True)
class Terminate(Term):
    """Explicit termination (WCP-43): end the case, withdrawing every token."""

    def __repr__(self) -> str:
        return "terminate()"


# ---------------------------------------------------------------------------
# validation helpers


def _check_term(where: str, value: object) -> Term:
    if not isinstance(value, Term) or isinstance(value, (Branch, OnSignal, After)):
        raise TermTypeError(
            f"{where} is {value!r} ({type(value).__name__}), expected a term built with "
            "wftrio's constructors (task, seq, par, ...)"
        )
    return value


def _check_name(where: str, arg: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TermTypeError(f"{where}: {arg} must be a non-empty string, got {value!r}")
    return value


def _check_callable(where: str, arg: str, value: object) -> Callable[..., Any]:
    if not callable(value):
        raise TermTypeError(
            f"{where}: {arg} must be callable, got {value!r} ({type(value).__name__})"
        )
    return value


def _merge_regions(where: str, kids: Sequence[Term]) -> frozenset[str]:
    """Union the kids' region ids, raising on an id used in two places."""
    seen: set[str] = set()
    for i, kid in enumerate(kids):
        ids = kid.region_ids
        clash = seen & ids
        if clash:
            sid = sorted(clash)[0]
            first_at = next(j for j, k in enumerate(kids[:i]) if sid in k.region_ids)
            raise TermError(
                f"{where}: duplicate region id {sid!r}: used in child [{first_at}] "
                f"at {_path_to_region(kids[first_at], sid)} and in child [{i}] at "
                f"{_path_to_region(kid, sid)}; region ids must be unique in a workflow"
            )
        seen |= ids
    return frozenset(seen)


def node_label(term: Term) -> str:
    """Return the short label of ``term`` used in node paths, e.g. ``task('pack')``."""
    match term:
        case Task(name=name):
            return f"task({name!r})"
        case Region(scope_id=sid):
            return f"region({sid!r})"
        case WaitSignal(name=name):
            return f"wait_signal({name!r})"
        case Join(policy="all"):
            return "par"
        case Join(policy="sync_merge"):
            return "choice"
        case Join():
            return "join"
        case _:
            return type(term).__name__.lower()


def walk(term: Term, path: str = "") -> Iterator[tuple[str, Term]]:
    """Yield ``(path, node)`` for every node of ``term`` in program order.

    Paths read like ``seq[1].par[0].task('pack')``.
    """
    stack: list[tuple[str, Term]] = [(path, term)]
    while stack:
        p, node = stack.pop()
        label = node_label(node)
        here = f"{p}.{label}" if p else label
        if isinstance(node, Branch | OnSignal | After):
            yield (p, node)
            stack.append((p, node.children()[0]))
            continue
        yield (here, node)
        kids = node.children()
        for i in range(len(kids) - 1, -1, -1):
            stack.append((f"{here}[{i}]", kids[i]))


def _path_to_region(term: Term, scope_id: str) -> str:
    for p, node in walk(term):
        if isinstance(node, Region) and node.scope_id == scope_id:
            return p
    return "?"  # pragma: no cover - only called when the id is present


# ---------------------------------------------------------------------------
# constructors


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
    _check_name("task", "name", name)
    where = f"task({name!r})"
    _check_callable(where, "fn", fn)
    if timeout is not None:
        timeout = _check_number(where, "timeout", timeout, low=0.0, strict=True)
    if retry is not None and not isinstance(retry, Retry):
        raise TermTypeError(f"{where}: retry={retry!r} must be a wf.Retry(...)")
    if on_error is not None:
        _check_term(f"{where}.on_error", on_error)
    if cost is not None:
        cost = _check_number(where, "cost", cost, low=0.0, strict=False)
    if kind is not None:
        _check_name(where, "kind", kind)
    opts = None
    if any(v is not None for v in (timeout, retry, on_error, cost, kind)):
        opts = TaskOptions(timeout, retry, on_error, cost, kind)
    return Task(name, fn, inspect.iscoroutinefunction(fn), opts)


def seq(*terms: Term) -> Seq:
    """Sequence (WCP-1): run ``terms`` in order.

    Raises:
        TermError: no terms were given, a child is not a term, or region ids repeat.
    """
    if not terms:
        raise TermError("seq(): needs at least one term")
    for i, t in enumerate(terms):
        _check_term(f"seq[{i}]", t)
    return Seq(tuple(terms), _regions=_merge_regions("seq", terms))


def first(n: int = 1, cancel_rest: bool = False) -> First:
    """Join policy firing once ``n`` branches have arrived.

    ``first(1)`` is the discriminator (WCP-9), ``first(1, cancel_rest=True)``
    the cancelling discriminator (WCP-29), ``first(n)`` the partial
    (N-out-of-M) join (WCP-30).  Late branches finish and are absorbed unless
    ``cancel_rest`` withdraws them when the join fires.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TermTypeError(f"first(n={n!r}): n must be an int >= 1")
    if not isinstance(cancel_rest, bool):
        raise TermTypeError(f"first(cancel_rest={cancel_rest!r}): must be a bool")
    return First(n, cancel_rest)


def branch(cond: Cond, term: Term) -> Branch:
    """A guarded alternative for :func:`xor` and :func:`choice`."""
    _check_callable("branch", "cond", cond)
    _check_term("branch.term", term)
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
            out.append(Branch(None, _check_term(f"{where}[{i}]", t)))
    return tuple(out)


def join(policy: str | First, *terms: Term) -> Join:
    """Parallel split of ``terms`` followed by a join with ``policy``.

    Args:
        policy: ``"all"`` (AND-join), ``"sync_merge"`` (structured synchronizing
            merge: waits for exactly the branches that started; branches may be
            :func:`branch` guards) or :func:`first`.
        *terms: the branches.

    Raises:
        TermError: unknown policy, no branches, ``first(n)`` with ``n`` above the
            number of branches, or duplicate region ids.
    """
    if isinstance(policy, str):
        if policy not in ("all", "sync_merge"):
            raise TermError(
                f"join(policy={policy!r}): policy must be 'all', 'sync_merge' or wf.first(n)"
            )
    elif not isinstance(policy, First):
        raise TermTypeError(
            f"join(policy={policy!r}): policy must be 'all', 'sync_merge' or wf.first(n)"
        )
    where = "par" if policy == "all" else "join"
    if not terms:
        raise TermError(f"{where}(): needs at least one branch")
    if isinstance(policy, First) and policy.n > len(terms):
        raise TermError(
            f"join({policy!r}, ...): n={policy.n} exceeds the {len(terms)} branches given; "
            "the join could never fire"
        )
    bs = _branches(where, terms, allow_cond=policy == "sync_merge")
    return Join(policy, bs, _regions=_merge_regions(where, [b.term for b in bs]))


def par(*terms: Term) -> Join:
    """Parallel split + synchronization (WCP-2/3): run ``terms`` concurrently, wait for all."""
    return join("all", *terms)


def choice(*branches: Term) -> Join:
    """Multi-choice + structured synchronizing merge (WCP-6/7).

    Starts every branch whose condition holds (unconditioned terms always
    start) and waits for exactly those.  If none starts, the case fails.
    """
    if not branches:
        raise TermError("choice(): needs at least one branch")
    bs = _branches("choice", branches, allow_cond=True)
    return Join("sync_merge", bs, _regions=_merge_regions("choice", [b.term for b in bs]))


def xor(*alternatives: Term) -> Xor:
    """Exclusive choice + simple merge (WCP-4/5).

    Conditioned alternatives (:func:`branch`) are tried in order; the first
    true one wins.  Unconditioned alternatives are defaults; with several
    the scheduler picks one (recorded).  No true condition and no default
    fails the case.
    """
    if not alternatives:
        raise TermError("xor(): needs at least one alternative")
    bs = _branches("xor", alternatives, allow_cond=True)
    return Xor(bs, _regions=_merge_regions("xor", [b.term for b in bs]))


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
    iteration (one or more).
    """
    _check_term("loop.body", body)
    given = [
        k for k, v in (("times", times), ("while_", while_), ("until", until)) if v is not None
    ]
    if len(given) != 1:
        raise TermError(
            f"loop({body!r}, ...): give exactly one of times=, while_=, until= (got "
            f"{', '.join(given) if given else 'none'})"
        )
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise TermTypeError(f"loop(times={times!r}): times must be an int >= 0")
    if while_ is not None:
        _check_callable("loop", "while_", while_)
    if until is not None:
        _check_callable("loop", "until", until)
    return Loop(body, times, while_, until)


def on_signal(name: str, term: Term) -> OnSignal:
    """A :func:`defer` alternative triggered by signal ``name``."""
    _check_name("on_signal", "name", name)
    return OnSignal(name, _check_term(f"on_signal({name!r}).term", term))


def after(seconds: float, term: Term) -> After:
    """A :func:`defer` alternative triggered after ``seconds`` of trio time."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise TermTypeError(f"after(seconds={seconds!r}): must be a finite number >= 0")
    return After(float(seconds), _check_term(f"after({seconds!r}).term", term))


def defer(*alternatives: OnSignal | After) -> Defer:
    """Deferred choice (WCP-16): wait for the first trigger; the others are withdrawn."""
    if not alternatives:
        raise TermError("defer(): needs at least one alternative")
    for i, a in enumerate(alternatives):
        if not isinstance(a, OnSignal | After):
            raise TermTypeError(
                f"defer[{i}] is {a!r}, expected wf.on_signal(name, term) or wf.after(seconds, term)"
            )
    return Defer(
        tuple(alternatives), _regions=_merge_regions("defer", [a.term for a in alternatives])
    )


def wait_signal(name: str, store_as: str | None = None) -> WaitSignal:
    """Block the token until signal ``name``; its payload goes to ``ctx[store_as]``."""
    _check_name("wait_signal", "name", name)
    if store_as is not None:
        _check_name(f"wait_signal({name!r})", "store_as", store_as)
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
    _check_name("region", "scope_id", scope_id)
    where = f"region({scope_id!r})"
    allowed: frozenset[str] | None = None
    if allow is not None:
        if isinstance(allow, str | bytes) or not isinstance(allow, Iterable):
            raise TermTypeError(f"{where}: allow={allow!r} must be a set of effect kinds (strings)")
        allowed = frozenset(allow)
        for k in allowed:
            _check_name(where, "allow", k)
    _check_term(f"{where}.term", term)
    kids: list[Term] = [term]
    if compensate is not None:
        kids.append(_check_term(f"{where}.compensate", compensate))
    regions = _merge_regions(where, kids)
    if scope_id in regions:
        inner = next(k for k in kids if scope_id in k.region_ids)
        raise TermError(
            f"{where}: duplicate region id {scope_id!r}: nested again at "
            f"{_path_to_region(inner, scope_id)}; region ids must be unique in a workflow"
        )
    return Region(scope_id, term, compensate, _regions=regions | {scope_id}, allow=allowed)


def mi(
    body: Term,
    *,
    count: int | Callable[[Ctx], int] | None = None,
    items: Sequence[Any] | Callable[[Ctx], Iterable[Any]] | None = None,
    join: int | Literal["all", "none"] = "all",
    collect: str | None = None,
    item_key: str = "item",
) -> MI:
    """Multiple instances of ``body`` running concurrently (WCP-12..15, 34).

    Args:
        body: the term each instance runs.
        count: number of instances, or ``fn(ctx) -> int`` evaluated at run time.
        items: a sequence, or ``fn(ctx) -> iterable``; one instance per item.
        join: ``"all"`` waits for every instance, ``n`` continues after ``n``
            (the rest finish and are absorbed), ``"none"`` continues at once.
        collect: store the instances' results (their ctx updates) in
            ``ctx[collect]`` as a list in item order.
        item_key: the instance-local ctx key holding the instance's item.
    """
    _check_term("mi.body", body)
    if (count is None) == (items is None):
        raise TermError("mi(...): give exactly one of count= or items=")
    static_n: int | None = None
    if count is not None and not callable(count):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise TermTypeError(f"mi(count={count!r}): count must be an int >= 0 or callable")
        static_n = count
    items_v: tuple[Any, ...] | Callable[[Ctx], Iterable[Any]] | None = None
    if items is not None:
        if callable(items):
            items_v = items
        elif isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
            raise TermTypeError(
                f"mi(items={items!r}): items must be a sequence or fn(ctx) -> iterable"
            )
        else:
            items_v = tuple(items)
            static_n = len(items_v)
    if join not in ("all", "none"):
        if isinstance(join, bool) or not isinstance(join, int) or join < 1:
            raise TermError(f"mi(join={join!r}): join must be 'all', 'none' or an int >= 1")
        if static_n is not None and join > static_n:
            raise TermError(
                f"mi(join={join}): exceeds the {static_n} instances; the join could never fire"
            )
    if collect is not None:
        _check_name("mi", "collect", collect)
    _check_name("mi", "item_key", item_key)
    if item_key == "index":
        raise TermError("mi(item_key='index'): 'index' is reserved for the instance index")
    return MI(body, count, items_v, join, collect, item_key)


def terminate() -> Terminate:
    """Explicit termination (WCP-43): the case ends DONE, withdrawing every token."""
    return Terminate()
