"""A case's child tasks: effects, timers, and the region scopes hosting them.

The tree under one case runner::

    case runner task
    └── case nursery (open only while the case has a live child)
        ├── timer tasks                 one per pending ``after`` alternative
        ├── effect tasks outside any region
        └── region host task            one per region activation with live effects
            └── region nursery          its cancel scope *is* the region's scope
                ├── effect tasks in the region
                └── region host task    a nested region activation
                    └── ...

Region hosts exist only while they hold a live child: the first effect
started in a region activation creates the hosts along its path (outermost
first, as ``StartEffect.regions`` lists them); a host's nursery closes when
its last child ends.  Cancelling a region cancels its host's nursery scope,
so every effect in it and in every nested region receives ``trio.Cancelled``
and runs its cleanup.  Each timer, and each effect inside a region, also
has its own cancel scope, cancelled when the reducer withdraws it alone
(``CancelEffect`` / ``CancelTimer``: a join's ``cancel_rest``, whose
branches run in a region of their own, a region's cancellation, a deferred
choice decided by another trigger).

An effect outside every region has no scope of its own (entering one costs
about a sixth of an effect): the reducer withdraws such an effect only when
the whole case ends (``withdraw_all``: ``terminate``, a failure, a cancel),
and the runner then cancels the case nursery, which cancels it.  Its
withdrawal is still marked at once (its report is dropped).  A withdrawal
of such an effect while the case goes on would be an engine change this
module does not support: it fails the case with an ``EngineError`` rather
than leave the effect running.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from wftrio.effects import Handler, bind_lazy_list, no_handler
from wftrio.engine import StartEffect
from wftrio.errors import EffectTimeout, EngineError
from wftrio.runtime._effects import escaped, is_stray, run_effect
from wftrio.runtime._messages import (
    EffectEscaped,
    EffectOutcome,
    EffectRetry,
    Message,
    TimerFired,
)

__all__ = ["Children", "Counters", "Host"]

_new = tuple.__new__

_EFFECT_TASK = "wftrio.runtime._children.Children._effect"
"""The trio name of every effect task (what trio would format from the method)."""


class Counters:
    """Substrate-wide counters the runners update (read by ``sub.stats()``)."""

    __slots__ = (
        "case_cancel_count",
        "case_cancel_max",
        "case_cancel_sum",
        "effect_cancel_count",
        "effect_cancel_max",
        "effect_cancel_sum",
        "effect_retries",
        "effects_cancelled",
        "effects_completed",
        "effects_started",
        "signals",
        "steps",
    )

    def __init__(self) -> None:
        self.steps = 0
        self.effects_started = 0
        self.effects_completed = 0
        self.effects_cancelled = 0
        self.effect_retries = 0
        self.signals = 0
        self.effect_cancel_count = 0
        self.effect_cancel_sum = 0.0
        self.effect_cancel_max = 0.0
        self.case_cancel_count = 0
        self.case_cancel_sum = 0.0
        self.case_cancel_max = 0.0

    def effect_cancel_latency(self, seconds: float) -> None:
        self.effect_cancel_count += 1
        self.effect_cancel_sum += seconds
        self.effect_cancel_max = max(self.effect_cancel_max, seconds)

    def case_cancel_latency(self, seconds: float) -> None:
        self.case_cancel_count += 1
        self.case_cancel_sum += seconds
        self.case_cancel_max = max(self.case_cancel_max, seconds)


class Host:
    """A nursery that children run in: the case nursery or a region's.

    ``live`` counts children started and not finished (including those
    queued in ``pending`` before the nursery is open).  A region host is
    dropped from ``Children.hosts`` when ``live`` falls to 0; its nursery
    then closes, and nothing is started in it again.  ``pending`` holds
    ``(fn, args, name)`` for a child, and an effect outside every region
    with no attempt made before as its ``StartEffect`` alone (no tuple of
    arguments per effect).
    """

    __slots__ = ("cancelled", "kids", "live", "nursery", "pending", "rid")

    def __init__(self, kids: Children, rid: int | None) -> None:
        self.kids = kids
        self.rid = rid
        self.nursery: trio.Nursery | None = None
        self.pending: (
            list[tuple[Callable[..., Awaitable[None]], tuple[Any, ...], str | None] | StartEffect]
            | None
        ) = None
        self.live = 0
        self.cancelled = False

    def spawn(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Start ``fn(*args)`` as a child (queued until the nursery is open)."""
        self.start(self._child, fn, args)

    def start(
        self, fn: Callable[..., Awaitable[None]], *args: Any, name: str | None = None
    ) -> None:
        """Start ``fn(*args)``, which calls :meth:`child_done` when it ends, as a child.

        :meth:`spawn` without the wrapping coroutine, for the effect tasks:
        one coroutine fewer per effect.  ``name``: the trio task's name
        (given, trio does not format one from ``fn`` per task).
        """
        self.live += 1
        if self.nursery is not None:
            self.nursery.start_soon(fn, *args, name=name)
        elif self.pending is None:
            self.pending = [(fn, args, name)]
        else:
            self.pending.append((fn, args, name))

    def open(self, nursery: trio.Nursery) -> None:
        """Attach the nursery and start the queued children."""
        self.nursery = nursery
        if self.cancelled:
            nursery.cancel_scope.cancel()
        pending, self.pending = self.pending, None
        if pending:
            effect = self.kids._effect
            for p in pending:
                if isinstance(p, StartEffect):  # a plain effect (Children.start_effect)
                    nursery.start_soon(effect, p, self, 0, name=_EFFECT_TASK)
                else:
                    fn, args, name = p
                    nursery.start_soon(fn, *args, name=name)

    def cancel(self) -> None:
        """Cancel the host's scope (every child, nested hosts included)."""
        self.cancelled = True
        if self.nursery is not None:
            self.nursery.cancel_scope.cancel()

    def child_done(self) -> None:
        """A child started with :meth:`start` ended."""
        self.live -= 1
        if self.live == 0:
            self.kids.host_empty(self)

    async def _child(self, fn: Callable[..., Awaitable[None]], args: tuple[Any, ...]) -> None:
        try:
            await fn(*args)
        finally:
            self.child_done()

    async def run_region(self) -> None:
        """The body of a region host task."""
        async with trio.open_nursery() as nursery:
            self.open(nursery)
        # the nursery closed: its last child ended

    def __repr__(self) -> str:
        return f"<Host region={self.rid} live={self.live} cancelled={self.cancelled}>"


class Children:
    """The child tasks of one case (created at its first effect or timer).

    Args:
        put: queues a message in the case's inbox, ignoring its capacity.
        wake: wakes the case runner if it waits on its inbox.
        counters: the substrate's counters.
        handler: the case's effect handler (for ``Effect`` specs).
        case_id: the case's id (handed to effects in their context).
        now: the case clock (seconds since the case started).
        clock, t0: that clock as ``clock() - t0``, when the caller has them
            (one call per reading instead of two; ``now`` is then unused by
            the effect tasks' fast path).
    """

    __slots__ = (
        "case_id",
        "clock",
        "counters",
        "effects",
        "handler",
        "held",
        "hosts",
        "now",
        "put",
        "root",
        "scopes",
        "t0",
        "timers",
        "unstarted",
        "wake",
        "withdrawn",
    )

    def __init__(
        self,
        put: Callable[[Message], bool],
        wake: Callable[[], None],
        counters: Counters,
        handler: Handler | None = None,
        case_id: str = "",
        now: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
        t0: float = 0.0,
    ) -> None:
        self.put = put
        self.clock = clock
        self.t0 = t0
        self.wake = wake
        self.counters = counters
        self.handler: Handler = handler if handler is not None else no_handler
        self.case_id = case_id
        self.now: Callable[[], float] = now if now is not None else trio.current_time
        self.root = Host(self, None)
        self.hosts: dict[int, Host] = {}
        # the effects started and not finished, by id; what is rare about
        # one lives beside it: its withdrawal (eid -> trio time of it) and,
        # for an effect in a region, its own cancel scope
        self.effects: dict[int, StartEffect] = {}
        self.withdrawn: dict[int, float] = {}
        self.scopes: dict[int, trio.CancelScope] = {}
        self.timers: dict[int, trio.CancelScope] = {}
        # effect tasks spawned that have not run their first step yet
        self.unstarted = 0
        # effects requested while the reduction still runs: started when it blocks
        self.held: dict[int, tuple[StartEffect, int]] | None = None

    @property
    def live(self) -> int:
        """Children of the case nursery not finished yet."""
        return self.root.live

    def host_empty(self, host: Host) -> None:
        if host.rid is None:
            self.wake()  # the runner may leave its nursery
        elif self.hosts.get(host.rid) is host:
            del self.hosts[host.rid]

    # -- effects -------------------------------------------------------------

    def start_effect(self, cmd: StartEffect, attempts_done: int = 0, *, hold: bool = False) -> None:
        """Start effect ``cmd`` in the innermost region host along ``cmd.regions``.

        ``attempts_done``: attempts made before (a case resumed after a replay).
        ``hold``: the reduction that requested it has not blocked yet; keep
        it until :meth:`settle_held` (withdrawn before that, it never starts,
        as the reducer's ``attempts=0`` receipt says).
        """
        self.start_effects((cmd,), attempts_done, hold=hold)

    def start_effects(
        self, cmds: Sequence[StartEffect], attempts_done: int = 0, *, hold: bool = False
    ) -> None:
        """:meth:`start_effect` for each of ``cmds`` in turn, in one call (a ``par``'s effects)."""
        if hold:
            held = self.held
            if held is None:
                held = self.held = {}
            for cmd in cmds:
                held[cmd.eid] = (cmd, attempts_done)
            return
        effects = self.effects
        effect = self._effect
        root = self.root
        nursery = root.nursery
        for cmd in cmds:
            effects[cmd.eid] = cmd
            regions = cmd.regions
            if regions:
                self.scopes[cmd.eid] = trio.CancelScope()
                host = root
                for rid in regions:
                    h = self.hosts.get(rid)
                    if h is None:
                        h = self.hosts[rid] = Host(self, rid)
                        host.spawn(h.run_region)
                    host = h
                host.start(effect, cmd, host, attempts_done, name=_EFFECT_TASK)
                continue
            root.live += 1  # Host.start inlined for the case nursery (most effects)
            if nursery is not None:
                nursery.start_soon(effect, cmd, root, attempts_done, name=_EFFECT_TASK)
                continue
            # queued as the command alone (Host.open starts it), unless
            # attempts were made before
            item = (effect, (cmd, root, attempts_done), _EFFECT_TASK) if attempts_done else cmd
            if root.pending is None:
                root.pending = [item]
            else:
                root.pending.append(item)
        self.unstarted += len(cmds)
        self.counters.effects_started += len(cmds)

    def settle_held(self, blocked: bool) -> None:
        """The reduction stopped running: start the effects held back if it
        ``blocked``, else (the case ended) drop them: they never start."""
        held, self.held = self.held, None
        if blocked:
            for cmd, attempts_done in (held or {}).values():
                self.start_effect(cmd, attempts_done)

    def cancel_effect(self, eid: int, ending: bool = False) -> None:
        """The reducer withdrew effect ``eid``: cancel it, ignore its result.

        ``ending``: the case is final (the runner cancels the case nursery
        next, which cancels an effect that has no scope of its own).

        Raises:
            EngineError: an effect outside every region was withdrawn while
                the case goes on (see the module docstring).
        """
        held = self.held
        if held is not None and held.pop(eid, None) is not None:
            return
        cmd = self.effects.get(eid)
        if cmd is not None and eid not in self.withdrawn:
            self.withdrawn[eid] = trio.current_time()
            self.counters.effects_cancelled += 1
            scope = self.scopes.get(eid)
            if scope is not None:
                scope.cancel()
            elif not ending:
                raise EngineError(
                    f"effect #{eid} ({cmd.name!r}), outside every region, was withdrawn "
                    "while its case goes on: the runtime cancels such an effect with its case"
                )

    def cancel_regions(self, rids: list[int]) -> None:
        """Cancel the hosts of these region activations (nested ones with them)."""
        for rid in rids:
            h = self.hosts.get(rid)
            if h is not None:
                h.cancel()

    async def until_started(self) -> None:
        """Return once every effect task spawned so far has run its first step.

        The runner calls it before it feeds the case an input: an effect
        started when the reduction blocked has called its function (or seen
        its withdrawal) before anything can withdraw it, so a cancelled
        receipt's ``attempts`` (decided by the reducer) says what happened.
        """
        while self.unstarted:
            await trio.lowlevel.checkpoint()

    async def _effect(self, cmd: StartEffect, host: Host, attempts_done: int) -> None:
        eid = cmd.eid
        withdrawn = self.withdrawn
        self.unstarted -= 1
        try:
            if eid in withdrawn:
                return
            fn = cmd.fn
            if (
                not cmd.regions
                and fn is not None
                and cmd.timeout is None
                and cmd.retry is None
                and cmd.effect is None
            ):
                # the common effect (an async task function outside every
                # region, no timeout, no retry): run_effect's one attempt
                # inlined here, with no coroutine or closure of its own
                # (issue 12, figure 9): the same outcome and context
                clock = self.clock
                if clock is not None:  # the case clock, one call per reading
                    t0 = self.t0
                    started = clock() - t0
                else:
                    now = self.now
                    started = now()
                n = attempts_done + 1
                ctx = cmd.ctx
                # bound in this task's own context (trio copies one per task):
                # the binding ends with the task, so it is never reset
                # (bind_effect_lazily, inlined)
                bind_lazy_list(
                    [None, self.case_id, cmd.causal_id, cmd.key, cmd.name, cmd.kind, n, ctx]
                )
                try:
                    result = await fn(ctx)
                except Exception as exc:
                    msg: EffectOutcome | EffectEscaped = EffectOutcome(
                        cmd.eid,
                        None,
                        exc,
                        n,
                        started,
                        clock() - t0 if clock is not None else now(),
                        "timed_out" if isinstance(exc, EffectTimeout) else "error",
                    )
                except BaseException as exc:
                    if not is_stray(exc):
                        raise
                    # not ours: contained here, so the case fails (see run_effect)
                    err = escaped(exc, f"effect {cmd.kind!r} of task {cmd.name!r}")
                    ended = clock() - t0 if clock is not None else now()
                    msg = EffectEscaped(cmd.eid, err, n, started, ended)
                else:  # tuple.__new__: the NamedTuple without its __new__ call
                    ended = clock() - t0 if clock is not None else now()
                    msg = _new(EffectOutcome, (cmd.eid, result, None, n, started, ended, "ok"))
                if eid not in withdrawn:
                    self.put(msg)
                return

            def report(msg: EffectOutcome | EffectEscaped | EffectRetry) -> None:
                if eid not in withdrawn:
                    if type(msg) is EffectRetry:
                        self.counters.effect_retries += 1
                    self.put(msg)

            scope = self.scopes.get(eid)
            if scope is None:  # cancelled with the case nursery (module docstring)
                await run_effect(cmd, self.handler, self.case_id, self.now, report, attempts_done)
            else:
                with scope:
                    await run_effect(
                        cmd, self.handler, self.case_id, self.now, report, attempts_done
                    )
        finally:
            self.effects.pop(eid, None)
            if withdrawn:  # (rare: the dict is empty until a withdrawal)
                at = withdrawn.pop(eid, None)
                if at is not None:
                    self.counters.effect_cancel_latency(trio.current_time() - at)
            if cmd.regions:
                self.scopes.pop(eid, None)
            live = host.live = host.live - 1  # host.child_done(), inlined
            if live == 0:
                self.host_empty(host)

    # -- timers --------------------------------------------------------------

    def start_timer(self, tid: int, deadline: float, due: float = 0.0) -> None:
        """Fire timer ``tid`` at trio time ``deadline`` (through the inbox).

        ``due``: orders timers firing at one instant before their ids (a
        durable case's overdue timers: their wall-clock deadlines).
        """
        scope = trio.CancelScope()
        self.timers[tid] = scope
        self.root.spawn(self._timer, tid, deadline, scope, due)

    def cancel_timer(self, tid: int) -> None:
        scope = self.timers.pop(tid, None)
        if scope is not None:
            scope.cancel()

    async def _timer(self, tid: int, deadline: float, scope: trio.CancelScope, due: float) -> None:
        try:
            with scope:
                await trio.sleep_until(deadline)
                self.put(TimerFired(tid, due))
        finally:
            if self.timers.get(tid) is scope:
                del self.timers[tid]

    def __repr__(self) -> str:
        return (
            f"<Children live={self.live} effects={len(self.effects)} "
            f"timers={len(self.timers)} regions={len(self.hosts)}>"
        )
