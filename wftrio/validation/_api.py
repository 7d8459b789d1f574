"""Validate a workflow before it runs: ``wf.validate(term, **options)``.

Two passes (docs/VALIDATION.md has the details and an example of every
finding):

1. **Structural checks** (WF1xx), linear in the term: duplicate region ids,
   thresholds that can never be reached, ``defer`` alternatives that can
   never win, signal names outside a declared ``signals=`` set, callables a
   durable case could not restore.
2. **Bounded state exploration** (WF2xx) of the compiled Program on the real
   reducer, with data abstracted (every condition may hold or not, every
   effect may succeed or fail, every awaited signal and every timer may
   come, the scheduler may pick any token): deadlocks, states with no
   option to complete, loops without exit, dead tasks and unreachable
   ``terminate()``, each with a witness path where there is one.

:func:`replay_witness` drives the reducer along an issue's witness;
:func:`witness_log` turns a witness without condition outcomes into a
replay log the runtime follows (``scheduler=wf.Replay(log)``).

An empty list means: no structural error, and within the bounds every
reachable state can complete, completes properly, and every task can run.
``new_case`` validates every Program once (cached) and refuses one with an
error-severity issue by raising :class:`InvalidWorkflow`.
"""

from __future__ import annotations

import importlib
import sys
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import attrs

from wftrio.compiler import compile as compile_term
from wftrio.engine.program import Program
from wftrio.errors import InvalidWorkflow, TermTypeError, ValidationOptionError
from wftrio.terms import Term
from wftrio.validation.calls import call_issues, callee_structural_issues, with_called_signals
from wftrio.validation.compose import sound_by_construction
from wftrio.validation.explore import Bounds, explore
from wftrio.validation.findings import exploration_issues
from wftrio.validation.issues import CODES, ERROR, WARNING, Issue, Step
from wftrio.validation.structural import structural_issues
from wftrio.validation.witness import replay_witness, witness_log

__all__ = [
    "CODES",
    "ERROR",
    "WARNING",
    "InvalidWorkflow",
    "Issue",
    "Report",
    "Step",
    "ValidationOptionError",
    "analyze",
    "check_program",
    "cli_main",
    "format_issues",
    "replay_witness",
    "validate",
    "witness_log",
]


@attrs.frozen
class Options:
    """The options of :func:`validate` (see there)."""

    signals: frozenset[str] | None = None
    durable: bool = False
    explore: bool = True
    max_states: int = 20_000
    max_depth: int = 500
    max_tokens: int = 32
    max_instances: int = 3
    cancel_regions: bool = False
    reduce: bool = True

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.max_states, self.max_depth, self.max_tokens, self.max_instances)


_BOOLS = ("durable", "explore", "cancel_regions", "reduce")
_INTS = {"max_states": 1, "max_depth": 1, "max_tokens": 1, "max_instances": 1}


def _options(given: Mapping[str, Any]) -> Options:
    fields = attrs.fields_dict(Options)
    out: dict[str, Any] = {}
    for name, v in given.items():
        if name not in fields:
            raise ValidationOptionError(
                f"validate(): unknown option {name!r}; expected one of {sorted(fields)}"
            )
        if name == "signals":
            if v is not None:
                if isinstance(v, str) or not isinstance(v, Iterable):
                    raise ValidationOptionError(
                        f"validate(signals={v!r}): expected an iterable of signal names"
                    )
                v = frozenset(v)
                if not all(isinstance(s, str) and s for s in v):
                    raise ValidationOptionError(
                        f"validate(signals={sorted(map(repr, v))}): names must be non-empty strings"
                    )
        elif name in _BOOLS:
            if not isinstance(v, bool):
                raise ValidationOptionError(f"validate({name}={v!r}): expected a bool")
        else:
            low = _INTS[name]
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValidationOptionError(f"validate({name}={v!r}): expected an int >= {low}")
        out[name] = v
    return Options(**out)


@attrs.frozen
class Report:
    """What a validation found and how much it explored.

    Attributes:
        issues: the issues, errors first, then by code.
        states: states explored (0 without exploration).
        edges: transitions explored.
        complete: whether the whole reachable state space was explored (no
            bound was hit); if not, the result is "sound up to the bound".
        bounds_hit: the bounds that were hit, with how many states each stopped.
        reduced: states expanded with the partial-order reduction.
        by_construction: the term is sound by construction
            (:func:`wftrio.validation.compose.sound_by_construction`): the
            exploration was skipped, its findings are known to be none.
    """

    issues: tuple[Issue, ...]
    states: int = 0
    edges: int = 0
    complete: bool = True
    bounds_hit: Mapping[str, int] = attrs.field(factory=dict)
    reduced: int = 0
    by_construction: bool = False

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.is_error)

    @property
    def ok(self) -> bool:
        """No error-severity issue."""
        return not self.errors


def _order(issues: Iterable[Issue]) -> tuple[Issue, ...]:
    return tuple(sorted(issues, key=lambda i: (i.severity != ERROR, i.code)))


def analyze(term: Term, **options: Any) -> Report:
    """Validate ``term`` and return the full :class:`Report` (issues and statistics).

    Takes the options of :func:`validate`.
    """
    if not isinstance(term, Term):
        raise TermTypeError(f"validate: expected a workflow term, got {type(term).__name__}")
    return _analyze(term, compile_term(term), _options(options))


def _analyze(term: Term, program: Program, opts: Options, budget_s: float | None = None) -> Report:
    issues = structural_issues(term, signals=opts.signals, durable=opts.durable)
    if any(ins.op == "call_enter" for ins in program.instrs):  # WCP-22: the called workflows
        issues = with_called_signals(issues, program, opts.signals)
        issues += callee_structural_issues(term, signals=opts.signals, durable=opts.durable)
    if not opts.explore:
        return Report(_order(issues))
    if opts.reduce and sound_by_construction(term, cancel_regions=opts.cancel_regions):
        return Report(_order(issues), by_construction=True)
    ex = explore(
        program,
        bounds=opts.bounds,
        signals=opts.signals,
        cancel_regions=opts.cancel_regions,
        reduce=opts.reduce,
        budget_s=budget_s,
    )
    issues += exploration_issues(ex, opts.bounds, cancel_regions=opts.cancel_regions)
    issues += call_issues(program)
    return Report(
        _order(issues),
        states=ex.states,
        edges=ex.edges,
        complete=ex.complete,
        bounds_hit=dict(ex.hit),
        reduced=ex.reduced,
    )


def validate(term: Term, **options: Any) -> list[Issue]:
    """Check ``term``; return its issues (``[]`` when sound within the bounds).

    Args:
        term: the workflow.
        **options:
            signals: the names of the signals the outside world sends this
                workflow (default: any name the workflow waits for may come).
                Declaring them makes waits on other names findings (WF105,
                WF106) and lets the exploration find deadlocks (WF201).
            durable: also check that every task function and condition can
                be restored by a durable case (WF107).  Default False.
            explore: run the bounded state exploration (default True);
                ``False`` runs only the structural checks.
            max_states: most states to explore (default 20,000).
            max_depth: most branching points (states with more than one
                successor) on a path from the start of a case (default 500).
            max_tokens: most live tokens in one explored state (default 32).
            max_instances: computed ``mi`` counts are explored from 0 to
                this (default 3).
            cancel_regions: also explore cancelling every live region
                (default False: cancellation is an outside intervention,
                not part of normal completion).
            reduce: use partial-order and symmetry reduction (default True;
                the findings are the same, the state count smaller).

    Returns:
        The issues, errors first.  A hit bound is reported as a WF200 warning.

    Raises:
        TermTypeError: ``term`` is not a workflow term.
        ValidationOptionError: an unknown option or a bad option value.
    """
    return list(analyze(term, **options).issues)


# ---------------------------------------------------------------------------
# the runtime's check: once per Program


RUNTIME_OPTIONS: Mapping[str, Any] = {"max_states": 2_000, "max_depth": 200}
"""The bounds ``new_case(validate=True)`` validates with (smaller than
:func:`validate`'s defaults: it runs inside ``new_case``; a bound hit is only
a warning)."""

RUNTIME_BUDGET_S = 0.05
"""The time budget of the exploration at ``new_case`` (seconds): past it the
exploration stops with a WF200 warning and the case starts."""

_CHECKED: weakref.WeakKeyDictionary[Program, dict[float | None, tuple[Issue, ...]]] = (
    weakref.WeakKeyDictionary()
)


def check_program(
    program: Program,
    where: str = "new_case()",
    *,
    budget_s: float | None = RUNTIME_BUDGET_S,
) -> tuple[Issue, ...]:
    """Validate a compiled Program once (cached per Program and budget) for the runtime.

    The structural checks always run in full; the state exploration runs with
    :data:`RUNTIME_OPTIONS` and stops after ``budget_s`` seconds, reporting a
    ``WF200`` warning ("sound up to the bound"): ``new_case`` never stalls on
    validation.  A time budget makes *how far* the exploration gets depend on
    the machine; whatever it finds is real on every machine.

    Args:
        program: the compiled workflow.
        where: the caller, for the error message.
        budget_s: seconds the exploration may take (``None``: no time limit,
            only the state bounds).

    Returns:
        The issues (warnings included).

    Raises:
        InvalidWorkflow: the Program's term has an error-severity issue.
        ValidationOptionError: ``budget_s`` is neither ``None`` nor a positive number.
    """
    if budget_s is not None and (
        isinstance(budget_s, bool) or not isinstance(budget_s, int | float) or not budget_s > 0
    ):
        raise ValidationOptionError(
            f"{where}: validate budget {budget_s!r}, expected None or seconds > 0"
        )
    verdicts = _CHECKED.get(program)
    if verdicts is None:
        verdicts = _CHECKED[program] = {}
    issues = verdicts.get(budget_s)
    if issues is None:
        opts = _options(RUNTIME_OPTIONS)
        issues = _analyze(program.term, program, opts, budget_s=budget_s).issues
        verdicts[budget_s] = issues
    if any(i.is_error for i in issues):
        raise InvalidWorkflow(
            issues,
            f"{where}: the workflow",
            report=format_issues(i for i in issues if i.is_error),
        )
    return issues


# ---------------------------------------------------------------------------
# output and the command line


def format_issues(issues: Iterable[Issue]) -> str:
    """Render issues as readable text: one block per issue, with its witness."""
    blocks: list[str] = []
    for issue in issues:
        head = f"{issue.code} {issue.severity}" + (f" at {issue.path}" if issue.path else "")
        lines = [head, f"  {issue.message}"]
        if issue.witness:
            lines.append("  witness:")
            lines.extend(f"    {n}. {step}" for n, step in enumerate(issue.witness, 1))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "no issues"


def _resolve(target: str) -> object:
    mod_name, _, attr = target.partition(":")
    if not mod_name or not attr:
        raise ValidationOptionError(f"validate {target!r}: expected module:attribute")
    obj: object = importlib.import_module(mod_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def cli_main(target: Term | str, *, out: TextIO | None = None, **options: Any) -> int:
    """Validate ``target`` and print the issues with their witnesses.

    The helper behind ``wftrio validate module:attribute``.

    Args:
        target: a term, or ``"module:attribute"`` naming one.
        out: where to print (default stdout).
        **options: the options of :func:`validate`.

    Returns:
        The exit status: 1 if there is an error-severity issue, else 0.

    Raises:
        ValidationOptionError: ``target`` is a string that is not ``module:attribute``.
        TermTypeError: the target is not a workflow term.
        ImportError / AttributeError: the target cannot be found.
    """
    stream = out if out is not None else sys.stdout
    term = _resolve(target) if isinstance(target, str) else target
    if not isinstance(term, Term):
        raise TermTypeError(f"validate: {target!r} is not a workflow term ({type(term).__name__})")
    report = analyze(term, **options)
    errors = len(report.errors)
    warnings = len(report.issues) - errors
    explored = (
        f"{report.states} states explored"
        + ("" if report.complete else f" (bound hit: {', '.join(sorted(report.bounds_hit))})")
        if report.states
        else "structural checks only"
    )
    print(format_issues(report.issues), file=stream)
    print(f"\n{errors} error(s), {warnings} warning(s); {explored}", file=stream)
    return 1 if errors else 0
