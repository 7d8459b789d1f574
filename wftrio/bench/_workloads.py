"""The workloads the engine figures run: pure tasks, terms built from them, plain loops.

Every pure task is one of eight functions ``step(ctx) -> {key: ctx[key] + 1}``
(keys ``k0`` .. ``k7``): a ctx read through the read-only view, an
addition, a fresh dict of updates.  The equal-work baselines call the same
functions and merge their results by hand (:func:`direct_loop`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from wftrio.engine import ExecState, Status
from wftrio.engine.program import Program
from wftrio.terms import Term, branch, loop, par, region, seq, task, walk, xor

__all__ = [
    "FNS",
    "TaskFn",
    "blocked_case",
    "check",
    "count_nodes",
    "ctx0",
    "direct_loop",
    "incrementer",
    "mixed_term",
    "run_case",
    "seq_term",
]

TaskFn = Callable[[Mapping[str, Any]], dict[str, Any]]


def check(ok: bool, message: str) -> None:
    """Raise ``RuntimeError`` unless ``ok``: a broken engine cannot produce a good figure."""
    if not ok:
        raise RuntimeError(f"bench workload: {message}")


def incrementer(key: str) -> TaskFn:
    """A pure task function adding 1 to ``ctx[key]``."""

    def step(ctx: Mapping[str, Any]) -> dict[str, Any]:
        return {key: ctx[key] + 1}

    step.__name__ = f"inc_{key}"
    return step


_KEYS = tuple(f"k{i}" for i in range(8))
FNS: tuple[TaskFn, ...] = tuple(incrementer(k) for k in _KEYS)
"""The eight task functions every engine workload uses."""


def ctx0() -> dict[str, Any]:
    """The initial ctx: every key at 0."""
    return dict.fromkeys(_KEYS, 0)


def seq_term(n: int) -> Term:
    """A ``seq`` of ``n`` pure tasks (figures 1 and 6)."""
    return seq(*(task(f"t{i}", FNS[i % len(FNS)]) for i in range(n)))


def _even(ctx: Mapping[str, Any]) -> bool:
    return bool(ctx["k0"] % 2 == 0)


def _block(i: int) -> Term:
    """A block of nodes mixing every control construct a pure run exercises."""
    f = FNS
    return seq(
        task(f"a{i}", f[0]),
        par(task(f"b{i}", f[1]), task(f"c{i}", f[2])),
        xor(branch(_even, task(f"d{i}", f[3])), task(f"e{i}", f[4])),
        loop(task(f"f{i}", f[5]), times=2),
        region(f"r{i}", task(f"g{i}", f[6])),
    )


def count_nodes(term: Term) -> int:
    """The number of nodes of ``term`` (as counted by ``walk``)."""
    return sum(1 for _ in walk(term))


def mixed_term(nodes: int) -> Term:
    """A pure term of about ``nodes`` nodes, a ``seq`` of :func:`_block` s (figures 5a, 5b)."""
    per_block = count_nodes(_block(0))
    return seq(*(_block(i) for i in range(max(2, (nodes - 1) // per_block))))


def run_case(prog: Program, ctx: Mapping[str, Any], level: str = "none") -> ExecState:
    """Run one case of ``prog`` on the bare reducer to the end; it must end DONE."""
    st = ExecState(prog, ctx, trace_level=level)
    status = st.run()
    check(status is Status.DONE, f"bench case ended {status}: {st.error!r}")
    return st


def blocked_case(prog: Program) -> ExecState:
    """Run one case of ``prog`` until it blocks (figure 4); it must block."""
    st = ExecState(prog, None, trace_level="none")
    status = st.run()
    check(status is Status.BLOCKED, f"bench case ended {status}, expected it to block")
    return st


def direct_loop(fns: Sequence[TaskFn], ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The equal-work baseline: the same calls and ctx updates, by hand."""
    data = dict(ctx)
    view = MappingProxyType(data)
    update = data.update
    for fn in fns:
        update(fn(view))
    return data
