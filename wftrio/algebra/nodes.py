"""The term classes: frozen, slotted, validated nodes of a workflow term.

Every node checks its own fields when it is built (directly or through a
constructor of :mod:`wftrio.algebra.constructors`) and raises
:class:`~wftrio.errors.TermError` / :class:`~wftrio.errors.TermTypeError`
naming the node and the argument, so a malformed term never reaches the
compiler.

Terms may nest as deep as memory allows: nothing here recurses over a
term.  Each node computes its hash and the set of region ids below it when
it is built (its children are already built, so that is constant work per
node, apart from the region ids), and ``==``, ``repr`` and :func:`walk`
use explicit stacks instead of Python recursion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from inspect import iscoroutinefunction
from typing import Any, TypeAlias

import attrs

from wftrio.algebra._base import EqKey, NodeBase, Parts, joined
from wftrio.algebra._regions import EMPTY, RegionIds, merge
from wftrio.algebra.checks import (
    check_callable,
    check_condition,
    check_int,
    check_name,
    check_number,
    fn_name,
    is_number,
)
from wftrio.algebra.policies import First, Retry
from wftrio.errors import TermError, TermTypeError

__all__ = [
    "After",
    "Branch",
    "Cond",
    "Ctx",
    "Defer",
    "Join",
    "Loop",
    "OnSignal",
    "Region",
    "Seq",
    "Task",
    "TaskFn",
    "TaskOptions",
    "Term",
    "Terminate",
    "WaitSignal",
    "Xor",
    "node_label",
    "walk",
]

Ctx: TypeAlias = Mapping[str, Any]
Cond: TypeAlias = Callable[[Ctx], object]
TaskFn: TypeAlias = Callable[[Ctx], Any]


class Term(NodeBase):
    """Base class of every workflow term.  Build terms with the constructors."""

    __slots__ = ()

    def children(self) -> tuple[Term, ...]:
        """Return the direct sub-terms, in program order."""
        return ()

    @property
    def region_ids(self) -> frozenset[str]:
        """Every region id used anywhere inside this term."""
        return self._region_set().frozen()

    def _region_set(self) -> RegionIds:
        return EMPTY


# ---------------------------------------------------------------------------
# field checks shared by the nodes


def _not_a_term(where: str, value: object) -> TermTypeError:
    return TermTypeError(
        f"{where} is {value!r} ({type(value).__name__}), expected a term built with "
        "wftrio's constructors (task, seq, par, ...)"
    )


def check_term(where: str, value: object) -> Term:
    """Return ``value`` if it is a term that can stand alone (not a branch or trigger).

    Raises:
        TermTypeError: anything else, naming ``where``.
    """
    if not isinstance(value, Term) or isinstance(value, Branch | OnSignal | After):
        raise _not_a_term(where, value)
    return value


def _check_terms(where: str, terms: object) -> tuple[Term, ...]:
    """A non-empty tuple of terms; messages name ``where[i]``."""
    if not isinstance(terms, tuple):
        raise TermTypeError(
            f"{where}(terms={terms!r}): expected a tuple of terms, got {type(terms).__name__}"
        )
    if not terms:
        raise TermError(f"{where}(): needs at least one term")
    # the fast path of a 100k-task seq: no message is formatted unless one fails
    for t in terms:
        if not isinstance(t, Term) or isinstance(t, Branch | OnSignal | After):
            i = next(i for i, u in enumerate(terms) if u is t)
            raise _not_a_term(f"{where}[{i}]", t)
    return terms


def _check_branches(where: str, arg: str, value: object) -> None:
    if not isinstance(value, tuple):
        raise TermTypeError(f"{where}: {arg} must be a tuple, got {type(value).__name__}")
    if not value:
        raise TermError(f"{where}(): needs at least one {arg}")
    for i, x in enumerate(value):
        if not isinstance(x, Branch):
            raise TermTypeError(
                f"{where}[{i}] is {x!r}, expected a Branch (wrap a term as Branch(None, term))"
            )


def _merge_regions(where: str, kids: Sequence[Term]) -> RegionIds:
    """Union the kids' region ids, raising on an id used in two places."""
    merged = merge([k._region_set() for k in kids])
    if isinstance(merged, RegionIds):
        return merged
    sid, first_at, i = merged
    raise TermError(
        f"{where}: duplicate region id {sid!r}: used in child [{first_at}] "
        f"at {_path_to_region(kids[first_at], sid)} and in child [{i}] at "
        f"{_path_to_region(kids[i], sid)}; region ids must be unique in a workflow"
    )


def _path_to_region(term: Term, scope_id: str) -> str:
    for p, node in walk(term):
        if isinstance(node, Region) and node.scope_id == scope_id:
            return p
    return "?"  # pragma: no cover - only called when the id is present


# ---------------------------------------------------------------------------
# tasks


def check_task_options(
    where: str,
    timeout: object,
    retry: object,
    on_error: object,
    cost: object,
    kind: object,
) -> tuple[float | None, Retry | None, Term | None, float | None, str | None]:
    """Check and normalise the keyword options of a task (numbers become floats).

    Raises:
        TermTypeError: an option of the wrong type or out of range.
    """
    t = None if timeout is None else check_number(where, "timeout", timeout, low=0.0, strict=True)
    if retry is not None and not isinstance(retry, Retry):
        raise TermTypeError(f"{where}: retry={retry!r} must be a wf.Retry(...)")
    e = None if on_error is None else check_term(f"{where}.on_error", on_error)
    c = None if cost is None else check_number(where, "cost", cost, low=0.0, strict=False)
    k = None if kind is None else check_name(where, "kind", kind)
    return t, retry, e, c, k


_OPTIONS = ("timeout", "retry", "on_error", "cost", "kind")


@attrs.frozen(repr=False, eq=False)
class TaskOptions(NodeBase):
    """The keyword options of one :func:`task` (at least one is set).

    Raises:
        TermTypeError: an option of the wrong type or out of range, or none set.
    """

    timeout: float | None = None
    retry: Retry | None = None
    on_error: Term | None = None
    cost: float | None = None
    kind: str | None = None
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        values = check_task_options(
            "TaskOptions", self.timeout, self.retry, self.on_error, self.cost, self.kind
        )
        if all(v is None for v in values):
            raise TermError("TaskOptions(): set at least one option (or give options=None)")
        for name, v in zip(_OPTIONS, values, strict=True):
            object.__setattr__(self, name, v)
        if self.on_error is not None:
            object.__setattr__(self, "_regions", self.on_error._region_set())
        self._seal(*values)

    def _eq_key(self) -> EqKey:
        return (self.timeout, self.retry, self.cost, self.kind), (self.on_error,)

    def _repr_parts(self) -> Parts:
        parts = self.option_parts()
        parts[0] = str(parts[0])[2:]  # no ", " before the first option
        return ["TaskOptions(", *parts, ")"]

    def option_parts(self) -> Parts:
        """The options as they appear in ``task(...)``: ``", timeout=1.0"``, ..."""
        out: Parts = []
        for opt in _OPTIONS:
            v = getattr(self, opt)
            if v is not None:
                out.append(f", {opt}=")
                out.append(v if isinstance(v, Term) else repr(v))
        return out


@attrs.frozen(repr=False, eq=False)
class Task(Term):
    """A unit of work.  Sync ``fn`` is a pure step; async ``fn`` is an effect.

    A sync ``fn`` may also return a ``wftrio.Effect`` spec, which the case's
    effect handler carries out.  The keyword options are the policies of
    the effect the task performs (see :func:`task`); they live in one
    optional record so that a plain task stays as small as it was (a
    workflow of 10,000 tasks keeps them all alive).

    Raises:
        TermTypeError: a bad name, ``fn`` not callable, or ``options`` not a
            :class:`TaskOptions`.
    """

    name: str
    fn: TaskFn
    options: TaskOptions | None = None
    is_effect: bool = attrs.field(init=False, default=False)
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        name = self.name
        # isascii() is O(1): only a non-ASCII name pays for the full check
        if type(name) is not str or not name or not name.isascii():
            check_name("task", "name", name)
        if not callable(self.fn):
            check_callable(f"task({name!r})", "fn", self.fn)
        opts = self.options
        if opts is not None and not isinstance(opts, TaskOptions):
            raise TermTypeError(f"task({name!r}): options={opts!r} must be a TaskOptions (or None)")
        # set directly, not through _seal: building 100k tasks is a measured path
        setattr_ = object.__setattr__
        setattr_(self, "is_effect", iscoroutinefunction(self.fn))
        try:
            setattr_(self, "_hash", hash(("Task", name, self.fn, opts)))
        except TypeError:  # an unhashable callable object
            setattr_(self, "_hash", None)

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

    def _region_set(self) -> RegionIds:
        opts = self.options
        return opts._regions if opts is not None else EMPTY

    def _eq_key(self) -> EqKey:
        return (self.name, self.fn), (self.options,)

    def _repr_parts(self) -> Parts:
        head = f"task({self.name!r}, {fn_name(self.fn)}"
        if self.options is None:
            return [head + ")"]
        return [head, *self.options.option_parts(), ")"]


# ---------------------------------------------------------------------------
# sequence, choice, joins


@attrs.frozen(repr=False, eq=False)
class Seq(Term):
    """Sequence (WCP-1): run ``terms`` one after another.

    Raises:
        TermError: no terms, a child that is not a term, or region ids repeated.
    """

    terms: tuple[Term, ...]
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        _check_terms("seq", self.terms)
        object.__setattr__(self, "_regions", _merge_regions("seq", self.terms))
        self._seal(self.terms)

    def children(self) -> tuple[Term, ...]:
        return self.terms

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (), self.terms

    def _repr_parts(self) -> Parts:
        return ["seq(", *joined(self.terms), ")"]


@attrs.frozen(repr=False, eq=False)
class Branch(Term):
    """A guarded alternative: ``term`` is taken when ``cond(ctx)`` is true.

    ``cond`` is ``None`` for an unconditioned alternative.

    Raises:
        TermTypeError: ``cond`` is not a synchronous callable, or ``term`` not a term.
    """

    cond: Cond | None
    term: Term
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        if self.cond is not None:
            check_condition("branch", "cond", self.cond)
        check_term("branch.term", self.term)
        self._seal(self.cond, self.term)

    def children(self) -> tuple[Term, ...]:
        return (self.term,)

    def _region_set(self) -> RegionIds:
        return self.term._region_set()

    def _eq_key(self) -> EqKey:
        return (self.cond,), (self.term,)

    def _repr_parts(self) -> Parts:
        if self.cond is None:
            return [self.term]
        return [f"branch({fn_name(self.cond)}, ", self.term, ")"]


_POLICY_HELP = "policy must be 'all', 'sync_merge' or wf.first(n)"


@attrs.frozen(repr=False, eq=False)
class Join(Term):
    """Parallel split with a join policy (``par``, ``join``, ``choice``).

    Raises:
        TermError: an unknown policy, no branches, a conditioned branch
            outside ``"sync_merge"``, ``first(n)`` with ``n`` above the
            number of branches, or region ids repeated.
    """

    policy: str | First
    branches: tuple[Branch, ...]
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        policy, bs = self.policy, self.branches
        if isinstance(policy, str):
            if policy not in ("all", "sync_merge"):
                raise TermError(f"join(policy={policy!r}): {_POLICY_HELP}")
        elif not isinstance(policy, First):
            raise TermTypeError(f"join(policy={policy!r}): {_POLICY_HELP}")
        where = "par" if policy == "all" else "join"
        _check_branches(where, "branch", bs)
        if policy != "sync_merge":
            for i, b in enumerate(bs):
                if b.cond is not None:
                    raise TermError(
                        f"{where}[{i}]: conditioned branches are only allowed in xor, choice "
                        "and join('sync_merge', ...); use choice(...) for a multi-choice"
                    )
        if isinstance(policy, First) and policy.n > len(bs):
            raise TermError(
                f"join({policy!r}, ...): n={policy.n} exceeds the {len(bs)} branches given; "
                "the join could never fire"
            )
        object.__setattr__(self, "_regions", _merge_regions(where, [b.term for b in bs]))
        self._seal(policy, bs)

    def children(self) -> tuple[Term, ...]:
        return tuple(b.term for b in self.branches)

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (self.policy,), self.branches

    def _repr_parts(self) -> Parts:
        if self.policy == "all":
            head = "par("
        elif self.policy == "sync_merge" and any(b.cond is not None for b in self.branches):
            head = "choice("
        else:
            head = f"join({self.policy!r}, "
        return [head, *joined(self.branches), ")"]


@attrs.frozen(repr=False, eq=False)
class Xor(Term):
    """Exclusive choice + simple merge (WCP-4/5).

    Raises:
        TermError: no alternatives, or region ids repeated.
    """

    alternatives: tuple[Branch, ...]
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        _check_branches("xor", "alternative", self.alternatives)
        regions = _merge_regions("xor", [b.term for b in self.alternatives])
        object.__setattr__(self, "_regions", regions)
        self._seal(self.alternatives)

    def children(self) -> tuple[Term, ...]:
        return tuple(b.term for b in self.alternatives)

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (), self.alternatives

    def _repr_parts(self) -> Parts:
        return ["xor(", *joined(self.alternatives), ")"]


# ---------------------------------------------------------------------------
# loops, triggers, signals


@attrs.frozen(repr=False, eq=False)
class Loop(Term):
    """Structured loop (WCP-21) with exactly one policy.

    Raises:
        TermError: not exactly one of ``times`` / ``while_`` / ``until``, a
            bad count, a condition that is not a synchronous callable.
    """

    body: Term
    times: int | None = None
    while_: Cond | None = None
    until: Cond | None = None
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        check_term("loop.body", self.body)
        given = [
            k
            for k, v in (("times", self.times), ("while_", self.while_), ("until", self.until))
            if v is not None
        ]
        if len(given) != 1:
            raise TermError(
                f"loop({self.body!r}, ...): give exactly one of times=, while_=, until= (got "
                f"{', '.join(given) if given else 'none'})"
            )
        if self.times is not None:
            check_int("loop", "times", self.times, low=0)
        if self.while_ is not None:
            check_condition("loop", "while_", self.while_)
        if self.until is not None:
            check_condition("loop", "until", self.until)
        object.__setattr__(self, "_regions", self.body._region_set())
        self._seal(self.body, self.times, self.while_, self.until)

    def children(self) -> tuple[Term, ...]:
        return (self.body,)

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (self.times, self.while_, self.until), (self.body,)

    def _repr_parts(self) -> Parts:
        if self.times is not None:
            pol = f"times={self.times}"
        elif self.while_ is not None:
            pol = f"while_={fn_name(self.while_)}"
        else:
            pol = f"until={fn_name(self.until)}"
        return ["loop(", self.body, f", {pol})"]


@attrs.frozen(repr=False, eq=False)
class OnSignal(Term):
    """Deferred-choice trigger: signal ``name`` arrives.

    Raises:
        TermTypeError: a bad name or ``term`` not a term.
    """

    name: str
    term: Term
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        check_name("on_signal", "name", self.name)
        check_term(f"on_signal({self.name!r}).term", self.term)
        self._seal(self.name, self.term)

    def children(self) -> tuple[Term, ...]:
        return (self.term,)

    def _region_set(self) -> RegionIds:
        return self.term._region_set()

    def _eq_key(self) -> EqKey:
        return (self.name,), (self.term,)

    def _repr_parts(self) -> Parts:
        return [f"on_signal({self.name!r}, ", self.term, ")"]


@attrs.frozen(repr=False, eq=False)
class After(Term):
    """Deferred-choice trigger: ``seconds`` of (trio) time pass.

    Raises:
        TermTypeError: ``seconds`` is not a finite number >= 0, or ``term`` not a term.
    """

    seconds: float
    term: Term
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        s = self.seconds
        if not is_number(s) or s < 0:
            raise TermTypeError(f"after(seconds={s!r}): must be a finite number >= 0")
        object.__setattr__(self, "seconds", float(s))
        check_term(f"after({s!r}).term", self.term)
        self._seal(self.seconds, self.term)

    def children(self) -> tuple[Term, ...]:
        return (self.term,)

    def _region_set(self) -> RegionIds:
        return self.term._region_set()

    def _eq_key(self) -> EqKey:
        return (self.seconds,), (self.term,)

    def _repr_parts(self) -> Parts:
        return [f"after({self.seconds!r}, ", self.term, ")"]


@attrs.frozen(repr=False, eq=False)
class Defer(Term):
    """Deferred choice (WCP-16): the first trigger to happen wins.

    Raises:
        TermError: no alternatives, one that is not ``on_signal`` / ``after``,
            or region ids repeated.
    """

    alternatives: tuple[OnSignal | After, ...]
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        alts = self.alternatives
        if not isinstance(alts, tuple):
            raise TermTypeError(f"defer: alternatives must be a tuple, got {type(alts).__name__}")
        if not alts:
            raise TermError("defer(): needs at least one alternative")
        for i, a in enumerate(alts):
            if not isinstance(a, OnSignal | After):
                raise TermTypeError(
                    f"defer[{i}] is {a!r}, expected wf.on_signal(name, term) or "
                    "wf.after(seconds, term)"
                )
        object.__setattr__(self, "_regions", _merge_regions("defer", [a.term for a in alts]))
        self._seal(alts)

    def children(self) -> tuple[Term, ...]:
        return tuple(a.term for a in self.alternatives)

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (), self.alternatives

    def _repr_parts(self) -> Parts:
        return ["defer(", *joined(self.alternatives), ")"]


@attrs.frozen(repr=False, eq=False)
class WaitSignal(Term):
    """Block until signal ``name`` is available; payload goes to ``ctx[store_as]``.

    Raises:
        TermTypeError: ``name`` or ``store_as`` is not a non-empty string.
    """

    name: str
    store_as: str | None = None
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        check_name("wait_signal", "name", self.name)
        if self.store_as is not None:
            check_name(f"wait_signal({self.name!r})", "store_as", self.store_as)
        self._seal(self.name, self.store_as)

    def _eq_key(self) -> EqKey:
        return (self.name, self.store_as), ()

    def _repr_parts(self) -> Parts:
        extra = f", store_as={self.store_as!r}" if self.store_as is not None else ""
        return [f"wait_signal({self.name!r}{extra})"]


# ---------------------------------------------------------------------------
# regions, multiple instances, termination


@attrs.frozen(repr=False, eq=False)
class Region(Term):
    """Cancellation region (WCP-25) with an optional compensation term.

    Raises:
        TermError: a bad id, term or allowlist, or a region id used twice.
    """

    scope_id: str
    term: Term
    compensate: Term | None = None
    allow: frozenset[str] | None = None
    _regions: RegionIds = attrs.field(init=False, default=EMPTY, alias="_regions")
    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        sid = self.scope_id
        check_name("region", "scope_id", sid)
        where = f"region({sid!r})"
        allow = self.allow
        if allow is not None:
            if not isinstance(allow, frozenset):
                raise TermTypeError(
                    f"{where}: allow={allow!r} must be a set of effect kinds (strings)"
                )
            for k in allow:
                check_name(where, "allow", k)
        check_term(f"{where}.term", self.term)
        kids: list[Term] = [self.term]
        if self.compensate is not None:
            kids.append(check_term(f"{where}.compensate", self.compensate))
        regions = _merge_regions(where, kids)
        if sid in regions:
            inner = next(k for k in kids if sid in k._region_set())
            raise TermError(
                f"{where}: duplicate region id {sid!r}: nested again at "
                f"{_path_to_region(inner, sid)}; region ids must be unique in a workflow"
            )
        object.__setattr__(self, "_regions", regions.plus((sid,)))
        self._seal(sid, self.term, self.compensate, allow)

    def children(self) -> tuple[Term, ...]:
        if self.compensate is None:
            return (self.term,)
        return (self.term, self.compensate)

    def _region_set(self) -> RegionIds:
        return self._regions

    def _eq_key(self) -> EqKey:
        return (self.scope_id, self.allow), (self.term, self.compensate)

    def _repr_parts(self) -> Parts:
        out: Parts = [f"region({self.scope_id!r}, ", self.term]
        if self.compensate is not None:
            out += [", compensate=", self.compensate]
        if self.allow is not None:
            out.append(f", allow={{{', '.join(repr(k) for k in sorted(self.allow))}}}")
        out.append(")")
        return out


@attrs.frozen(repr=False, eq=False)
class Terminate(Term):
    """Explicit termination (WCP-43): end the case, withdrawing every token."""

    _hash: int | None = attrs.field(init=False, default=None, alias="_hash")

    def __attrs_post_init__(self) -> None:
        self._seal()

    def _eq_key(self) -> EqKey:
        return (), ()

    def _repr_parts(self) -> Parts:
        return ["terminate()"]


# ---------------------------------------------------------------------------
# paths and walks


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

    Paths read like ``seq[1].par[0].task('pack')``.  The walk uses an
    explicit stack, so any depth of nesting is fine.
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
