"""The pattern algebra: immutable workflow terms and their smart constructors.

Every workflow is a term built from the constructors in this module (the
kernel of the van der Aalst control-flow patterns).  Terms are frozen,
slotted attrs classes: hashable, comparable and printable as the constructor
calls that build them, at any depth of nesting.  The constructors and the
term classes themselves validate their arguments and raise
:class:`TermError` naming the offending node and argument, so a malformed
workflow never reaches the compiler.

This module is the public face of :mod:`wftrio.algebra` (nodes,
constructors, policies, :func:`machine`, the state machine of WCP-10, and
:func:`threads`, the thread split and merge of WCP-42/41);
it imports nothing else from the package.
"""

from __future__ import annotations

from wftrio.algebra.call_node import Call
from wftrio.algebra.constructors import (
    after,
    branch,
    choice,
    defer,
    join,
    loop,
    mi,
    on_signal,
    par,
    region,
    seq,
    task,
    terminate,
    wait_signal,
    xor,
)
from wftrio.algebra.machine import END, machine
from wftrio.algebra.mi_node import MI
from wftrio.algebra.nodes import (
    After,
    Branch,
    Defer,
    Join,
    Loop,
    OnSignal,
    Region,
    Seq,
    Task,
    TaskOptions,
    Term,
    Terminate,
    WaitSignal,
    Xor,
    walk,
)
from wftrio.algebra.nodes import (
    Cond as Cond,
)
from wftrio.algebra.nodes import (
    Ctx as Ctx,
)
from wftrio.algebra.nodes import (
    TaskFn as TaskFn,
)
from wftrio.algebra.nodes import (
    node_label as node_label,
)
from wftrio.algebra.policies import First, Retry, first
from wftrio.algebra.policies import JoinPolicy as JoinPolicy
from wftrio.algebra.sync import Halt, halt
from wftrio.algebra.threads import Threads, threads
from wftrio.errors import TermError, TermTypeError, WftrioError

__all__ = [
    "END",
    "Call",
    "MI",
    "After",
    "Branch",
    "Defer",
    "First",
    "Halt",
    "Join",
    "Loop",
    "OnSignal",
    "Region",
    "Retry",
    "Seq",
    "Task",
    "TaskOptions",
    "Term",
    "TermError",
    "TermTypeError",
    "Terminate",
    "Threads",
    "WaitSignal",
    "WftrioError",
    "Xor",
    "after",
    "branch",
    "choice",
    "defer",
    "first",
    "halt",
    "join",
    "loop",
    "machine",
    "mi",
    "on_signal",
    "par",
    "region",
    "seq",
    "task",
    "terminate",
    "threads",
    "wait_signal",
    "walk",
    "xor",
]
