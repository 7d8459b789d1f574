"""Property: random workflows with random effect outcomes replay their receipts exactly.

Random terms (``wftrio.testing.strategies.terms(effects=True)``) get random
effect policies (async function or ``Effect`` spec, kind, timeout, retry,
on_error), random region allowlists and a random case budget; every effect
attempt takes a random time and fails at random (decided by its idempotency
key and attempt number), and regions are cancelled at random moments.  The
case runs on the real runtime under a MockClock; replaying its trace must
give byte-identical receipts (and the same ctx and final state) without
calling a single effect again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import wftrio as wf
import wftrio.terms as wt
from wftrio.runtime._types import CaseOptions
from wftrio.testing.strategies import terms

# validation is not what this property is about (and may reject random terms)
NO_VALIDATE: dict[str, Any] = (
    {"validate": False} if "validate" in attrs.fields_dict(CaseOptions) else {}
)
KINDS = ("k1", "k2")


def rebuild(
    t: wt.Term,
    on_task: Callable[[wt.Task], wt.Term],
    on_region: Callable[[str, wt.Term, wt.Term | None], wt.Term],
) -> wt.Term:
    """Rebuild ``t`` through the constructors, mapping tasks and regions."""

    def rb(x: wt.Term) -> wt.Term:
        return rebuild(x, on_task, on_region)

    def alt(b: wt.Branch) -> wt.Term:
        return rb(b.term) if b.cond is None else wt.branch(b.cond, rb(b.term))

    if isinstance(t, wt.Task):
        return on_task(t)
    if isinstance(t, wt.Seq):
        return wt.seq(*map(rb, t.terms))
    if isinstance(t, wt.Join):
        return wt.join(t.policy, *map(alt, t.branches))
    if isinstance(t, wt.Xor):
        return wt.xor(*map(alt, t.alternatives))
    if isinstance(t, wt.Loop):
        return wt.loop(rb(t.body), times=t.times, while_=t.while_, until=t.until)
    if isinstance(t, wt.Defer):
        return wt.defer(
            *(
                wt.on_signal(a.name, rb(a.term))
                if isinstance(a, wt.OnSignal)
                else wt.after(a.seconds, rb(a.term))
                for a in t.alternatives
            )
        )
    if isinstance(t, wt.Region):
        return on_region(t.scope_id, rb(t.term), None if t.compensate is None else rb(t.compensate))
    if isinstance(t, wt.MI):
        items = t.items
        return wt.mi(
            rb(t.body),
            count=t.count,
            items=list(items) if isinstance(items, tuple) else items,
            join=t.join,
            collect=t.collect,
            item_key=t.item_key,
        )
    return t  # wait_signal, terminate


class World:
    """Effect outcomes decided by (seed, idempotency key, attempt)."""

    def __init__(self, seed: int, originals: dict[str, Callable[..., Any]]) -> None:
        self.seed = seed
        self.originals = originals
        self.calls = 0

    async def behave(self, ectx: wf.EffectContext) -> None:
        self.calls += 1
        rng = random.Random(f"{self.seed}:{ectx.key}:{ectx.attempt}")
        await trio.sleep(rng.choice((0.0, 0.5, 1.0, 2.5)))
        if rng.random() < 0.3:
            raise ConnectionError(f"{ectx.task} attempt {ectx.attempt}")

    async def handle(self, effect: wf.Effect, ectx: wf.EffectContext) -> Any:
        await self.behave(ectx)
        return await self.originals[ectx.task](ectx.ctx)

    def wrap(self, name: str) -> Callable[..., Any]:
        original = self.originals[name]

        async def fn(ctx: Mapping[str, Any]) -> Any:
            await self.behave(wf.current_effect())
            return await original(ctx)

        fn.__qualname__ = f"world({name!r})"
        return fn


def _as_async(fn: Callable[..., Any]) -> Callable[..., Any]:
    async def afn(ctx: Mapping[str, Any]) -> Any:
        return fn(ctx)

    return afn


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[wt.Term, World, dict[str, Any], list[tuple[float, str]]]:
    base = draw(terms(effects=True, signals=False, max_leaves=10, max_depth=3, valid=False))
    world = World(draw(st.integers(0, 2**16)), {})
    regions: list[str] = []

    def on_task(t: wt.Task) -> wt.Term:
        if not t.is_effect and t.fn.__qualname__.startswith("bump('loop"):
            # a generated loop's counter: as an effect that a budget or an
            # allowlist refuses (compensated by on_error), the loop would
            # never end, and a busy case never lets MockClock advance
            return t
        if not t.is_effect:
            role = draw(st.sampled_from(("pure", "effect", "pure", "audit", "effect")))
            if role == "pure":
                return t
            if role == "audit":
                return wt.task(t.name, t.fn, kind="audit")
            world.originals[t.name] = _as_async(t.fn)
        else:
            world.originals[t.name] = t.fn
        kind = draw(st.sampled_from(KINDS))
        opts: dict[str, Any] = {
            "timeout": draw(st.sampled_from((None, None, 1.5))),
            "retry": draw(st.sampled_from((None, wf.Retry(2, 0.5), wf.Retry(3, 0.25)))),
            "on_error": draw(st.sampled_from((None, wt.task(f"{t.name}_undo", lambda c: None)))),
            "cost": draw(st.sampled_from((None, 1.0))),
        }
        if draw(st.booleans()):
            name = t.name

            def spec(ctx: Mapping[str, Any]) -> wf.Effect:
                return wf.Effect(kind, {"task": name})

            return wt.task(t.name, spec, **opts)
        return wt.task(t.name, world.wrap(t.name), kind=kind, **opts)

    def on_region(sid: str, body: wt.Term, comp: wt.Term | None) -> wt.Term:
        regions.append(sid)
        allow = draw(st.sampled_from((None, None, {"k1"}, set(KINDS))))
        return wt.region(sid, body, compensate=comp, allow=allow)

    term = rebuild(base, on_task, on_region)
    options: dict[str, Any] = {
        "budget": draw(
            st.sampled_from(
                (None, wf.Budget(max_effects=3), wf.Budget(max_time=2.0), wf.Budget(max_cost=1))
            )
        ),
        "allow": draw(st.sampled_from((None, None, {"k1", "k2", "audit"}, {"k2"}))),
    }
    cancels = []
    if regions:
        for _ in range(draw(st.sampled_from((1, 0, 2)))):
            at = draw(st.sampled_from((0.75, 0.25, 2.0)))
            cancels.append((at, draw(st.sampled_from(regions))))
    return term, world, options, cancels


def run_and_replay(
    term: wt.Term, world: World, options: dict[str, Any], cancels: list[tuple[float, str]]
) -> tuple[wf.CaseResult, wf.CaseResult, list[wf.Receipt], list[wf.Receipt], int]:
    async def outcome(sub: wf.Substrate, cid: str) -> wf.CaseResult:
        try:
            return await sub.wait(cid)
        except (wf.CaseFailed, wf.CaseCancelled) as exc:
            res: wf.CaseResult = exc.result
            return res

    async def main() -> Any:
        async with wf.open_substrate(effect_handler=world) as sub:
            cid = await sub.new_case(term, {}, **options, **NO_VALIDATE)
            async with trio.open_nursery() as nursery:

                async def canceller() -> None:
                    for at, sid in sorted(cancels):
                        await trio.sleep_until(at)
                        try:
                            await sub.cancel_region(cid, sid)
                        except wf.WftrioError:
                            return  # the case has finished

                nursery.start_soon(canceller)
                original = await outcome(sub, cid)
                nursery.cancel_scope.cancel()
            calls = world.calls
            log = wf.replay_log(original.trace)
            first = sub.receipts(cid)
            sub.forget(cid)  # the replay continues the recorded case, under its id
            rid = await sub.new_case(term, {}, scheduler=wf.Replay(log), **options, **NO_VALIDATE)
            replayed = await outcome(sub, rid)
            assert world.calls == calls, "the replay ran an effect"
            return original, replayed, first, sub.receipts(rid), calls

    result: Any = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return result  # type: ignore[no-any-return]


@given(scenarios())
def test_replay_reproduces_receipts_exactly(
    scenario: tuple[wt.Term, World, dict[str, Any], list[tuple[float, str]]],
) -> None:
    term, world, options, cancels = scenario
    original, replayed, first, again = run_and_replay(term, world, options, cancels)[:4]
    assert [r.to_json() for r in again] == [r.to_json() for r in first]
    assert replayed.state is original.state
    assert replayed.ctx == original.ctx
    effects = [ev for ev in original.trace if ev.kind == "effect_requested"]
    outcomes = [r for r in first if r.source == "effect"]
    # every requested effect has exactly one receipt of a run outcome (a case
    # that ends while effects are in flight withdraws them: cancelled)
    ran = [r for r in outcomes if r.outcome not in ("disallowed", "over_budget")]
    assert sorted(r.causal_id for r in ran) == sorted(ev.data["causal_id"] for ev in effects)
    assert all(r.attempts == 0 for r in outcomes if r not in ran)
