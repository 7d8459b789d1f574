"""Term -> Program: lower a workflow term into a flat instruction table.

One pass over the term (linear in its size).  Each node emits its
instructions and returns its entry program counter and its *exits*: the
instruction fields that must point at whatever runs after the node.  The
parent patches those once it knows the successor (a sequence patches each
child's exits to the next child's entry; a split patches every branch's
exits to its join).  Pure tasks of a sequence therefore land on consecutive
program counters, which is what lets the reducer run them as one fused
straight-line run.

Programs are cached per term (terms are hashable), so a workflow started
many times is compiled once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from wftrio.engine.program import Instr, Program, link
from wftrio.errors import TermTypeError
from wftrio.terms import (
    MI,
    After,
    Defer,
    First,
    Join,
    Loop,
    OnSignal,
    Region,
    Seq,
    Task,
    Term,
    Terminate,
    WaitSignal,
    Xor,
    node_label,
)

__all__ = ["clear_cache", "compile"]

_CACHE: OrderedDict[Term, Program] = OrderedDict()
_CACHE_SIZE = 256

Exit = tuple[int, str]  # (pc, field): "next" or an args key to patch


class _Builder:
    __slots__ = ("ops",)

    def __init__(self) -> None:
        # [op, path, next, args]; frozen into Instr at the end
        self.ops: list[list[Any]] = []

    def emit(self, op: str, path: str, **args: Any) -> int:
        self.ops.append([op, path, -1, args])
        return len(self.ops) - 1

    def patch(self, exits: list[Exit], target: int) -> None:
        for pc, field in exits:
            if field == "next":
                self.ops[pc][2] = target
            else:
                self.ops[pc][3][field] = target

    def node(self, term: Term, path: str) -> tuple[int, list[Exit]]:
        here = f"{path}.{node_label(term)}" if path else node_label(term)
        match term:
            case Task(name=name, fn=fn, is_effect=is_effect):
                if not term.has_options:
                    pc = self.emit("effect" if is_effect else "task", here, name=name, fn=fn)
                    return pc, [(pc, "next")]
                # a task with options: an unfused "step" (sync) or an "effect"
                # carrying its policies; on_error is compiled after it and
                # continues where the task would have
                opts = {
                    k: v
                    for k in ("timeout", "retry", "cost", "kind")
                    if (v := getattr(term, k)) is not None
                }
                pc = self.emit("effect" if is_effect else "step", here, name=name, fn=fn, **opts)
                task_exits: list[Exit] = [(pc, "next")]
                if term.on_error is not None:
                    c, cx = self.node(term.on_error, f"{here}[0]")
                    self.ops[pc][3]["on_error"] = c
                    task_exits += cx
                return pc, task_exits
            case Seq(terms=terms):
                entry = -1
                exits: list[Exit] = []
                for i, t in enumerate(terms):
                    e, x = self.node(t, f"{here}[{i}]")
                    if entry < 0:
                        entry = e
                    else:
                        self.patch(exits, e)
                    exits = x
                return entry, exits
            case Join(policy=policy, branches=branches):
                n: int | None = None
                cancel_rest = False
                if isinstance(policy, First):
                    n, cancel_rest = policy.n, policy.cancel_rest
                fork = self.emit("fork", here, n=n, cancel_rest=cancel_rest)
                jpc = self.emit("join", here)
                entries = []
                for i, br in enumerate(branches):
                    e, x = self.node(br.term, f"{here}[{i}]")
                    self.patch(x, jpc)
                    entries.append(e)
                self.ops[fork][3].update(
                    entries=tuple(entries),
                    conds=tuple(br.cond for br in branches),
                    join_pc=jpc,
                )
                return fork, [(jpc, "next")]
            case Xor(alternatives=alts):
                pc = self.emit("xor", here, conds=tuple(a.cond for a in alts))
                entries = []
                exits = []
                for i, alt in enumerate(alts):
                    e, x = self.node(alt.term, f"{here}[{i}]")
                    entries.append(e)
                    exits += x
                self.ops[pc][3]["entries"] = tuple(entries)
                return pc, exits
            case Loop(body=body, times=times, while_=while_, until=until):
                if times is not None:
                    enter = self.emit("loop_enter", here, times=times)
                    nxt = self.emit("loop_next", here, times=times)
                    bpc, x = self.node(body, f"{here}[0]")
                    self.patch(x, nxt)
                    self.ops[enter][3]["body"] = bpc
                    self.ops[nxt][3]["body"] = bpc
                    return enter, [(enter, "next"), (nxt, "next")]
                if while_ is not None:
                    test = self.emit("loop_test", here, cond=while_, stop_when=False)
                    bpc, x = self.node(body, f"{here}[0]")
                    self.patch(x, test)
                    self.ops[test][3]["body"] = bpc
                    return test, [(test, "next")]
                bpc, x = self.node(body, f"{here}[0]")
                test = self.emit("loop_test", here, cond=until, stop_when=True, body=bpc)
                self.patch(x, test)
                return bpc, [(test, "next")]
            case Defer(alternatives=alts):
                keys: list[tuple[str, Any]] = []
                for trig in alts:
                    if isinstance(trig, OnSignal):
                        keys.append(("signal", trig.name))
                    else:
                        assert isinstance(trig, After)
                        keys.append(("timer", trig.seconds))
                pc = self.emit("defer", here, alts=tuple(keys))
                entries = []
                exits = []
                for i, trig in enumerate(alts):
                    e, x = self.node(trig.term, f"{here}[{i}]")
                    entries.append(e)
                    exits += x
                self.ops[pc][3]["entries"] = tuple(entries)
                return pc, exits
            case WaitSignal(name=name, store_as=store_as):
                pc = self.emit("wait_signal", here, name=name, store_as=store_as)
                return pc, [(pc, "next")]
            case Region(scope_id=sid, term=body, compensate=comp):
                enter = self.emit("region_enter", here, scope_id=sid, cancel_pc=-1)
                if term.allow is not None:
                    self.ops[enter][3]["allow"] = term.allow
                bpc, x = self.node(body, f"{here}[0]")
                ex = self.emit("region_exit", here)
                self.patch(x, ex)
                self.ops[enter][3]["body"] = bpc
                exits = [(ex, "next")]
                if comp is None:
                    exits.append((enter, "cancel_pc"))
                else:
                    c, cx = self.node(comp, f"{here}[1]")
                    self.ops[enter][3]["cancel_pc"] = c
                    exits += cx
                return enter, exits
            case MI(body=body, count=count, items=items, join=join, collect=collect):
                spawn = self.emit(
                    "mi_spawn",
                    here,
                    count=count,
                    items=items,
                    join=join,
                    collect=collect,
                    item_key=term.item_key,
                )
                bpc, x = self.node(body, f"{here}[0]")
                done = self.emit("mi_done", here, collect=collect)
                self.patch(x, done)
                self.ops[spawn][3]["body"] = bpc
                return spawn, [(spawn, "next")]
            case Terminate():
                return self.emit("terminate", here), []
            case _:
                raise TermTypeError(
                    f"compile: {term!r} at {here or 'the root'} is not a term "
                    "built with wftrio's constructors"
                )


def compile(term: Term) -> Program:  # noqa: A001 - the natural name, as re.compile
    """Compile ``term`` into an immutable :class:`Program` (cached per term).

    Raises:
        TermTypeError: ``term`` is not a workflow term.
    """
    if not isinstance(term, Term):
        raise TermTypeError(f"compile: expected a workflow term, got {type(term).__name__}")
    prog = _CACHE.get(term)
    if prog is not None:
        _CACHE.move_to_end(term)
        return prog
    b = _Builder()
    entry, exits = b.node(term, "")
    end = b.emit("end", "end")
    b.patch(exits, end)
    instrs = [Instr(op, path, nxt, args) for op, path, nxt, args in b.ops]
    prog = link(term, instrs, entry)
    _CACHE[term] = prog
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return prog


def clear_cache() -> None:
    """Forget every cached Program."""
    _CACHE.clear()
