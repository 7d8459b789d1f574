"""Figures 9, 9b and 9c: effects (async task functions) on a substrate, against raw trio.

Every branch of the measured ``par`` is an async task function that awaits
``trio.sleep(0)`` and returns a one-key dict.  The case runs on an open
substrate at trace level ``min`` with receipts (always recorded for an
effect), from ``new_case`` to the end of ``wait``; the baseline is a trio
nursery of the same number of tasks calling the same functions on a
read-only view of the same ctx and merging their dicts into one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

import trio

from wftrio.bench._report import figure
from wftrio.bench._timing import SHORT_SAMPLES, best_of_async, ratio
from wftrio.bench._workloads import check
from wftrio.runtime import Substrate, open_substrate
from wftrio.terms import Term, par, task

__all__ = [
    "SMALL_KEYS",
    "bench_effect",
    "bench_effect_ctx",
    "bench_effect_marginal",
    "case_run",
    "effect_fns",
    "effect_term",
]

EffectFn = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]

SMALL_KEYS = 8
"""The ctx size figures 9b and 9c compare a large ctx with (figure 9's own)."""


def _effect(i: int) -> EffectFn:
    key = f"r{i}"

    async def effect(ctx: Mapping[str, Any]) -> dict[str, Any]:
        await trio.sleep(0)  # noqa: ASYNC115 - the await the target names
        return {key: i}

    effect.__name__ = f"effect_{i}"
    return effect


def effect_fns(n: int) -> list[EffectFn]:
    """``n`` async task functions, each awaiting ``trio.sleep(0)`` and returning ``{"r<i>": i}``."""
    return [_effect(i) for i in range(n)]


def effect_term(fns: list[EffectFn]) -> Term:
    """A ``par`` of one effect task per function (AND-join)."""
    return par(*(task(f"e{i}", fn) for i, fn in enumerate(fns)))


def big_ctx(keys: int) -> dict[str, Any]:
    """A ctx of ``keys`` small int values."""
    return {f"c{i}": i for i in range(keys)}


def _raw(fns: list[EffectFn], ctx: Mapping[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The baseline: a nursery of ``len(fns)`` tasks calling the same functions."""

    async def once() -> dict[str, Any]:
        data = dict(ctx)
        view = MappingProxyType(data)

        async def one(fn: EffectFn) -> None:
            data.update(await fn(view))

        async with trio.open_nursery() as nursery:
            for fn in fns:
                nursery.start_soon(one, fn)
        return data

    return once


def case_run(
    sub: Substrate, term: Term, ctx: Mapping[str, Any]
) -> Callable[[], Awaitable[Mapping[str, Any]]]:
    """The measured side: one case of ``term`` on ``sub``, from ``new_case`` to ``wait``.

    ``tools/opcount.py`` counts the same.
    """

    async def once() -> Mapping[str, Any]:
        cid = await sub.new_case(term, ctx)
        res = await sub.wait(cid)
        sub.forget(cid)
        return res.ctx  # not copied: what the figure times ends with wait

    return once


async def _measure(
    n: int, ctxs: Mapping[str, Mapping[str, Any]], repeat: int, raw: bool
) -> dict[str, float]:
    """Best time per ``par`` of ``n`` effects for each ctx (and the raw nursery on the first)."""
    fns = effect_fns(n)
    term = effect_term(fns)
    out: dict[str, float] = {}
    async with open_substrate(trace_level="min") as sub:
        runs = {name: case_run(sub, term, ctx) for name, ctx in ctxs.items()}
        first = next(iter(ctxs))
        if raw:
            runs["raw"] = _raw(fns, ctxs[first])
        want = await _raw(fns, ctxs[first])()
        check(await runs[first]() == want, "the case and the raw nursery disagree on the ctx")
        times = await best_of_async(list(runs.values()), repeat)
        out.update(zip(runs, times, strict=True))
    return out


def bench_effect(n: int, repeat: int) -> dict[str, Any]:
    """Figure 9: ``par`` of ``n`` effects on a substrate vs a raw nursery of ``n`` tasks."""
    samples = repeat * SHORT_SAMPLES
    t = trio.run(_measure, n, {"small": big_ctx(SMALL_KEYS)}, samples, True)
    return figure(
        f"par of {n} effects (await sleep(0), return a dict), trace min, receipts / "
        f"trio nursery of {n} tasks doing the same, per branch",
        t["small"] / n * 1e6,
        t["raw"] / n * 1e6,
        "us/branch",
        "<= 2",
        ratio(t["small"], t["raw"]) <= 2,
        n=n,
        samples=samples,
        engine_s=t["small"],
        baseline_s=t["raw"],
    )


def bench_effect_ctx(n: int, keys: int, repeat: int) -> dict[str, Any]:
    """Figure 9b: figure 9's whole case with a ctx of ``keys`` keys vs 8 keys (a scaling row).

    Issue 12's "ctx size 8 / 10k" scaling row, reported: the whole case
    includes what ``new_case`` does once per case with its initial ctx
    (the str-key check, the scan for values to freeze, the copy; the
    snapshot the effects share), linear in the ctx and independent of the
    number of effects.  ``start_ns_per_key`` is that difference per key.
    Whether an *effect's* cost grows with the ctx is figure 9c's target.
    """
    samples = repeat * SHORT_SAMPLES
    ctxs = {"small": big_ctx(SMALL_KEYS), "large": big_ctx(keys)}
    t = trio.run(_measure, n, ctxs, samples, False)
    return figure(
        f"par of {n} effects, whole case (new_case copies and checks the ctx once), per "
        f"branch: ctx of {keys:,} keys / ctx of {SMALL_KEYS} keys",
        t["large"] / n * 1e6,
        t["small"] / n * 1e6,
        "us/branch",
        "reported (the per-effect target is 9c)",
        None,
        n=n,
        keys=keys,
        samples=samples,
        small_s=t["small"],
        large_s=t["large"],
        start_ns_per_key=max(t["large"] - t["small"], 0.0) / (keys - SMALL_KEYS) * 1e9,
    )


def bench_effect_marginal(n: int, keys: int, repeat: int) -> dict[str, Any]:
    """Figure 9c: what one more effect branch costs, with a ctx of ``keys`` keys vs 8 keys.

    The marginal cost per branch, ``(T(par of n) - T(par of n // 10)) /
    (n - n // 10)``, at each ctx size: what a case pays per start (the
    copy and the checks of its initial ctx, the snapshot its effects
    share) cancels out, so the ratio shows whether an effect's own cost
    (request, receipt hashes, idempotency key, merge) grows with the ctx.
    """
    few = max(n // 10, 1)
    ctxs = {"small": big_ctx(SMALL_KEYS), "large": big_ctx(keys)}
    # a difference of two times: at least 3 rounds each, so that one slow
    # round of the small par cannot make it vanish (as --quick's single round can)
    rounds = max(repeat, 3)
    many_t = trio.run(_measure, n, ctxs, rounds, False)
    few_t = trio.run(_measure, few, ctxs, rounds, False)
    per = {k: max(many_t[k] - few_t[k], 0.0) / (n - few) for k in ctxs}
    return figure(
        f"marginal cost of an effect branch (par of {n} vs par of {few}): ctx of {keys:,} "
        f"keys / ctx of {SMALL_KEYS} keys",
        per["large"] * 1e6,
        per["small"] * 1e6,
        "us/branch",
        "<= 1.2",
        ratio(per["large"], per["small"]) <= 1.2,
        n=n,
        few=few,
        keys=keys,
        large_s={"many": many_t["large"], "few": few_t["large"]},
        small_s={"many": many_t["small"], "few": few_t["small"]},
    )
