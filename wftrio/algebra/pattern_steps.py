"""The step functions of the derived patterns that keep state in the ctx.

Interleaved routing, critical sections and state machines keep their bookkeeping in a ctx
entry and update it with small step functions.  Each is a frozen value (two
identical calls build equal terms, and so the same Program fingerprint) whose
``repr`` names its role.  They are pure, total and cheap, so the validator
trusts them and runs them on its abstract ctx
(:data:`wftrio.validation.abstract.is_trusted` names this module).
"""

from __future__ import annotations

from typing import Any

import attrs

from wftrio.algebra.nodes import Ctx

__all__ = [
    "Claim",
    "End",
    "Ended",
    "Goto",
    "InState",
    "Must",
    "NotOwner",
    "Release",
    "Runs",
    "Skip",
    "Start",
    "StepDone",
    "TryAcquire",
]


# The bookkeeping of interleaved routing.  Each step is a frozen value (two
# identical calls build equal terms) defined here, so the
# validator trusts it and runs it on its abstract ctx (validation/abstract.py).
# While the pattern runs, ctx[key] is {"order": [...], "progress": [...], "claim": i | None}.


def _state(ctx: Ctx, key: str) -> dict[str, Any]:
    s: dict[str, Any] = ctx[key]
    return s


@attrs.frozen(repr=False)
class Start:
    key: str
    m: int

    def __call__(self, ctx: Ctx) -> dict[str, Any]:
        return {self.key: {"order": [], "progress": [0] * self.m, "claim": None}}

    def __repr__(self) -> str:
        return f"{self.key}:start"


@attrs.frozen(repr=False)
class StepDone:
    key: str

    def __call__(self, ctx: Ctx) -> dict[str, Any]:
        s = _state(ctx, self.key)
        c = s["claim"]
        progress = list(s["progress"])
        progress[c] += 1
        return {self.key: {"order": [*s["order"], c], "progress": progress, "claim": None}}

    def __repr__(self) -> str:
        return f"{self.key}:step_done"


@attrs.frozen(repr=False)
class End:
    key: str

    def __call__(self, ctx: Ctx) -> dict[str, Any]:
        return {self.key: list(_state(ctx, self.key)["order"])}

    def __repr__(self) -> str:
        return f"{self.key}:end"


@attrs.frozen(repr=False)
class Skip:
    """Chain ``i`` is skipped this round: a chain is claimed, or ``i`` is exhausted."""

    key: str
    i: int
    sizes: tuple[int, ...]

    def __call__(self, ctx: Ctx) -> bool:
        s = _state(ctx, self.key)
        return s["claim"] is not None or s["progress"][self.i] >= self.sizes[self.i]

    def __repr__(self) -> str:
        return f"{self.key}:skip[{self.i}]"


@attrs.frozen(repr=False)
class Must:
    """Chain ``i`` must be claimed: no later chain has a step left."""

    key: str
    i: int
    sizes: tuple[int, ...]

    def __call__(self, ctx: Ctx) -> bool:
        p = _state(ctx, self.key)["progress"]
        return all(p[j] >= self.sizes[j] for j in range(self.i + 1, len(self.sizes)))

    def __repr__(self) -> str:
        return f"{self.key}:must[{self.i}]"


@attrs.frozen(repr=False)
class Claim:
    key: str
    i: int

    def __call__(self, ctx: Ctx) -> dict[str, Any]:
        return {self.key: {**_state(ctx, self.key), "claim": self.i}}

    def __repr__(self) -> str:
        return f"{self.key}:claim[{self.i}]"


@attrs.frozen(repr=False)
class Runs:
    """Step ``j`` of chain ``i`` is the one to run now."""

    key: str
    i: int
    j: int

    def __call__(self, ctx: Ctx) -> bool:
        s = _state(ctx, self.key)
        return bool(s["claim"] == self.i and s["progress"][self.i] == self.j)

    def __repr__(self) -> str:
        return f"{self.key}:runs[{self.i}][{self.j}]"


# The lock steps of a critical section: frozen values defined here
# (trusted by the validator, equal when built for the same section).


@attrs.frozen(repr=False)
class TryAcquire:
    key: str
    sid: str

    def __call__(self, ctx: Ctx) -> dict[str, Any] | None:
        return {self.key: self.sid} if ctx.get(self.key) is None else None

    def __repr__(self) -> str:
        return f"{self.sid}:try_acquire"


@attrs.frozen(repr=False)
class NotOwner:
    key: str
    sid: str

    def __call__(self, ctx: Ctx) -> bool:
        return ctx.get(self.key) != self.sid

    def __repr__(self) -> str:
        return f"{self.sid}:not_owner"


@attrs.frozen(repr=False)
class Release:
    key: str
    sid: str

    def __call__(self, ctx: Ctx) -> dict[str, Any] | None:
        return {self.key: None} if ctx.get(self.key) == self.sid else None

    def __repr__(self) -> str:
        return f"{self.sid}:release"


# The steps of a state machine (WCP-10, wftrio.algebra.machine): ctx[key] holds
# the current state's name, or END once the machine has ended.


@attrs.frozen(repr=False)
class InState:
    """The machine is in ``state``: the dispatch condition of that state's branch."""

    key: str
    state: str

    def __call__(self, ctx: Ctx) -> bool:
        return bool(ctx.get(self.key) == self.state)

    def __repr__(self) -> str:
        return f"{self.key}=={self.state}"


@attrs.frozen(repr=False)
class Ended:
    """The machine has taken a transition to its end: the loop's ``until``."""

    key: str
    end: str

    def __call__(self, ctx: Ctx) -> bool:
        return bool(ctx.get(self.key) == self.end)

    def __repr__(self) -> str:
        return f"{self.key}:ended"


@attrs.frozen(repr=False)
class Goto:
    """Take a transition: ``ctx[key] = target``."""

    key: str
    source: str
    target: str

    def __call__(self, ctx: Ctx) -> dict[str, Any]:
        return {self.key: self.target}

    def __repr__(self) -> str:
        return f"{self.key}:{self.source}->{self.target}"
