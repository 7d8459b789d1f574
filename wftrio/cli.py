"""The ``wftrio`` command line (also ``python -m wftrio``).

``wftrio run TARGET``     run one case, showing each trace event as it happens,
                          then a summary table
``wftrio replay TARGET TRACE.jsonl``  rerun with the recorded inputs; report
                          identical or the first difference
``wftrio graph TARGET``   draw the workflow (``--format mermaid|dot``)
``wftrio bench``          the benchmark table (``python -m wftrio.bench``)

TARGET is ``module:ATTR`` or ``path/to/file.py:ATTR`` naming a workflow term
(``:ATTR`` defaults to ``WORKFLOW``).  When TARGET is a module's
``WORKFLOW``, the module's ``CTX`` (a dict) and ``SIGNALS`` (a list of
``(seconds, name, payload)``) are the defaults for ``--ctx`` and
``--signal``: the examples carry their own demo input that way.

Mistakes print one sentence and exit with status 2, never a traceback; a
case that ends FAILED or CANCELLED, or is left blocked on signals nobody
sends, exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["CliError", "load_target", "main"]


class CliError(Exception):
    """A command-line mistake: printed as one sentence, exit status 2."""


def _load(target: str) -> tuple[ModuleType, str, Any]:
    """Return ``(module, attribute name, term)`` for ``target``."""
    from wftrio.terms import Term

    spec_, _, attr = target.partition(":")
    attr = attr or "WORKFLOW"
    if not spec_:
        raise CliError(f"{target!r} names no module or file; expected module:ATTR or FILE.py:ATTR")
    try:
        if spec_.endswith(".py") or "/" in spec_:
            path = Path(spec_)
            if not path.is_file():
                raise CliError(f"no such file: {spec_}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise CliError(f"cannot load {spec_} as a Python module")
            module = importlib.util.module_from_spec(spec)
            # like `python FILE`: the file's folder is importable while it loads
            sys.path.insert(0, str(path.resolve().parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.pop(0)
        else:
            module = importlib.import_module(spec_)
    except CliError:
        raise
    except Exception as exc:
        raise CliError(f"cannot load {spec_!r}: {type(exc).__name__}: {exc}") from exc
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


def _at_arg(option: str, text: str) -> tuple[str, float]:
    """Split ``HEAD@SECONDS`` (``@SECONDS`` optional) into ``(HEAD, seconds)``."""
    head, at, when = text.rpartition("@") if "@" in text else (text, "", "")
    if not at:
        return text, 0.0
    try:
        delay = float(when)
    except ValueError:
        raise CliError(f"{option} {text!r}: {when!r} after @ is not a number") from None
    if not delay >= 0:
        raise CliError(f"{option} {text!r}: the time after @ must be >= 0 seconds")
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
            if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
                raise ValueError
            if not isinstance(name, str) or not name:
                raise ValueError
            out.append((float(at), name, payload))
    except (TypeError, ValueError):
        raise CliError(
            f"{module.__name__}.SIGNALS must be a list of (seconds, name, payload) tuples"
        ) from None
    return out


def _ctx(args: argparse.Namespace, module: ModuleType, attr: str) -> dict[str, Any] | None:
    if args.ctx is not None:
        ctx = _json_arg(args.ctx, "--ctx")
        if not isinstance(ctx, dict):
            raise CliError("--ctx must be a JSON object")
        return ctx
    default = getattr(module, "CTX", None) if attr == "WORKFLOW" else None
    if default is not None and not isinstance(default, dict):
        raise CliError(f"{module.__name__}.CTX must be a dict, not {type(default).__name__}")
    return None if default is None else dict(default)


def _signal_names(term: Any) -> set[str]:
    """Every signal name the workflow can consume (wait_signal and on_signal)."""
    from wftrio.terms import Defer, OnSignal, WaitSignal, walk

    names: set[str] = set()
    for _, node in walk(term):
        if isinstance(node, WaitSignal):
            names.add(node.name)
        elif isinstance(node, Defer):
            names.update(a.name for a in node.alternatives if isinstance(a, OnSignal))
    return names


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
        if scope not in term.region_ids:
            regions = ", ".join(sorted(term.region_ids)) or "none"
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
    options: dict[str, Any] = {"trace_level": args.trace_level}
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
                    write_jsonl(result.trace, fp)
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
    ctx = _ctx(args, module, attr)
    try:
        log = wf.replay_log(recorded)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    level = "full" if any(e.kind == "task_completed" for e in recorded) else "min"
    try:
        result = wf.run(
            term,
            ctx,
            case_id=first.case_id,
            clock=trio.testing.MockClock(autojump_threshold=0),
            scheduler=wf.Replay(log),
            trace_level=level,
        )
        replayed = list(result.trace)
    except (wf.CaseFailed, wf.CaseCancelled) as exc:
        replayed = list(exc.result.trace) if exc.result is not None else []
    for a, b in zip(recorded, replayed, strict=False):
        if a[:-2] != b[:-2] or a.data != b.data:
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wftrio", description="Run and inspect wftrio workflows.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser(
        "run",
        help="run one case, showing its trace live and a summary",
        description="Run one case of a workflow, printing each trace event as it happens "
        "and a summary table at the end. Time is virtual by default: timers and "
        "effects' sleeps take no wall time.",
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
    rp = sub.add_parser("replay", help="rerun a recorded trace's inputs and compare")
    rp.add_argument("target", help=_TARGET_HELP)
    rp.add_argument("trace", help="a JSON-lines trace written by `wftrio run --trace-out`")
    rp.add_argument("--ctx", help="the initial ctx the recorded case started with (JSON)")
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
    b = sub.add_parser("bench", help="the benchmark table", add_help=False)
    b.add_argument("rest", nargs=argparse.REMAINDER)
    b.set_defaults(func=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``wftrio``; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "bench":
        from wftrio.bench import main as bench_main

        return bench_main(args.rest)
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"wftrio: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wftrio: interrupted", file=sys.stderr)
        return 130
    return code
