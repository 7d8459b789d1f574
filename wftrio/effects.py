"""The effect boundary: effect specs, causal ids, idempotency keys, handlers.

Every side effect of a case crosses one boundary.  A task requests an
effect in one of two ways:

* an ``async def`` task function: the runtime awaits ``fn(ctx)`` in the
  cancel scope of the task's region;
* a sync task function returning an :class:`Effect` spec: the case's
  ``effect_handler`` carries it out (``await handler.handle(effect, ctx)``,
  or ``await handler[effect.kind](effect, ctx)`` for a mapping).

Either way the reducer (which stays pure) only emits a ``StartEffect``
command; the runtime (``wftrio.runtime``) runs it with the task's timeout
and retry policy and feeds the outcome back.  Each effect gets a causal id
derived deterministically from the case, the token and the step that
requested it, and an idempotency key derived from the causal id, identical
across retries and across a replay of the case, so a handler can make its
effect at-most-once.  Receipts (``wftrio.receipts``) record every outcome.

This module imports no trio: the reducer uses it.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any, TypeAlias

import attrs

from wftrio.errors import EffectContextError, EffectSpecError, EffectTimeout, NoHandler
from wftrio.terms import Retry

__all__ = [
    "Effect",
    "EffectContext",
    "EffectContextError",
    "EffectSpecError",
    "EffectTimeout",
    "Handler",
    "NoHandler",
    "Retry",
    "as_handler",
    "bind_effect",
    "causal_id",
    "current_effect",
    "idempotency_key",
]


def _check_kind(kind: object) -> str:
    if not isinstance(kind, str) or not kind:
        raise EffectSpecError(f"Effect(kind={kind!r}): kind must be a non-empty string")
    return kind


def _check_cost(cost: object) -> float | None:
    if cost is None:
        return None
    if (
        isinstance(cost, bool)
        or not isinstance(cost, int | float)
        or not math.isfinite(cost)
        or cost < 0
    ):
        raise EffectSpecError(f"Effect(cost={cost!r}): cost must be a finite number >= 0")
    return float(cost)


@attrs.frozen(repr=False)
class Effect:
    """A request for a side effect, returned by a sync task function.

    ``wf.task("charge", lambda ctx: wf.Effect("payment", {"amount": ctx["total"]}))``
    asks the case's ``effect_handler`` to carry out a ``"payment"`` effect;
    the handler's result (a Mapping of ctx updates, or None) is merged like
    a task's.  The spec is part of the request hashed into the receipt, so
    the payload should be JSON data.

    Attributes:
        kind: what kind of effect (allowlists and handler mappings use it).
        payload: the request for the handler.
        cost: the cost charged to the case budget (overrides the task's ``cost=``).

    Raises:
        EffectSpecError: ``kind`` is not a non-empty string or ``cost`` is not
            a finite number >= 0.
    """

    kind: str = attrs.field(converter=_check_kind)
    payload: Any = None
    cost: float | None = attrs.field(default=None, converter=_check_cost)

    def __repr__(self) -> str:
        extra = f", cost={self.cost!r}" if self.cost is not None else ""
        return f"Effect({self.kind!r}, {self.payload!r:.60}{extra})"


@attrs.frozen
class EffectContext:
    """What an effect handler (or an async task function) learns about its effect.

    Attributes:
        case_id: the case requesting the effect.
        causal_id: the effect's causal id (stable across retries and replays).
        key: the idempotency key derived from ``causal_id``: identical for
            every attempt and every replay of this effect, unique otherwise.
        task: the requesting task's name.
        kind: the effect kind.
        attempt: this attempt's number, from 1.
        ctx: a read-only snapshot of the ctx the task saw when it asked.
    """

    case_id: str
    causal_id: str
    key: str
    task: str
    kind: str
    attempt: int
    ctx: Mapping[str, Any]


_LazyEffect: TypeAlias = list[Any]
"""What :func:`bind_effect_lazily` binds: ``[None, *the EffectContext's fields]``.

The context itself is built on the first :func:`current_effect` call and
kept in the list's first slot (so every call in the attempt returns the
same object): an async task function that never asks for it costs no
``EffectContext``.  A list, not an object of a class of its own: made once
per effect, it costs a third as much.
"""


_CURRENT: ContextVar[EffectContext | _LazyEffect] = ContextVar("wftrio_effect")


def current_effect() -> EffectContext:
    """The :class:`EffectContext` of the effect running in this trio task.

    Inside an ``async def`` task function this gives the causal id and the
    idempotency key, which its signature ``fn(ctx)`` has no room for.

    Raises:
        EffectContextError: not called from inside an effect.
    """
    try:
        e = _CURRENT.get()
    except LookupError:
        raise EffectContextError(
            "current_effect() is only available inside an effect (an async task "
            "function or an effect handler run by the wftrio runtime)"
        ) from None
    if type(e) is EffectContext:
        return e
    assert type(e) is list  # a lazy binding (see _LazyEffect)
    built = e[0]
    if built is None:
        if e[3] is None:  # the key was left to be derived (see bind_effect_lazily)
            e[3] = idempotency_key(e[2])
        built = e[0] = EffectContext(*e[1:])
    return built  # type: ignore[no-any-return]


def bind_effect_lazily(
    case_id: str,
    causal_id: str,
    key: str | None,
    task: str,
    kind: str,
    attempt: int,
    ctx: Mapping[str, Any],
) -> Token[EffectContext | _LazyEffect]:
    """Bind the effect whose :class:`EffectContext` has these fields (built when asked for).

    The runtime's fast path for an async task function (which is not handed
    its ``EffectContext``): :func:`current_effect` inside returns the same
    context :func:`bind_effect` would bind.  ``key`` ``None``: the context's
    key is ``idempotency_key(causal_id)``, derived when the context is
    built.  Undo with :func:`unbind_effect`.
    """
    return _CURRENT.set([None, case_id, causal_id, key, task, kind, attempt, ctx])


bind_lazy_list = _CURRENT.set
"""``bind_lazy_list([None, case_id, causal_id, key, task, kind, attempt, ctx])``:
:func:`bind_effect_lazily` without its call (the runtime's inline effect task)."""


def unbind_effect(token: Token[EffectContext | _LazyEffect]) -> None:
    """Restore the binding :func:`bind_effect_lazily` replaced (``token`` is its result)."""
    _CURRENT.reset(token)


class bind_effect:  # noqa: N801 - used like a function: ``with bind_effect(ectx):``
    """Make ``ectx`` what :func:`current_effect` returns inside a ``with`` block.

    The runtime wraps every effect attempt in it; use it to call an effect
    handler or an ``async def`` task function yourself (in a test, or in a
    runner of your own) with the context the runtime would give it::

        ectx = EffectContext("c1", "c1/t0/s1", key, "pay", "payment", 1, {})
        with bind_effect(ectx):
            await handler(effect, ectx)

    The binding lives in the current ``contextvars`` context, so it follows
    the current trio task (and is inherited by tasks it starts), and the
    previous binding is restored when the block exits, even by an exception.
    """

    __slots__ = ("_ectx", "_token")

    def __init__(self, ectx: EffectContext) -> None:
        self._ectx = ectx
        self._token: Token[EffectContext | _LazyEffect] | None = None

    def __enter__(self) -> EffectContext:
        self._token = _CURRENT.set(self._ectx)
        return self._ectx

    def __exit__(self, *exc: object) -> None:
        token = self._token
        assert token is not None, "bind_effect exited without being entered"
        self._token = None
        _CURRENT.reset(token)


def causal_id(root: str, token: int, step: int) -> str:
    """The causal id of the effect requested by ``token`` at ``step`` of case ``root``.

    ``root`` is the run's causal root (:func:`run_root`: the case id and a
    per-run nonce on a substrate, the case id on a bare ``ExecState``; a
    replay keeps the recorded run's root); token ids and step counts are
    handed out deterministically, so the same case with the same inputs
    gives the same ids.  Unique within a case: one step requests at most one
    effect.
    """
    return f"{root}/t{token}/s{step}"


RUN_SEP = "~"
"""Separates a case id from its run's nonce in a causal root (``"order-7~1f3a9c2e"``)."""


def run_root(case_id: str, nonce: str) -> str:
    """The causal root of one run of case ``case_id`` (see :func:`root_case`).

    The runtime draws a fresh ``nonce`` for every ``new_case``, so a case id
    reused after ``forget`` never gets another run's causal ids or
    idempotency keys; it is recorded in ``case_started`` (``data["root"]``)
    so a replay reproduces the same keys.
    """
    return f"{case_id}{RUN_SEP}{nonce}"


def root_case(root: str) -> str:
    """The case id a causal root belongs to (the root itself when it has no run nonce)."""
    case_id, sep, nonce = root.rpartition(RUN_SEP)
    return case_id if sep and case_id and nonce else root


_KEY_PREFIX = hashlib.sha256(b"wftrio-effect:")
"""The SHA-256 state after the keys' prefix: copied per key, which is ~35% cheaper
than a new hash object (OpenSSL looks the algorithm up for each new one)."""


def idempotency_key(cid: str) -> str:
    """The idempotency key handed to handlers for causal id ``cid`` (32 hex digits).

    ``sha256("wftrio-effect:" + cid)``, hex, cut to 32 digits.
    """
    h = _KEY_PREFIX.copy()
    h.update(cid.encode())
    return h.hexdigest()[:32]


Handler: TypeAlias = Callable[[Effect, EffectContext], Awaitable[Mapping[str, Any] | None]]
"""A normalised effect handler: ``await handler(effect, ctx) -> updates | None``."""


def as_handler(obj: object, where: str = "effect_handler") -> Handler:
    """Normalise an ``effect_handler=`` option into one async callable.

    Accepted: an object with an ``async def handle(effect, ctx)`` method, or
    a mapping from effect kind to ``async def fn(effect, ctx)``.  A kind the
    mapping lacks fails the effect with :class:`NoHandler`.

    Raises:
        EffectSpecError: ``obj`` is neither.
    """
    if isinstance(obj, Mapping):
        table: dict[str, Callable[..., Any]] = {}
        for k, fn in obj.items():
            if not isinstance(k, str) or not k:
                raise EffectSpecError(f"{where}: mapping keys must be effect kinds, got {k!r}")
            if not inspect.iscoroutinefunction(fn) and not _async_callable(fn):
                raise EffectSpecError(
                    f"{where}[{k!r}] must be an async callable (effect, ctx), got {fn!r}"
                )
            table[k] = fn

        async def by_kind(effect: Effect, ctx: EffectContext) -> Mapping[str, Any] | None:
            fn = table.get(effect.kind)
            if fn is None:
                raise NoHandler(
                    f"no effect handler for kind {effect.kind!r} (task {ctx.task!r}); "
                    f"the handler mapping knows {sorted(table)}"
                )
            result: Mapping[str, Any] | None = await fn(effect, ctx)
            return result

        return by_kind
    handle = getattr(obj, "handle", None)
    if handle is not None and _async_callable(handle):
        return handle  # type: ignore[no-any-return]
    raise EffectSpecError(
        f"{where}={obj!r}: expected an object with an async handle(effect, ctx) method "
        "or a mapping of effect kind -> async callable(effect, ctx)"
    )


def _async_callable(fn: object) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an async __call__ is accepted
    return call is not None and inspect.iscoroutinefunction(call)


async def no_handler(effect: Effect, ctx: EffectContext) -> Mapping[str, Any] | None:
    """The handler of a case without ``effect_handler=``: every Effect fails."""
    raise NoHandler(
        f"task {ctx.task!r} requested an Effect of kind {effect.kind!r} but the case has "
        "no effect_handler (pass effect_handler= to new_case or open_substrate)"
    )
