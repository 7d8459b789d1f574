"""Hypothesis strategies generating well-formed wftrio workflow terms.

:func:`terms` draws random terms mixing every kernel constructor, bounded in
depth, width and size.  The task functions and conditions it uses come from
the small factories below (:func:`bump`, :func:`note`, :func:`count_mod`,
...): pure, deterministic functions of ctx with readable ``__qualname__``, so
a generated term prints as Python you can paste back, e.g.::

    seq(task('t0', bump('a')), xor(branch(count_mod('a', 2, 1), task('t1', note('t1'))),
        task('t2', noop())))

Every ctx value a generated task writes is JSON-able.  Generated loops always
terminate (their body increments a counter key of their own that the loop's
condition reads), generated region ids are unique, and generated ``first(n)``
/ ``mi(join=n)`` never ask for more arrivals than can happen statically.  By
default (``valid=True``) every term passes the validation ``new_case`` runs;
``terms(tasks=[...])`` builds terms from the caller's own tasks.  This
module needs ``hypothesis`` (wftrio's ``test`` extra).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

import wftrio.terms as wt
from wftrio.algebra.checks import is_int
from wftrio.errors import InjectedFault, InvalidArgument
from wftrio.registry import Registry, call
from wftrio.scheduling import Deterministic, Seeded
from wftrio.terms import Term
from wftrio.testing._mi_strategies import finished_at_least, mi_pattern_options
from wftrio.testing._sync_strategies import halting_choice

__all__ = [
    "KEYS",
    "SIGNALS",
    "InjectedFault",
    "InvalidArgument",
    "always",
    "below",
    "bump",
    "count_mod",
    "count_of",
    "effect_bump",
    "effect_note",
    "fail",
    "finished_at_least",
    "has",
    "items_upto",
    "never",
    "noop",
    "note",
    "reached",
    "returns_int",
    "scheduler_seeds",
    "schedulers",
    "set_to",
    "terms",
]

KEYS: Final[tuple[str, ...]] = ("a", "b", "c")
"""The shared ctx keys generated tasks count into and conditions read."""

SIGNALS: Final[tuple[str, ...]] = ("s0", "s1", "s2")
"""The signal names generated ``wait_signal`` / ``on_signal`` nodes use."""

_LOG_KEY: Final = "log"
_LOG_CAP: Final = 16
_TIMER_SECONDS: Final[tuple[float, ...]] = (0.0, 0.5, 1.0, 5.0)

Ctx = Mapping[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


def _named(fn: F, name: str) -> F:
    fn.__qualname__ = name
    fn.__name__ = name
    return fn


def _int(ctx: Ctx, key: str) -> int:
    v = ctx.get(key)
    return v if is_int(v) else 0


def bump(key: str) -> Callable[[Ctx], dict[str, int]]:
    """A task fn returning ``{key: ctx[key] + 1}`` (a missing or non-int value counts as 0)."""

    def fn(ctx: Ctx) -> dict[str, int]:
        return {key: _int(ctx, key) + 1}

    return _named(fn, f"bump({key!r})")


def note(name: str) -> Callable[[Ctx], dict[str, list[str]]]:
    """A task fn appending ``name`` to ``ctx["log"]`` (keeping the last 16 entries)."""

    def fn(ctx: Ctx) -> dict[str, list[str]]:
        log = ctx.get(_LOG_KEY)
        old = [x for x in log if isinstance(x, str)] if isinstance(log, list) else []
        return {_LOG_KEY: [*old[-(_LOG_CAP - 1) :], name]}

    return _named(fn, f"note({name!r})")


def set_to(key: str, value: int) -> Callable[[Ctx], dict[str, int]]:
    """A task fn returning ``{key: value}``."""

    def fn(ctx: Ctx) -> dict[str, int]:
        return {key: value}

    return _named(fn, f"set_to({key!r}, {value!r})")


def noop() -> Callable[[Ctx], None]:
    """A task fn changing nothing (returns None)."""

    def fn(ctx: Ctx) -> None:
        return None

    return _named(fn, "noop()")


def fail(name: str) -> Callable[[Ctx], None]:
    """A task fn raising :class:`InjectedFault` (fails the case)."""

    def fn(ctx: Ctx) -> None:
        raise InjectedFault(f"task {name!r} fails on purpose")

    return _named(fn, f"fail({name!r})")


def returns_int() -> Callable[[Ctx], int]:
    """A task fn returning an int, which is not a Mapping: fails the case."""

    def fn(ctx: Ctx) -> int:
        return 42

    return _named(fn, "returns_int()")


def effect_bump(key: str) -> Callable[[Ctx], Any]:
    """An async task fn (an effect) returning ``{key: ctx[key] + 1}`` without suspending."""

    async def fn(ctx: Ctx) -> dict[str, int]:
        return {key: _int(ctx, key) + 1}

    return _named(fn, f"effect_bump({key!r})")


def effect_note(name: str) -> Callable[[Ctx], Any]:
    """An async task fn (an effect) appending ``name`` to ``ctx["log"]``."""
    sync = note(name)

    async def fn(ctx: Ctx) -> dict[str, list[str]]:
        return sync(ctx)

    return _named(fn, f"effect_note({name!r})")


def has(key: str) -> Callable[[Ctx], bool]:
    """A condition: ``key in ctx``."""

    def cond(ctx: Ctx) -> bool:
        return key in ctx

    return _named(cond, f"has({key!r})")


def count_mod(key: str, m: int, r: int) -> Callable[[Ctx], bool]:
    """A condition: ``ctx[key] % m == r`` (a missing value counts as 0)."""

    def cond(ctx: Ctx) -> bool:
        return _int(ctx, key) % m == r

    return _named(cond, f"count_mod({key!r}, {m}, {r})")


def always() -> Callable[[Ctx], bool]:
    """A condition that always holds."""

    def cond(ctx: Ctx) -> bool:
        return True

    return _named(cond, "always()")


def never() -> Callable[[Ctx], bool]:
    """A condition that never holds."""

    def cond(ctx: Ctx) -> bool:
        return False

    return _named(cond, "never()")


def below(key: str, k: int) -> Callable[[Ctx], bool]:
    """A ``while_`` condition: ``ctx[key] < k``."""

    def cond(ctx: Ctx) -> bool:
        return _int(ctx, key) < k

    return _named(cond, f"below({key!r}, {k})")


def reached(key: str, k: int) -> Callable[[Ctx], bool]:
    """An ``until`` condition: ``ctx[key] >= k``."""

    def cond(ctx: Ctx) -> bool:
        return _int(ctx, key) >= k

    return _named(cond, f"reached({key!r}, {k})")


def count_of(key: str, cap: int) -> Callable[[Ctx], int]:
    """An ``mi(count=...)`` function: ``min(ctx[key], cap)``."""

    def fn(ctx: Ctx) -> int:
        return min(_int(ctx, key), cap)

    return _named(fn, f"count_of({key!r}, {cap})")


def items_upto(key: str, cap: int) -> Callable[[Ctx], list[int]]:
    """An ``mi(items=...)`` function: ``range(min(ctx[key], cap))`` as a list."""

    def fn(ctx: Ctx) -> list[int]:
        return list(range(min(_int(ctx, key), cap)))

    return _named(fn, f"items_upto({key!r}, {cap})")


# the blueprint: a plain data tree drawn by hypothesis, then built into a Term
#
# Drawing a blueprint first (instead of Terms directly) lets the builder hand
# out fresh names in one pass (unique region ids, task names, loop counters)
# and lets every extension clip its children to the depth bound.


@attrs.frozen
class _Node:
    kind: str
    params: tuple[Any, ...] = ()
    kids: tuple[_Node, ...] = ()


def _depth(node: _Node) -> int:
    return 1 + max(map(_depth, node.kids)) if node.kids else 0


def _clip(node: _Node, depth: int) -> _Node:
    """Cut ``node`` to at most ``depth`` composite levels (deeper parts -> leftmost leaf)."""
    if not node.kids:
        return node
    if depth <= 0:
        while node.kids:
            node = node.kids[0]
        return node
    return attrs.evolve(node, kids=tuple(_clip(k, depth - 1) for k in node.kids))


@attrs.frozen
class _Options:
    max_depth: int
    max_width: int
    effects: bool
    signals: bool
    timers: bool
    regions: bool
    terminate: bool
    failures: bool
    mi: bool
    mi_patterns: bool
    calls: bool
    valid: bool
    tasks: tuple[Term, ...] | None


_conds: SearchStrategy[tuple[Any, ...]] = st.one_of(
    st.tuples(st.just("mod"), st.sampled_from(KEYS), st.integers(2, 3), st.integers(0, 2)),
    st.tuples(st.just("has"), st.sampled_from((*KEYS, _LOG_KEY))),
    st.tuples(st.just("const"), st.booleans()),
)


def _cond(spec: tuple[Any, ...]) -> Callable[[Ctx], bool]:
    if spec[0] == "mod":
        _, key, m, r = spec
        return count_mod(key, m, r % m)
    if spec[0] == "has":
        return has(spec[1])
    return always() if spec[1] else never()


def _leaves(o: _Options) -> SearchStrategy[_Node]:
    # weights: terminate ends the whole case, so it stays rare
    kinds = ["task"] * 12
    if o.effects:
        kinds += ["effect"] * 4
    if o.signals:
        kinds += ["wait"] * 4
    if o.terminate:
        kinds.append("terminate")
    task_kinds = ["bump", "note", "set", "noop"] if o.tasks is None else ["user"]
    if o.failures:
        task_kinds += ["fail", "returns_int"]

    @st.composite
    def leaf(draw: st.DrawFn) -> _Node:
        kind = draw(st.sampled_from(kinds))
        if kind == "task":
            variant = draw(st.sampled_from(task_kinds))
            if variant == "user":
                assert o.tasks is not None
                return _Node("user", (draw(st.integers(0, len(o.tasks) - 1)),))
            return _Node("task", (variant, draw(st.sampled_from(KEYS))))
        if kind == "effect":
            return _Node(
                "effect", (draw(st.sampled_from(("bump", "note"))), draw(st.sampled_from(KEYS)))
            )
        if kind == "wait":
            return _Node("wait", (draw(st.sampled_from(SIGNALS)), draw(st.booleans())))
        return _Node("terminate")

    return leaf()


def _composites(o: _Options, kids: SearchStrategy[_Node]) -> SearchStrategy[_Node]:
    kinds = ["seq", "par", "join", "xor", "choice", "loop", "threads"]
    if o.signals or o.timers:
        kinds.append("defer")
    if o.regions:
        kinds.append("region")
    if o.mi:
        kinds.append("mi")
    if o.calls:
        kinds.append("call")
    w = o.max_width
    kid_lists = st.lists(kids, min_size=min(2, w), max_size=w).map(tuple)
    maybe_cond = st.one_of(st.none(), _conds)

    @st.composite
    def composite(draw: st.DrawFn) -> _Node:
        kind = draw(st.sampled_from(kinds))
        if kind == "seq":
            return _Node("seq", (), draw(kid_lists))
        if kind == "par":
            return _Node("join", ("all",), draw(kid_lists))
        if kind == "join":
            ks = draw(kid_lists)
            policy = draw(st.sampled_from(("first", "first", "sync_merge", "all")))
            if policy != "first":
                return _Node("join", (policy,), ks)
            need = draw(st.integers(1, len(ks)))
            # cancel_rest, blocking (WCP-28/31) or neither: the two exclude each other
            flavour = "cancel_rest" if draw(st.booleans()) else "plain"
            if flavour == "plain" and draw(st.booleans()):
                flavour = "blocking"
            return _Node("join", ("first", need, flavour), ks)
        if kind in ("xor", "choice"):
            ks = draw(kid_lists)
            conds = tuple(draw(maybe_cond) for _ in ks)
            if kind == "choice" and draw(st.integers(0, 3)) == 0:  # WCP-33/37/38: branches may halt
                hows = tuple(draw(st.sampled_from(("halt", "after", None))) for _ in ks)
                return _Node("sync", (w, tuple(zip(conds, hows, strict=True))), ks)
            return _Node(kind, conds, ks)
        if kind == "threads":  # WCP-42/41
            return _Node("threads", (draw(st.integers(1, 3)),), (draw(kids),))
        if kind == "loop":
            policy = draw(st.sampled_from(("times", "while", "until")))
            bound = draw(st.integers(1 if policy == "until" else 0, 3))
            return _Node("loop", (policy, bound), (draw(kids),))
        if kind == "defer":
            ks = draw(kid_lists)
            triggers: list[st.SearchStrategy[tuple[str, Any]]] = []
            if o.signals:
                triggers.append(st.tuples(st.just("signal"), st.sampled_from(SIGNALS)))
            if o.timers:
                triggers.append(st.tuples(st.just("after"), st.sampled_from(_TIMER_SECONDS)))
            alts = tuple(draw(st.one_of(triggers)) for _ in ks)
            return _Node("defer", alts, ks)
        if kind == "call":
            return _Node("call", (), (draw(kids),))
        if kind == "region":
            body = draw(kids)
            if draw(st.booleans()):
                return _Node("region", (), (body, draw(kids)))
            return _Node("region", (), (body,))
        # mi
        mode = draw(st.sampled_from(("count", "items", "count_fn", "items_fn")))
        n: int | None = None
        source: Any
        if mode == "count":
            n = source = draw(st.integers(0, 3))
        elif mode == "items":
            source = tuple(draw(st.lists(st.integers(0, 9), max_size=3)))
            n = len(source)
        else:
            source = (draw(st.sampled_from(KEYS)), draw(st.integers(1, 3)))
        joins: list[Any] = ["all", "none"]
        if n is None:
            joins.append(1)  # may exceed the count drawn at run time: the case fails
        elif n >= 1:
            joins += list(range(1, n + 1))
        join = draw(st.sampled_from(joins))
        collect = draw(st.booleans())
        item_key = draw(st.sampled_from(("item", "it")))
        extra = (
            draw(mi_pattern_options(join, SIGNALS if o.signals else ())) if o.mi_patterns else {}
        )
        return _Node("mi", (mode, source, join, collect, item_key, extra), (draw(kids),))

    return composite()


class _Builder:
    """Builds a blueprint into a Term in one pass, handing out fresh names.

    With ``valid=True`` it also keeps the term within what ``new_case``'s
    validation accepts (docs/TESTING.md lists the rules): every ``build``
    says whether the built term can complete at all (not every path ends in
    ``terminate()``), the same abstraction as the validator's WF102 check,
    and thresholds and loops are adjusted to it.
    """

    __slots__ = ("counts", "registry", "tasks", "valid")

    def __init__(self, valid: bool, tasks: tuple[Term, ...] | None) -> None:
        self.counts: Counter[str] = Counter()
        self.registry: Registry | None = None  # the called workflows (WCP-22), one per term
        self.valid = valid
        self.tasks = tasks

    def fresh(self, prefix: str) -> str:
        n = self.counts[prefix]
        self.counts[prefix] = n + 1
        return f"{prefix}{n}"

    def build(self, node: _Node) -> tuple[Term, bool]:
        """The term of ``node`` and whether it can complete (some path does not terminate)."""
        p = node.params
        kind = node.kind
        if kind == "user":
            assert self.tasks is not None
            return self.tasks[p[0]], True
        if kind == "task":
            name = self.fresh("t")
            variant, key = p
            fns: dict[str, Callable[[], Callable[[Ctx], Any]]] = {
                "bump": lambda: bump(key),
                "note": lambda: note(name),
                "set": lambda: set_to(key, len(name)),
                "noop": noop,
                "fail": lambda: fail(name),
                "returns_int": returns_int,
            }
            return wt.task(name, fns[variant]()), True
        if kind == "effect":
            name = self.fresh("e")
            variant, key = p
            fn = effect_bump(key) if variant == "bump" else effect_note(name)
            return wt.task(name, fn), True
        if kind == "wait":
            sig, store = p
            return wt.wait_signal(sig, store_as=f"got_{sig}" if store else None), True
        if kind == "terminate":
            return wt.terminate(), False
        if kind == "seq":
            built = [self.build(k) for k in node.kids]
            return wt.seq(*(b for b, _ in built)), all(ok for _, ok in built)
        if kind == "join":
            built = [self.build(k) for k in node.kids]
            kids = [b for b, _ in built]
            ok = sum(1 for _, c in built if c)
            if p[0] == "first":
                need = p[1]
                if self.valid:
                    # WF102: a threshold only completing branches can reach
                    need = min(need, ok)
                if need >= 1:
                    policy = wt.first(
                        need, cancel_rest=p[2] == "cancel_rest", blocking=p[2] == "blocking"
                    )
                    return wt.join(policy, *kids), ok >= need
                return wt.join("all", *kids), False
            return wt.join(p[0], *kids), ok == len(kids)
        if kind in ("xor", "choice"):
            alts: list[Term] = []
            can: list[bool] = []
            for c, k in zip(p, node.kids, strict=True):
                sub, ok_k = self.build(k)
                alts.append(sub if c is None else wt.branch(_cond(c), sub))
                can.append(ok_k)
            if kind == "xor":
                return wt.xor(*alts), any(can)
            # choice: every unconditioned branch starts, a conditioned one may
            must = [ok_k for c, ok_k in zip(p, can, strict=True) if c is None]
            return wt.choice(*alts), all(must) and (bool(must) or any(can))
        if kind == "sync":  # WCP-33/37/38
            return halting_choice([self.build(k) for k in node.kids], p[1], _cond, p[0])
        if kind == "loop":
            policy, bound = p
            if policy == "times":
                body, ok = self.build(node.kids[0])
                if self.valid and not ok and bound:
                    bound = 0  # WF204: its exit would be taken on no path
                return wt.loop(body, times=bound), ok or bound == 0
            counter = self.fresh("loop")
            step = wt.task(self.fresh("t"), bump(counter))
            inner, ok = self.build(node.kids[0])
            body = wt.seq(step, inner)
            if policy == "while" or (self.valid and not ok):
                # a while_ loop may exit at its first test (WF204 otherwise)
                return wt.loop(body, while_=below(counter, bound)), True
            return wt.loop(body, until=reached(counter, bound)), ok
        if kind == "defer":
            return self.defer(node)
        if kind == "region":
            sid = self.fresh("r")
            body, ok = self.build(node.kids[0])
            comp = self.build(node.kids[1])[0] if len(node.kids) > 1 else None
            return wt.region(sid, body, compensate=comp), ok
        if kind == "mi":
            return self.mi(node)
        if kind == "threads":
            body, ok = self.build(node.kids[0])
            return wt.threads(p[0], body), ok
        if kind == "call":  # a sub-workflow, registered in the term's own registry
            name = self.fresh("wf")
            body, ok = self.build(node.kids[0])
            if self.registry is None:
                self.registry = Registry()
            self.registry.register(name, body)
            return call(name, registry=self.registry), ok
        raise AssertionError(f"unknown blueprint node {kind!r}")  # pragma: no cover

    def defer(self, node: _Node) -> tuple[Term, bool]:
        dalts: list[wt.OnSignal | wt.After] = []
        can = False
        taken: set[str] = set()
        delay: float | None = None
        for (trig, key), k in zip(node.params, node.kids, strict=True):
            if self.valid:
                if trig == "signal":
                    # WF103: a signal an earlier alternative takes can never win
                    if key in taken:
                        continue
                    taken.add(key)
                else:
                    # WF104: a longer timer can never fire first (equal ones tie)
                    delay = key = key if delay is None else delay
            sub, ok = self.build(k)
            can = can or ok
            dalts.append(wt.on_signal(key, sub) if trig == "signal" else wt.after(key, sub))
        return wt.defer(*dalts), can

    def mi(self, node: _Node) -> tuple[Term, bool]:
        mode, source, join, collect, item_key, *rest = node.params
        extra: dict[str, Any] = rest[0] if rest else {}  # the MI patterns' options
        body, ok = self.build(node.kids[0])
        col = self.fresh("col") if collect else None
        if self.valid and not ok and isinstance(join, int):
            join = "all"  # WF102: no instance can ever arrive at the join
        n = source if mode == "count" else len(source) if mode == "items" else None
        can = ok or join == "none" or n is None or n == 0
        kw: dict[str, Any] = {"join": join, "collect": col, "item_key": item_key}
        if not isinstance(join, int):  # cancel_rest needs the partial join (see WF102 above)
            extra = {k: v for k, v in extra.items() if k != "cancel_rest"}
        kw.update(extra)
        if mode == "count":
            return wt.mi(body, count=source, **kw), can
        if mode == "items":
            return wt.mi(body, items=source, **kw), can
        if mode == "count_fn":
            return wt.mi(body, count=count_of(*source), **kw), can
        return wt.mi(body, items=items_upto(*source), **kw), can


def _builder(valid: bool, tasks: tuple[Term, ...] | None) -> Callable[[_Node], Term]:
    def build_root(node: _Node) -> Term:
        return _Builder(valid, tasks).build(node)[0]

    return build_root


# public strategies


def _check_int(name: str, value: object, low: int) -> int:
    if not is_int(value):
        raise InvalidArgument(f"{name}={value!r} must be an int, got {type(value).__name__}")
    if value < low:
        raise InvalidArgument(f"{name}={value!r} must be >= {low}")
    return value


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be a bool, got {type(value).__name__}")
    return value


def _check_tasks(value: object) -> tuple[Term, ...] | None:
    """The user's tasks as Task terms (functions wrapped in ``task``), or None."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise InvalidArgument(
            f"tasks={value!r} must be a list or tuple of task terms or functions, "
            f"got {type(value).__name__}"
        )
    if not value:
        raise InvalidArgument("tasks=[] must hold at least one task term or function")
    out: list[Term] = []
    names: set[str] = set()
    for i, item in enumerate(value):
        if isinstance(item, wt.Task):
            if item.region_ids:
                raise InvalidArgument(
                    f"tasks[{i}]={item!r}: its on_error term holds regions, and a region id "
                    "may occur only once in a workflow; drop the region or the task"
                )
            out.append(item)
        elif isinstance(item, Term):
            raise InvalidArgument(
                f"tasks[{i}]={item!r} is a {type(item).__name__} term; give task terms "
                "(wf.task(name, fn)) or functions"
            )
        elif callable(item):
            name = getattr(item, "__name__", None)
            if not isinstance(name, str) or not name.isidentifier():
                name = f"task{i}"  # a lambda, a partial, a callable object
            if name in names:
                name = f"{name}_{i}"
            names.add(name)
            out.append(wt.task(name, item))
        else:
            raise InvalidArgument(
                f"tasks[{i}]={item!r} must be a task term (wf.task(name, fn)) or a function, "
                f"got {type(item).__name__}"
            )
    return tuple(out)


def terms(
    *,
    max_depth: int = 4,
    max_width: int = 4,
    max_leaves: int = 24,
    effects: bool = False,
    signals: bool = True,
    timers: bool = True,
    regions: bool = True,
    terminate: bool = True,
    failures: bool = False,
    mi: bool = True,
    mi_patterns: bool = True,
    calls: bool = False,
    tasks: Sequence[Term | Callable[..., Any]] | None = None,
    valid: bool = True,
) -> SearchStrategy[Term]:
    """A strategy for random well-formed workflow terms.

    Terms mix every kernel constructor: ``task``, ``seq``, ``par``, ``join``
    (``"all"``, ``"sync_merge"``, ``first(n, cancel_rest | blocking)``),
    ``threads``, ``xor`` and ``choice`` over ctx conditions, ``loop``,
    ``defer`` (``on_signal``, ``after``), ``wait_signal``, ``region`` (with
    and without ``compensate``), ``mi`` (``count``/``items``, static or
    computed; ``join`` ``"all"``, ``n``, ``"none"`` or a condition;
    ``collect``, ``cancel_rest``, ``until``, ``complete_on``, ``more_on`` /
    ``close_on``), ``terminate`` and ``halt`` (WCP-33/37/38).  Region ids,
    task names, loop counter keys and collect keys are unique in a term.

    A term drawn with ``effects=False, signals=False, timers=False`` needs
    nothing from the outside world: run by the reducer, it always ends
    ``DONE`` or ``FAILED``.

    With ``valid=True`` (the default) every term is one ``new_case``
    accepts: its validation (``wftrio.validation.check_program``) finds no
    error, only warnings (dead tasks, tied timers, a bound hit on a large
    term).  So no ``defer`` has two alternatives on one signal or timers of
    different lengths, no ``first(n)`` / ``mi(join=n)`` waits for more
    branches than can arrive without ``terminate()``, and a loop whose body
    always terminates is a ``while_`` loop or runs zero times.
    ``valid=False`` drops these adjustments and also draws workflows the
    validator refuses (``InvalidWorkflow`` at ``new_case``; pass
    ``validate=False`` to run them anyway): for tests of the validator or of
    the reducer on any shape the constructors allow.

    ``tasks=[...]`` builds workflows from your own tasks: every task leaf is
    one of them (task terms, or functions, wrapped as
    ``task(fn.__name__, fn)``; an ``async def`` function is an effect).  The
    strategy still adds its own bookkeeping: ``while_``/``until`` loops count
    iterations with a task of its own (ctx keys ``loop0``, ``loop1``, ...),
    and conditions and computed ``mi`` counts read ctx keys :data:`KEYS`.
    ``effects=True`` / ``failures=True`` add the strategy's own effects and
    failing tasks to yours.  Your tasks may occur several times in a term.

    Args:
        max_depth: most nested composite constructors (a ``while_``/``until``
            loop's body gets one extra ``seq`` holding its counter task).
        max_width: most children of one ``seq``/``par``/``join``/``xor``/
            ``choice``/``defer``.
        max_leaves: bound on the number of leaves (tasks, waits, terminate),
            passed to ``st.recursive``.
        effects: include async tasks (effects) that need a result fed back.
        signals: include ``wait_signal`` and ``on_signal`` (names from
            :data:`SIGNALS`).
        timers: include ``after`` alternatives in ``defer``.
        regions: include cancellation regions.
        terminate: include ``terminate()`` (rarely).
        failures: include tasks that raise or return a non-Mapping.
        mi: include multiple instances.
        mi_patterns: give some of them the options of the MI patterns
            (``cancel_rest``, ``until``, ``complete_on``, ``more_on`` /
            ``close_on``, a condition as the join).
        calls: include sub-workflow calls (WCP-22, ``wf.call``): a drawn
            sub-term registered under a fresh name (``wf0``, ...) in a
            registry of the term's own and called with no ``ctx_in`` /
            ``ctx_out`` (so it reads none of the caller's ctx); no recursion.
        tasks: your own task terms or functions, used as the task leaves
            (default None: the strategy's own tasks, :func:`bump`,
            :func:`note`, ...).
        valid: draw only workflows ``new_case`` accepts (default True).

    Raises:
        InvalidArgument: an argument has the wrong type or is out of range
            (its message names the argument).
    """
    opts = _Options(
        max_depth=_check_int("max_depth", max_depth, 0),
        max_width=_check_int("max_width", max_width, 1),
        effects=_check_bool("effects", effects),
        signals=_check_bool("signals", signals),
        timers=_check_bool("timers", timers),
        regions=_check_bool("regions", regions),
        terminate=_check_bool("terminate", terminate),
        failures=_check_bool("failures", failures),
        mi=_check_bool("mi", mi),
        mi_patterns=_check_bool("mi_patterns", mi_patterns),
        calls=_check_bool("calls", calls),
        valid=_check_bool("valid", valid),
        tasks=_check_tasks(tasks),
    )
    _check_int("max_leaves", max_leaves, 1)
    base = _leaves(opts)
    build = _builder(opts.valid, opts.tasks)
    if opts.max_depth == 0:
        return base.map(build)
    limit = opts.max_depth - 1

    def clip(node: _Node) -> _Node:
        return _clip(node, limit)

    def extend(kids: SearchStrategy[_Node]) -> SearchStrategy[_Node]:
        # a child is a smaller term or, as often, a composite of smaller
        # terms: bushier terms than st.recursive alone draws, still within
        # max_leaves (st.recursive counts every leaf) and clipped to max_depth
        smaller = kids.map(clip)
        return _composites(opts, st.one_of(smaller, _composites(opts, smaller).map(clip)))

    return st.recursive(base, extend, max_leaves=max_leaves).map(build)


def scheduler_seeds() -> SearchStrategy[int]:
    """A strategy for seeds of :class:`wftrio.Seeded` (and of test environments)."""
    return st.integers(min_value=0, max_value=2**32 - 1)


def schedulers(*, deterministic: bool = True) -> SearchStrategy[Deterministic | Seeded]:
    """A strategy for fresh scheduler policies: ``Deterministic()`` or ``Seeded(seed)``.

    Args:
        deterministic: also draw ``Deterministic()`` (otherwise only seeded policies).

    Raises:
        InvalidArgument: ``deterministic`` is not a bool.
    """
    _check_bool("deterministic", deterministic)
    seeded: SearchStrategy[Deterministic | Seeded] = st.builds(Seeded, scheduler_seeds())
    if deterministic:
        return st.one_of(st.builds(Deterministic), seeded)
    return seeded
