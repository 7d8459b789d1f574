"""The ``wftrio`` command line (also ``python -m wftrio``).

``wftrio run TARGET``     run one case, showing each trace event as it happens,
                          then a summary table
``wftrio replay TARGET TRACE.jsonl``  rerun with the recorded inputs; report
                          identical or the first difference
``wftrio graph TARGET``   draw the workflow (``--format mermaid|dot``)
``wftrio validate TARGET``  structural checks, then bounded exploration
``wftrio bench``          the benchmark table (``python -m wftrio.bench``)
``wftrio cases STORE``, ``show STORE CASE``, ``signal STORE CASE NAME [JSON]``,
``cancel STORE CASE [--region R]``  the cases of a store file, while a process
                          runs them (``wftrio._cli_store``, docs/DURABILITY.md)
``wftrio serve STORE``    the web console over a store file (``wftrio._cli_serve``,
                          docs/CONSOLE.md)

TARGET is ``module:ATTR`` or ``path/to/file.py:ATTR`` naming a workflow term
(``:ATTR`` defaults to ``WORKFLOW``).  The module can carry what a case of
it needs, under these module-level names:

``HANDLER``  the effect handler (``effect_handler=``) of every workflow of the module
``CTX``      a dict: the default of ``--ctx`` when TARGET is the module's ``WORKFLOW``
``SIGNALS``  ``(seconds, name, payload)`` tuples: the default of ``--signal``, ditto
``OPTIONS``  a dict of ``new_case`` options (``budget=``, ``allow=``, ...), ditto

``wftrio run --trace-out`` writes the initial ctx into the trace (in the
``case_started`` event's data, under ``"ctx"``), so ``wftrio replay`` needs
no ``--ctx``.

Times after ``@`` (``--signal go@5``) must be finite, from 0 to
:data:`MAX_SECONDS`.  A replay refuses a trace whose inputs no case could
have recorded (a step behind the input before, a time that never comes)
before it starts, as a ``ReplayDivergence``.

Mistakes print one sentence and exit with status 2, never a traceback; a
case that ends FAILED or CANCELLED, or is left blocked on signals nobody
sends, and a replay that differs or diverges, exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, NoReturn

from wftrio._modload import load_module
from wftrio.algebra.checks import is_number
from wftrio.errors import CliError
from wftrio.scheduling import MAX_CASE_TIME

__all__ = ["MAX_SECONDS", "CliError", "load_target", "main"]

MAX_SECONDS = MAX_CASE_TIME
"""The latest time (seconds after the start, about 31 years) a command-line input may name.

Later times never come in practice, and near ``1e300`` adding a second to
a float clock no longer changes it (:data:`wftrio.scheduling.MAX_CASE_TIME`,
which a replay log's inputs are held to as well).
"""


def _load(target: str) -> tuple[ModuleType, str, Any]:
    """Return ``(module, attribute name, term)`` for ``target``."""
    from wftrio.terms import Term

    spec_, _, attr = target.partition(":")
    attr = attr or "WORKFLOW"
    if not spec_:
        raise CliError(f"{target!r} names no module or file; expected module:ATTR or FILE.py:ATTR")
    module = load_module(spec_)
    term = getattr(module, attr, None)
    if term is None:
        raise CliError(f"{spec_!r} has no attribute {attr!r}")
    if not isinstance(term, Term):
        raise CliError(f"{spec_}:{attr} is a {type(term).__name__}, not a workflow term")
    return module, attr, term


def load_target(target: str) -> Any:
    """Load the workflow term named by ``module:ATTR`` or ``file.py:ATTR``.

    Raises:
        CliError: the module or file cannot be loaded, or has no such term.
    """
    return _load(target)[2]


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON ({exc.msg} at column {exc.colno})") from exc


def _seconds_ok(t: float) -> bool:
    """Whether ``t`` is a time an input can be due at: finite, 0 to :data:`MAX_SECONDS`."""
    return math.isfinite(t) and 0 <= t <= MAX_SECONDS


def _at_arg(option: str, text: str) -> tuple[str, float]:
    """Split ``HEAD@SECONDS`` (``@SECONDS`` optional) into ``(HEAD, seconds)``."""
    head, at, when = text.rpartition("@") if "@" in text else (text, "", "")
    if not at:
        return text, 0.0
    try:
        delay = float(when)
    except ValueError:
        raise CliError(f"{option} {text!r}: {when!r} after @ is not a number") from None
    if not _seconds_ok(delay):
        raise CliError(
            f"{option} {text!r}: the time after @ must be from 0 to {MAX_SECONDS:.0e} seconds"
        )
    return head, delay


def _signal_arg(text: str) -> tuple[float, str, Any]:
    head, delay = _at_arg("--signal", text)
    name, eq, payload = head.partition("=")
    if not name:
        raise CliError(f"--signal {text!r}: expected NAME[=JSON][@SECONDS]")
    value = _json_arg(payload, f"the payload of --signal {name}") if eq else None
    return delay, name, value


def _module_signals(module: ModuleType) -> list[tuple[float, str, Any]]:
    raw = getattr(module, "SIGNALS", ())
    out: list[tuple[float, str, Any]] = []
    try:
        for at, name, payload in raw:
            if not is_number(at) or not _seconds_ok(at):
                raise ValueError
            if not isinstance(name, str) or not name:
                raise ValueError
            out.append((float(at), name, payload))
    except (TypeError, ValueError):
        raise CliError(
            f"{module.__name__}.SIGNALS must be a list of (seconds, name, payload) tuples, "
            f"seconds from 0 to {MAX_SECONDS:.0e}"
        ) from None
    return out


def _ctx_arg(text: str) -> dict[str, Any]:
    ctx = _json_arg(text, "--ctx")
    if not isinstance(ctx, dict):
        raise CliError("--ctx must be a JSON object")
    return ctx


def _module_dict(module: ModuleType, name: str) -> dict[str, Any] | None:
    """The module's dict ``name`` (``CTX``, ``OPTIONS``) as a fresh dict, or ``None``."""
    value = getattr(module, name, None)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise CliError(
            f"{module.__name__}.{name} must be a dict with str keys, not {type(value).__name__}"
        )
    return dict(value)


def _ctx(args: argparse.Namespace, module: ModuleType, attr: str) -> dict[str, Any] | None:
    if args.ctx is not None:
        return _ctx_arg(args.ctx)
    return _module_dict(module, "CTX") if attr == "WORKFLOW" else None


def _case_options(module: ModuleType, attr: str) -> dict[str, Any]:
    """The module's ``OPTIONS`` (for its ``WORKFLOW``) and ``HANDLER`` as case options."""
    options = (_module_dict(module, "OPTIONS") if attr == "WORKFLOW" else None) or {}
    handler = getattr(module, "HANDLER", None)
    if handler is not None:
        options["effect_handler"] = handler
    return options


def _signal_names(term: Any) -> set[str]:
    """Every signal name the workflow can consume, the workflows it calls included."""
    from wftrio.runtime._workflow import signal_names

    return set(signal_names(term))


def _plan(
    args: argparse.Namespace, module: ModuleType, attr: str, term: Any
) -> list[tuple[float, str, str, Any]]:
    """The inputs to send, as ``(seconds, "signal"|"cancel_region", name, payload)``."""
    signals = [_signal_arg(s) for s in args.signal]
    if not signals and attr == "WORKFLOW":
        signals = _module_signals(module)
    known = _signal_names(term)
    for _, name, _ in signals:
        if name not in known:
            waits = ", ".join(sorted(known)) if known else "no signal at all"
            raise CliError(
                f"signal {name!r} is never waited for by this workflow (it waits for {waits})"
            )
    plan = [(at, "signal", name, payload) for at, name, payload in signals]
    for text in args.cancel_region:
        scope, at = _at_arg("--cancel-region", text)
        from wftrio.runtime._workflow import region_names

        if scope not in region_names(term):
            regions = ", ".join(sorted(region_names(term))) or "none"
            raise CliError(
                f"--cancel-region {scope!r}: the workflow has no such region (its regions: "
                f"{regions})"
            )
        plan.append((at, "cancel_region", scope, None))
    plan.sort(key=lambda p: p[0])
    return plan


async def _run_case(
    term: Any,
    ctx: Any,
    plan: list[tuple[float, str, str, Any]],
    options: dict[str, Any],
    sinks: list[Any],
) -> tuple[Any, str | None, Any, Any]:
    """Run one case; return (result or error, why it was stopped, CaseInfo, stats)."""
    import trio

    import wftrio as wf

    async with wf.open_substrate(retain_finished=1, sinks=sinks) as sub:
        case_id = await sub.new_case(term, ctx, **options)
        start = trio.current_time()
        for at, what, name, payload in plan:
            await trio.sleep_until(start + at)
            if sub.status(case_id).state.final:
                break
            if what == "signal":
                await sub.signal(case_id, name, payload)
            else:
                await sub.cancel_region(case_id, name)
        stuck: str | None = None
        while True:
            state = await sub.wait_state(case_id, wf.CaseState.WAITING_SIGNAL)
            info = sub.status(case_id)
            if state != wf.CaseState.WAITING_SIGNAL:
                break
            if info.timers == 0 and info.effects_in_flight == 0:
                stuck = ", ".join(info.waiting_signals) or "signals"
                await sub.cancel(case_id)
                break
            # a timer or an effect can still move it: wait until it does
            await sub.wait_state(case_id, wf.CaseState.RUNNING, wf.CaseState.WAITING_EFFECT)
        outcome: Any
        try:
            outcome = await sub.wait(case_id)
        except (wf.CaseFailed, wf.CaseCancelled) as exc:
            outcome = exc
        info = sub.status(case_id)
        stats = sub.stats()
    return outcome, stuck, info, stats


def _cmd_run(args: argparse.Namespace) -> int:
    import trio
    import trio.testing

    import wftrio as wf
    from wftrio.console import EventPrinter, make_console, summary_table

    module, attr, term = _load(args.target)
    ctx = _ctx(args, module, attr)
    plan = _plan(args, module, attr, term)
    options = _case_options(module, attr)
    options["trace_level"] = args.trace_level
    if args.seed is not None:
        options["scheduler"] = wf.Seeded(args.seed)
    color = {"auto": None, "always": True, "never": False}[args.color]
    console = make_console(color=color)
    printer = EventPrinter(console)
    clock = None if args.real_time else trio.testing.MockClock(autojump_threshold=0)
    try:
        outcome, stuck, info, stats = trio.run(
            _run_case, term, ctx, plan, options, [wf.CallbackSink(printer)], clock=clock
        )
    except wf.WftrioError as exc:  # bad options or a term the runtime refuses
        raise CliError(str(exc)) from exc
    failed = isinstance(outcome, wf.CaseFailed | wf.CaseCancelled)
    result = outcome.result if failed else outcome
    if result is not None:
        started, finished = info.started_at, info.finished_at
        duration = finished - started if started is not None and finished is not None else None
        effects = {
            "started": stats.effects_started,
            "completed": stats.effects_completed,
            "cancelled": stats.effects_cancelled,
        }
        clock_name = "real" if args.real_time else "virtual"
        console.print(summary_table(result, duration=duration, clock=clock_name, effects=effects))
        if args.trace_out:
            from wftrio.serialize import write_jsonl

            try:
                with open(args.trace_out, "w", encoding="utf-8") as fp:
                    write_jsonl(_with_initial_ctx(result.trace, ctx), fp)
            except OSError as exc:
                raise CliError(f"cannot write {args.trace_out}: {exc.strerror}") from exc
    if stuck is not None:
        print(
            f"wftrio: the case was blocked waiting for {stuck} with nothing left to send; "
            "it was cancelled (send signals with --signal NAME[=JSON][@SECONDS])",
            file=sys.stderr,
        )
        return 1
    if failed:
        print(f"wftrio: {outcome}", file=sys.stderr)
        return 1
    return 0


def _with_initial_ctx(trace: Sequence[Any], ctx: Mapping[str, Any] | None) -> list[Any]:
    """``trace`` with the initial ctx in its ``case_started`` event (``data["ctx"]``).

    Left as it is when the event already records a ctx, or when the ctx is
    not JSON (a replay then needs ``--ctx``).
    """
    events = list(trace)
    if not events or events[0].kind != "case_started" or "ctx" in events[0].data:
        return events
    try:
        recorded = json.loads(json.dumps({} if ctx is None else dict(ctx)))
    except (TypeError, ValueError):
        return events
    events[0] = events[0]._replace(data={**events[0].data, "ctx": recorded})
    return events


def _recorded_ctx(args: argparse.Namespace, first: Any) -> dict[str, Any]:
    """The ctx a replay starts from: ``--ctx``, else the one the trace records."""
    if args.ctx is not None:
        return _ctx_arg(args.ctx)
    ctx = first.data.get("ctx") if first.kind == "case_started" else None
    if not isinstance(ctx, dict):
        raise CliError(
            f"{args.trace} does not record the case's initial ctx (`wftrio run --trace-out` "
            "writes it); pass it with --ctx JSON"
        )
    return ctx


def _check_replayable(recorded: Sequence[Any], log: Any) -> None:
    """Refuse a trace whose inputs a replay could never reach, before running it.

    Recorded inputs must come at non-decreasing steps, from 0, and at
    non-decreasing case times, from 0 to :data:`MAX_SECONDS`; every event's
    time must be such a time.  Anything else cannot have been recorded by a
    case: a replay would wait for a step behind the case or a time that
    never comes.

    Raises:
        ReplayDivergence: the first input or event that breaks the rule.
    """
    from wftrio.errors import ReplayDivergence
    from wftrio.scheduling import replay_log_problems

    for ev in recorded:
        if not _seconds_ok(ev.time):
            raise ReplayDivergence(
                f"event {ev.seq} ({ev.kind}) is recorded at time {ev.time!r}, which never comes "
                f"(expected 0 to {MAX_SECONDS:.0e} seconds)"
            )
    problems = replay_log_problems(log)
    if problems:
        raise ReplayDivergence(problems[0][1])


def _same_event(rec: Any, rep: Any) -> bool:
    """Whether a recorded event and its replayed counterpart are identical.

    A ``case_started`` ctx that ``wftrio run`` added to the trace file is not
    compared when the replayed event does not record one.
    """
    rec_data = rec.data
    if rec.kind == "case_started" and "ctx" in rec_data and "ctx" not in rep.data:
        rec_data = {k: v for k, v in rec_data.items() if k != "ctx"}
    return bool(rec[:-2] == rep[:-2] and rec_data == rep.data)


def _cmd_replay(args: argparse.Namespace) -> int:
    import trio.testing

    import wftrio as wf
    from wftrio.serialize import read_jsonl

    module, attr, term = _load(args.target)
    try:
        with open(args.trace, encoding="utf-8") as fp:
            recorded = list(read_jsonl(fp))
    except OSError as exc:
        raise CliError(f"cannot read {args.trace}: {exc.strerror}") from exc
    except Exception as exc:
        raise CliError(f"{args.trace} is not a wftrio trace: {exc}") from exc
    if not recorded:
        raise CliError(f"{args.trace} holds no events")
    first = recorded[0]
    try:
        log = wf.replay_log(recorded)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    except TypeError as exc:  # an input's at_step that is no number (replay_log calls int())
        raise CliError(f"{args.trace} is not a wftrio trace: an input's at_step: {exc}") from exc
    ctx = _recorded_ctx(args, first)
    options = _case_options(module, attr)
    level = "full" if any(e.kind == "task_completed" for e in recorded) else "min"
    try:
        _check_replayable(recorded, log)
        result = wf.run(
            term,
            ctx,
            case_id=first.case_id,
            clock=trio.testing.MockClock(autojump_threshold=0),
            scheduler=wf.Replay(log),
            trace_level=level,
            **options,
        )
        replayed = list(result.trace)
    except wf.ReplayDivergence as exc:
        print(f"wftrio: the replay diverged: {exc}", file=sys.stderr)
        return 1
    except (wf.CaseFailed, wf.CaseCancelled) as exc:
        if isinstance(exc, wf.CaseFailed) and isinstance(exc.cause, wf.ReplayDivergence):
            print(f"wftrio: the replay diverged: {exc.cause}", file=sys.stderr)
            return 1
        replayed = list(exc.result.trace) if exc.result is not None else []
    except wf.WftrioError as exc:  # bad options or a term the runtime refuses
        raise CliError(str(exc)) from exc
    for a, b in zip(recorded, replayed, strict=False):
        if not _same_event(a, b):
            print(f"differs at event {a.seq}:\n  recorded: {a}\n  replayed: {b}")
            return 1
    if len(recorded) != len(replayed):
        print(f"differs in length: recorded {len(recorded)} events, replayed {len(replayed)}")
        return 1
    print(f"identical: {len(recorded)} events")
    return 0


def _cmd_graph(args: argparse.Namespace) -> int:
    from wftrio.graph import to_dot, to_mermaid

    term = load_target(args.target)
    render = to_dot if args.format == "dot" else to_mermaid
    sys.stdout.write(render(term))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import wftrio as wf
    from wftrio.validation import cli_main

    term = load_target(args.target)
    options: dict[str, Any] = {
        "durable": args.durable,
        "max_states": args.max_states,
        "max_depth": args.max_depth,
        "cancel_regions": args.cancel_regions,
    }
    if args.signals is not None:
        options["signals"] = [s for s in args.signals.split(",") if s]
    try:
        return cli_main(term, **options)
    except wf.WftrioError as exc:
        raise CliError(str(exc)) from exc


_TARGET_HELP = "module:ATTR or path/to/file.py:ATTR (ATTR defaults to WORKFLOW)"

_MODULE_NAMES_HELP = """\
module-level names of the TARGET's module that a case uses:
  HANDLER  the effect handler (effect_handler=) of every workflow of the module
  CTX      a dict: the initial ctx of its WORKFLOW (what --ctx replaces)
  SIGNALS  a list of (seconds, name, payload): the signals sent to its WORKFLOW
           (what --signal replaces)
  OPTIONS  a dict of new_case options for its WORKFLOW (budget=, allow=, timeout=, ...)

With --trace-out, the initial ctx is written into the trace (the case_started
event's data["ctx"]), so `wftrio replay` needs no --ctx.
"""


def _one_line(message: str) -> str:
    """``message`` with unprintable characters escaped (a name may hold a newline)."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one sentence (a CliError), not usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="wftrio", description="Run and inspect wftrio workflows.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser(
        "run",
        help="run one case, showing its trace live and a summary",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run one case of a workflow, printing each trace event as it happens\n"
        "and a summary table at the end. Time is virtual by default: timers and\n"
        "effects' sleeps take no wall time.",
        epilog=_MODULE_NAMES_HELP,
    )
    r.add_argument("target", help=_TARGET_HELP)
    r.add_argument("--ctx", help="the initial ctx as a JSON object (default: the module's CTX)")
    r.add_argument(
        "--signal",
        action="append",
        default=[],
        metavar="NAME[=JSON][@SECONDS]",
        help="send a signal, SECONDS after the start (default 0); repeat for more "
        "(default: the module's SIGNALS)",
    )
    r.add_argument(
        "--cancel-region",
        action="append",
        default=[],
        metavar="SCOPE[@SECONDS]",
        help="cancel region SCOPE, SECONDS after the start",
    )
    r.add_argument("--seed", type=int, help="run under wf.Seeded(SEED)")
    r.add_argument("--trace-level", default="full", choices=["none", "min", "full"])
    r.add_argument("--trace-out", help="also write the trace as JSON lines to this file")
    r.add_argument(
        "--real-time",
        action="store_true",
        help="wait for timers in real time (default: virtual time, timers fire at once)",
    )
    r.add_argument(
        "--color",
        default="auto",
        choices=["auto", "always", "never"],
        help="colour the output (auto: on a terminal, unless NO_COLOR is set)",
    )
    r.set_defaults(func=_cmd_run)
    rp = sub.add_parser(
        "replay",
        help="rerun a recorded trace's inputs and compare",
        description="Rerun a workflow with the inputs a trace recorded (signals, effect "
        "results, timer firings, scheduler choices), starting from the ctx the trace records, "
        "and report `identical` (exit 0) or the first difference (exit 1). The module's "
        "HANDLER and, for its WORKFLOW, OPTIONS apply as in `wftrio run`. A trace whose "
        "inputs no case could have recorded (a step behind the one before, a time that "
        "never comes) fails at once as a ReplayDivergence.",
    )
    rp.add_argument("target", help=_TARGET_HELP)
    rp.add_argument("trace", help="a JSON-lines trace written by `wftrio run --trace-out`")
    rp.add_argument(
        "--ctx",
        help="the initial ctx the recorded case started with, as a JSON object (default: "
        "the ctx the trace records)",
    )
    rp.set_defaults(func=_cmd_replay)
    v = sub.add_parser(
        "validate",
        help="check a workflow: structure, then bounded exploration (exit 1 on errors)",
    )
    v.add_argument("target", help=_TARGET_HELP)
    v.add_argument(
        "--signals",
        help="comma-separated names of the signals the outside world sends (enables "
        "deadlock detection for waits on other names)",
    )
    v.add_argument("--durable", action="store_true", help="also check durability (WF107)")
    v.add_argument("--max-states", type=int, default=20_000, help="exploration bound")
    v.add_argument("--max-depth", type=int, default=500, help="exploration bound")
    v.add_argument(
        "--cancel-regions", action="store_true", help="also explore cancelling live regions"
    )
    v.set_defaults(func=_cmd_validate)
    g = sub.add_parser("graph", help="print a diagram of the workflow")
    g.add_argument("target", help=_TARGET_HELP)
    g.add_argument("--format", default="mermaid", choices=["mermaid", "dot"])
    g.set_defaults(func=_cmd_graph)
    from wftrio._cli_store import add_store_commands

    add_store_commands(sub)
    from wftrio._cli_serve import add_serve_command

    add_serve_command(sub)
    # listed here for `wftrio --help`; main() hands its arguments to the bench's own parser
    sub.add_parser("bench", help="the benchmark table (see `wftrio bench --help`)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``wftrio``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from wftrio.bench import main as bench_main

        return bench_main(argv[1:], prog="wftrio bench")
    try:
        args = _parser().parse_args(argv)
        code: int = args.func(args)
    except CliError as exc:
        print(f"wftrio: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wftrio: interrupted", file=sys.stderr)
        return 130
    return code
