"""The mutable objects a case's execution state is made of.

All are plain slotted classes: the reducer touches them in its hot loop.
Invariants are written next to the fields.  Which field is case state,
which a reference into the object graph and which a shared constant is
declared once, in :mod:`wftrio.engine.schema`; the explorer's copier, the
snapshots, the canonical state keys and the invariant checker follow it.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from wftrio.engine._receipt_records import CtxSnapshot
    from wftrio.engine.protocol import Wait

__all__ = [
    "EMPTY",
    "Frame",
    "JoinInst",
    "LoopFrame",
    "MIInst",
    "CALL_LAYER",
    "CtxLayer",
    "RegionInst",
    "Scope",
    "Token",
]


class _EmptyDict(dict[Any, Any]):
    """A shared dict that stays empty: every mutating method raises TypeError.

    ``ExecState`` starts its rarely used tables (``signals``, ``effects``,
    ``timers``, ``regions``) as :data:`EMPTY` instead of four fresh dicts
    (64 B each per waiting case); the few insertion sites swap in a real dict
    first (``if st.effects is EMPTY: st.effects = {}``).  Reads behave as on
    ``{}``; ``pop(key, default)`` returns the default.  Copying or pickling
    gives :data:`EMPTY` itself, so the identity test keeps working.
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("the shared empty dict EMPTY is read-only")

    __setitem__ = __delitem__ = setdefault = update = popitem = clear = __ior__ = _read_only

    def pop(self, key: Any, *default: Any) -> Any:
        if default:
            return default[0]
        raise KeyError(key)

    def __copy__(self) -> _EmptyDict:
        return self

    def __deepcopy__(self, memo: Any) -> _EmptyDict:
        return self

    def __reduce__(self) -> str:
        return "EMPTY"

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: dict[Any, Any] = _EmptyDict()
"""The shared read-only empty dict (see :class:`_EmptyDict`)."""


CALL_LAYER = -2
"""``CtxLayer.index`` of a called workflow's layer (WCP-22): its ``base`` holds
what ``ctx_in`` mapped in, and its ``view`` reads no enclosing layer."""


class CtxLayer:
    """A layer of ctx: where tasks read ctx from (``view``) and write their updates to (``data``).

    Not to be confused with a cancellation *region* (``scope_id``,
    ``TraceEvent.scope``): a ctx layer is about data, a region about
    cancellation.  The fields that point at a layer are still called
    ``scope`` (``Token.scope``, ``JoinInst.scope``, ...).

    The case has one root layer whose ``data`` *is* the case ctx.  Every
    multiple-instance instance gets a child layer: its ``data`` holds the
    instance's own updates (its result), ``base`` its item and index, and its
    ``view`` reads through to the parent.  ``maps`` are the layers a child
    layer's ``view`` reads, innermost first (empty for the root, whose
    ``view`` reads ``data`` alone).

    ``snap`` caches the root layer's :class:`~wftrio.engine._receipt_records.CtxSnapshot`:
    the copy of the ctx that the effects requested since the last write were
    given, shared by all of them. Every handler that writes to a layer's
    ``data`` sets the layer's ``snap`` to ``None`` first. A child layer never
    caches one (``snap`` stays ``None``), because its view also reads its
    parents, which other tokens write to.
    """

    __slots__ = ("base", "data", "id", "index", "maps", "parent", "snap", "view")

    def __init__(
        self,
        id: int,
        data: dict[str, Any],
        parent: CtxLayer | None = None,
        base: dict[str, Any] | None = None,
        index: int = -1,
    ) -> None:
        self.id = id
        self.data = data
        self.parent = parent
        self.base = base
        self.index = index
        self.snap: CtxSnapshot | None = None
        if parent is None:
            # the root reads its data alone: no layer tuple (48 B per case)
            self.maps: tuple[dict[str, Any], ...] = ()
            self.view: Mapping[str, Any] = MappingProxyType(data)
        else:
            # flattened: an instance reads its own updates, its item/index, then
            # every enclosing layer down to the case ctx
            below = parent.maps or (parent.data,)
            if index == CALL_LAYER:
                # a called workflow's layer (WCP-22) reads nothing of its caller
                below = ()
            self.maps = (data, base if base is not None else {}, *below)
            self.view = MappingProxyType(ChainMap(*self.maps))

    def __repr__(self) -> str:
        return f"<CtxLayer #{self.id} index={self.index}>"


Scope = CtxLayer
"""Deprecated alias of :class:`CtxLayer` (the old name read like a region)."""


class Frame:
    """A control frame on a token's stack (join, loop or MI instance)."""

    __slots__ = ("id", "parent")

    def __init__(self, id: int, parent: Frame | None) -> None:
        self.id = id
        self.parent = parent


class JoinInst(Frame):
    """One activation of a split/join.

    Invariants: ``arrived <= started``; ``fired`` flips once, when
    ``arrived`` first reaches ``needed``; ``cancel_region`` (cancel_rest joins
    only) holds every token of the activation until the join fires.

    A blocking join (``first(n, blocking=True)``, WCP-28/31) also has
    ``site``, the pc of its fork (``-1`` for every other join).  An
    activation forked while the previous activation of the same join (same
    fork, same ctx layer) had not reset is *held*: ``held`` counts
    the arrivals it holds back (``None``: not held), and the previous
    activation's ``blocks`` points at it until it resets (every branch
    arrived, or the ones left were withdrawn).  Then ``held`` becomes
    ``None`` and the held arrivals count.  ``arrived + held <= started``.
    """

    __slots__ = (
        "arrived",
        "blocks",
        "cancel_region",
        "cont",
        "fired",
        "held",
        "needed",
        "region",
        "scope",
        "site",
        "started",
    )

    def __init__(
        self,
        id: int,
        parent: Frame | None,
        region: RegionInst | None,
        scope: CtxLayer,
        needed: int,
        started: int,
        cont: int,
    ) -> None:
        super().__init__(id, parent)
        self.region = region
        self.scope = scope
        self.needed = needed
        self.started = started
        self.arrived = 0
        self.fired = False
        self.cont = cont
        self.cancel_region: RegionInst | None = None
        self.site = -1
        self.held: int | None = None
        self.blocks: JoinInst | None = None


class LoopFrame(Frame):
    """The iteration counter of one activation of a ``loop(times=n)``."""

    __slots__ = ("count",)

    def __init__(self, id: int, parent: Frame | None, count: int = 0) -> None:
        super().__init__(id, parent)
        self.count = count


class MIInst(Frame):
    """One activation of a multiple-instance node.

    ``needed`` is ``None`` for ``join="none"`` (the continuation left at
    spawn time).  ``results`` maps instance index -> that instance's updates.
    ``cancel_region`` (an mi with ``cancel_rest``, ``until`` or signal
    options) is the implicit region holding the instances and watchers,
    withdrawn when the activity is over or completed, or when a cancelling
    join fires (then ``None``).  ``open``: instances may still be added
    (``more_on`` before ``close_on``); while open, ``needed`` of a waiting-
    for-all join follows ``n``, and the join does not fire on it.
    ``completed``: the activity was completed early (``until`` /
    ``complete_on``): nothing is spawned or added any more.

    Instances are spawned one step each, at most ``max_steps`` per handler
    call, so no step does unbounded work: while some are left, ``items``
    holds every item and ``spawned`` counts those spawned (``spawned < n``),
    and the spawning token waits at the ``mi_spawn`` pc with this frame;
    once all are spawned ``items`` is ``None`` and ``spawned == n``.
    """

    __slots__ = (
        "cancel_region",
        "completed",
        "cont",
        "done",
        "fired",
        "items",
        "n",
        "needed",
        "open",
        "region",
        "results",
        "scope",
        "spawned",
    )

    def __init__(
        self,
        id: int,
        parent: Frame | None,
        region: RegionInst | None,
        scope: CtxLayer,
        n: int,
        needed: int | None,
        cont: int,
    ) -> None:
        super().__init__(id, parent)
        self.region = region
        self.scope = scope
        self.n = n
        self.needed = needed
        self.done = 0
        self.fired = needed is None
        self.results: dict[int, dict[str, Any]] = {}
        self.cont = cont
        self.items: list[Any] | None = None
        self.spawned = n
        self.cancel_region: RegionInst | None = None
        self.open = False
        self.completed = False


class RegionInst:
    """One live activation of a cancellation region.

    ``scope_id`` is the user's id, or ``None`` for the implicit region a
    ``first(n, cancel_rest=True)`` join puts its branches in.  ``tokens``
    holds the live tokens whose innermost region this is, ``children`` the
    live nested activations, so withdrawing costs O(size of the region).
    ``exited`` is set when control left the region while late tokens (e.g.
    absorbed discriminator branches) still run in it; such an activation is
    withdrawn without compensation and closes when its last token dies.
    """

    __slots__ = (
        "alive",
        "cancel_pc",
        "children",
        "exited",
        "frame",
        "id",
        "parent",
        "scope",
        "scope_id",
        "tokens",
    )

    def __init__(
        self,
        id: int,
        scope_id: str | None,
        parent: RegionInst | None,
        frame: Frame | None,
        scope: CtxLayer,
        cancel_pc: int,
    ) -> None:
        self.id = id
        self.scope_id = scope_id
        self.parent = parent
        self.frame = frame
        self.scope = scope
        self.cancel_pc = cancel_pc
        self.tokens: dict[Token, None] = {}
        self.children: dict[RegionInst, None] = {}
        self.exited = False
        self.alive = True

    def path(self) -> tuple[int, ...]:
        """Region activation ids from the outermost to this one."""
        out: list[int] = []
        r: RegionInst | None = self
        while r is not None:
            out.append(r.id)
            r = r.parent
        return tuple(reversed(out))

    def __repr__(self) -> str:
        return f"<RegionInst #{self.id} {self.scope_id!r} tokens={len(self.tokens)}>"


class Token:
    """A thread of control at program counter ``pc``.

    ``wait`` is ``None`` while the token is runnable; otherwise what it is
    blocked on, a record of :mod:`wftrio.engine.protocol` (``EffectWait``,
    ``SignalWait`` or ``DeferWait``).  ``alive`` turns false when the
    token dies or is withdrawn.
    """

    __slots__ = ("alive", "frame", "id", "pc", "region", "scope", "wait")

    def __init__(
        self, id: int, pc: int, frame: Frame | None, region: RegionInst | None, scope: CtxLayer
    ) -> None:
        self.id = id
        self.pc = pc
        self.frame = frame
        self.region = region
        self.scope = scope
        self.wait: Wait | None = None
        self.alive = True

    def __hash__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"<Token #{self.id} pc={self.pc} wait={self.wait}>"
