"""The ``wftrio`` command line (also ``python -m wftrio``).

``wftrio run TARGET``     run one case and print its trace, one line per event
``wftrio replay TARGET TRACE.jsonl``  rerun with the recorded inputs; report
                          identical or the first difference
``wftrio bench``          the benchmark table (``python -m wftrio.bench``)

TARGET is ``module:ATTR`` or ``path/to/file.py:ATTR`` naming a workflow term
(``:ATTR`` defaults to ``WORKFLOW``).  Mistakes print one sentence and exit
with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CliError", "load_target", "main"]


class CliError(Exception):
    """A command-line mistake: printed as one sentence, exit status 2."""


def load_target(target: str) -> Any:
    """Load the workflow term named by ``module:ATTR`` or ``file.py:ATTR``.

    Raises:
        CliError: the module or file cannot be loaded, or has no such term.
    """
    from wftrio.terms import Term

    spec_, _, attr = target.partition(":")
    attr = attr or "WORKFLOW"
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
    return term


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON ({exc.msg} at column {exc.colno})") from exc


def _signal_arg(text: str) -> tuple[str, Any, float]:
    head, at, when = text.rpartition("@") if "@" in text else (text, "", "")
    name, eq, payload = head.partition("=")
    if not name:
        raise CliError(f"--signal {text!r}: expected NAME[=JSON][@SECONDS]")
    delay = 0.0
    if at:
        try:
            delay = float(when)
        except ValueError:
            raise CliError(f"--signal {text!r}: {when!r} after @ is not a number") from None
    value = _json_arg(payload, f"the payload of --signal {name}") if eq else None
    return name, value, delay


def _format_event(ev: Any) -> str:
    data = json.dumps(ev.data, sort_keys=True, default=repr) if ev.data else ""
    name = "" if ev.name is None else str(ev.name)
    tok = "" if ev.token is None else f"#{ev.token}"
    return f"{ev.seq:5d} {ev.time:9.3f}  {ev.kind:<18} {name:<28} {tok:<6} {data}"


async def _run_case(
    term: Any, ctx: Any, signals: list[tuple[str, Any, float]], options: dict[str, Any]
) -> tuple[Any, str | None]:
    """Run one case; return (result, why it was stopped or None)."""
    import trio

    import wftrio as wf

    async with wf.open_substrate(retain_finished=1) as sub:
        case_id = await sub.new_case(term, ctx, **options)
        start = trio.current_time()
        for name, payload, delay in sorted(signals, key=lambda s: s[2]):
            await trio.sleep_until(start + delay)
            if sub.status(case_id).state in (
                wf.CaseState.DONE,
                wf.CaseState.FAILED,
                wf.CaseState.CANCELLED,
            ):
                break
            await sub.signal(case_id, name, payload)
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
        try:
            return await sub.wait(case_id), stuck
        except (wf.CaseFailed, wf.CaseCancelled) as exc:
            return exc, stuck


def _cmd_run(args: argparse.Namespace) -> int:
    import trio
    import trio.testing

    import wftrio as wf

    term = load_target(args.target)
    ctx = _json_arg(args.ctx, "--ctx") if args.ctx is not None else None
    if ctx is not None and not isinstance(ctx, dict):
        raise CliError("--ctx must be a JSON object")
    signals = [_signal_arg(s) for s in args.signal]
    options: dict[str, Any] = {"trace_level": args.trace_level}
    if args.seed is not None:
        options["scheduler"] = wf.Seeded(args.seed)
    clock = None if args.real_time else trio.testing.MockClock(autojump_threshold=0)
    outcome, stuck = trio.run(_run_case, term, ctx, signals, options, clock=clock)
    code = 0
    if isinstance(outcome, wf.CaseFailed | wf.CaseCancelled):
        code = 1
        result = outcome.result
    else:
        result = outcome
    if result is not None:
        for ev in result.trace:
            print(_format_event(ev))
        print(
            f"state={result.state} steps={result.steps} "
            f"ctx={json.dumps(result.ctx, sort_keys=True, default=repr)}"
        )
        if args.trace_out:
            from wftrio.trace import write_jsonl

            with open(args.trace_out, "w", encoding="utf-8") as fp:
                write_jsonl(result.trace, fp)
    if stuck is not None:
        print(
            f"wftrio: the case was blocked waiting for {stuck} with nothing left to send; "
            "it was cancelled (send signals with --signal NAME[=JSON][@SECONDS])",
            file=sys.stderr,
        )
    elif code:
        print(f"wftrio: {outcome}", file=sys.stderr)
    return code


def _cmd_replay(args: argparse.Namespace) -> int:
    import trio.testing

    import wftrio as wf
    from wftrio.trace import read_jsonl

    term = load_target(args.target)
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
    ctx = _json_arg(args.ctx, "--ctx") if args.ctx is not None else None
    if ctx is not None and not isinstance(ctx, dict):
        raise CliError("--ctx must be a JSON object")
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wftrio", description="Run and inspect wftrio workflows.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run one case and print its trace")
    r.add_argument("target", help="module:ATTR or file.py:ATTR (ATTR defaults to WORKFLOW)")
    r.add_argument("--ctx", help="the initial ctx as a JSON object")
    r.add_argument(
        "--signal",
        action="append",
        default=[],
        help="NAME[=JSON][@SECONDS]: send a signal (at SECONDS after the start)",
    )
    r.add_argument("--seed", type=int, help="run under wf.Seeded(SEED)")
    r.add_argument("--trace-level", default="full", choices=["none", "min", "full"])
    r.add_argument("--trace-out", help="also write the trace as JSON lines to this file")
    r.add_argument(
        "--real-time",
        action="store_true",
        help="wait for timers in real time (default: virtual time, timers fire at once)",
    )
    r.set_defaults(func=_cmd_run)
    rp = sub.add_parser("replay", help="rerun a recorded trace's inputs and compare")
    rp.add_argument("target")
    rp.add_argument("trace", help="a JSON-lines trace written by `wftrio run --trace-out`")
    rp.add_argument("--ctx", help="the initial ctx the recorded case started with (JSON)")
    rp.set_defaults(func=_cmd_replay)
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
    return code
