"""Running one effect in trio: handler or task function, timeout, retries, backoff.

An effect task (started by ``_children.Children.start_effect`` inside its
region's nursery) calls :func:`run_effect`, which makes up to
``retry.attempts`` attempts:

* an attempt awaits the task's async function ``fn(ctx)``, or, for an
  ``Effect`` spec, the case's handler ``handler(effect, ctx)``, with
  :func:`wftrio.effects.current_effect` set to the attempt's
  :class:`~wftrio.effects.EffectContext`;
* with a ``timeout`` the attempt runs under ``trio.move_on_after``; an
  attempt that runs out fails with :class:`~wftrio.effects.EffectTimeout`;
* a failed attempt the retry policy covers is reported to the case (the
  ``effect_retry`` input), then retried after the policy's backoff, slept
  in trio time (so ``MockClock`` tests take no real time);
* the outcome (result or error, attempts made, start and end case time,
  ``ok`` / ``error`` / ``timed_out``) goes to the case's inbox.

Cancellation (the region, the case, or the reducer withdrawing the effect)
arrives as ``trio.Cancelled`` wherever the effect is, in an attempt or in a
backoff sleep; it is never caught here, so the effect's own cleanup runs
and nothing is reported: the reducer already recorded the cancelled
receipt when it withdrew the effect.

A ``BaseException`` escaping an attempt that is *not* that cancellation (a
stray ``trio.Cancelled`` re-raised outside the scope it belongs to, or any
other ``BaseException`` subclass; see :func:`is_stray`) is reported as
:class:`EffectEscaped` and fails the case; ``KeyboardInterrupt`` and
``SystemExit`` propagate (they stop the whole substrate).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

from wftrio.effects import (
    EffectContext,
    Handler,
    bind_effect,
    bind_effect_lazily,
    idempotency_key,
    unbind_effect,
)
from wftrio.engine import StartEffect
from wftrio.errors import EffectTimeout, EscapedBaseException, NoHandler
from wftrio.runtime._messages import EffectEscaped, EffectOutcome, EffectRetry

__all__ = ["attempt", "escaped", "is_stray", "run_effect"]


def is_stray(exc: BaseException) -> bool:
    """Whether ``exc``, escaping user code, is neither ours to propagate nor an Exception.

    ``KeyboardInterrupt`` / ``SystemExit`` (alone or in a group) are never
    stray: they propagate and stop the substrate.  A ``trio.Cancelled`` (or
    a group of nothing else) is the case's own cancellation when the
    calling task sits in a cancelled scope, and stray otherwise: trio
    delivers cancellation only to a task whose scope is cancelled.  Any
    other ``BaseException`` is stray.
    """
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return False
    if isinstance(exc, BaseExceptionGroup):
        if exc.subgroup((KeyboardInterrupt, SystemExit)) is not None:
            return False
        if exc.subgroup(lambda e: not isinstance(e, trio.Cancelled | BaseExceptionGroup)):
            return True
    elif not isinstance(exc, trio.Cancelled):
        return True
    return trio.current_effective_deadline() != -math.inf


def escaped(exc: BaseException, what: str) -> EscapedBaseException:
    """The error a case fails with when ``exc`` escaped ``what`` (see :func:`is_stray`)."""
    err = EscapedBaseException(
        f"{what} let {type(exc).__name__} escape, which is not the case's own "
        "cancellation: user code must not raise BaseExceptions (a trio.Cancelled "
        "must stay inside the cancel scope that raised it)"
    )
    err.__cause__ = exc
    return err


async def attempt(
    cmd: StartEffect, handler: Handler, ectx: EffectContext
) -> Mapping[str, Any] | None:
    """Make one attempt of ``cmd`` (under its timeout, if it has one).

    Raises:
        EffectTimeout: the attempt ran longer than ``cmd.timeout``.
        Exception: whatever the function or handler raised.
    """
    with bind_effect(ectx):
        if cmd.timeout is None:
            result: Mapping[str, Any] | None = await _call(cmd, handler, ectx)
            return result
        with trio.move_on_after(cmd.timeout):
            result = await _call(cmd, handler, ectx)
            return result
        raise EffectTimeout(
            f"effect {cmd.kind!r} of task {cmd.name!r} (attempt {ectx.attempt}) ran longer "
            f"than its timeout of {cmd.timeout:g}s"
        )


def _call(cmd: StartEffect, handler: Handler, ectx: EffectContext) -> Awaitable[Any]:
    """The awaitable of one attempt: the handler's for an Effect spec, else the function's.

    Not a coroutine itself: the attempt awaits the user's awaitable directly
    (one coroutine layer fewer per effect).
    """
    if cmd.effect is not None:
        return handler(cmd.effect, ectx)
    assert cmd.fn is not None
    call: Awaitable[Any] = cmd.fn(cmd.ctx)
    return call


async def run_effect(
    cmd: StartEffect,
    handler: Handler,
    case_id: str,
    now: Callable[[], float],
    report: Callable[[EffectOutcome | EffectEscaped | EffectRetry], None],
    attempts_done: int = 0,
) -> None:
    """Run effect ``cmd`` to its outcome and ``report`` it (see the module docstring).

    ``now`` reads the case clock (seconds since the case started);
    ``attempts_done`` counts attempts already made before (a case resumed
    after a replay).  ``report`` receives an :class:`EffectRetry` notice per
    retried attempt and one final :class:`EffectOutcome` (or
    :class:`EffectEscaped` when a stray BaseException escaped an attempt).
    """
    retry = cmd.retry
    started = now()
    key = cmd.key
    if key is None:  # left to the runtime (ExecState.defer_keys): one for every attempt
        key = idempotency_key(cmd.causal_id)
    n = attempts_done
    while True:
        n += 1
        try:
            fn = cmd.fn
            if cmd.timeout is None and cmd.effect is None and fn is not None:
                # attempt() inlined, and the EffectContext built only if the
                # function asks for it (current_effect()): no coroutine
                # between this one and the user's
                token = bind_effect_lazily(
                    case_id, cmd.causal_id, key, cmd.name, cmd.kind, n, cmd.ctx
                )
                try:
                    result = await fn(cmd.ctx)
                finally:
                    unbind_effect(token)
            else:
                ectx = EffectContext(case_id, cmd.causal_id, key, cmd.name, cmd.kind, n, cmd.ctx)
                if cmd.timeout is None:
                    with bind_effect(ectx):
                        result = await _call(cmd, handler, ectx)
                else:
                    result = await attempt(cmd, handler, ectx)
        except Exception as exc:
            if (
                retry is not None
                and n < retry.attempts
                and not isinstance(exc, NoHandler)
                and retry.retries(exc)
            ):
                delay = retry.delay(n)
                report(EffectRetry(cmd.eid, n, exc, delay))
                await trio.sleep(delay)
                continue
            outcome = "timed_out" if isinstance(exc, EffectTimeout) else "error"
            report(EffectOutcome(cmd.eid, None, exc, n, started, now(), outcome))
            return
        except BaseException as exc:
            if not is_stray(exc):
                raise
            # not ours: contained here, so the case fails instead of the
            # exception tearing through the case nursery
            err = escaped(exc, f"effect {cmd.kind!r} of task {cmd.name!r}")
            report(EffectEscaped(cmd.eid, err, n, started, now()))
            return
        report(EffectOutcome(cmd.eid, result, None, n, started, now(), "ok"))
        return
