"""Showing cases in a terminal: one coloured line per trace event, a summary table.

The ``wftrio run`` command and the scripts under ``examples/`` print with
these helpers.  Colours come from `rich <https://rich.readthedocs.io>`_ and
follow the event's kind (green for work done, cyan for effects, magenta for
signals, blue for timers and joins, yellow for cancellation, red for
failure); rich drops them when the output is not a terminal or when the
``NO_COLOR`` environment variable is set, so piped output is plain text.

```python
import wftrio as wf
from wftrio.console import print_result

result = wf.run(wf.seq(wf.task("hello", lambda ctx: {"greeted": True})))
print_result(result, title="hello")
```
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from wftrio.trace import TraceEvent

__all__ = [
    "EventPrinter",
    "format_event",
    "kind_style",
    "make_console",
    "print_result",
    "print_trace",
    "summary_table",
]

_STYLES: dict[str, str] = {
    "case_started": "bold green",
    "case_completed": "bold green",
    "case_failed": "bold red",
    "case_cancelled": "bold yellow",
    "case_state": "dim",
    "task_started": "dim green",
    "task_completed": "green",
    "task_failed": "bold red",
    "effect_requested": "cyan",
    "effect_completed": "bold cyan",
    "effect_failed": "bold red",
    "effect_cancelled": "yellow",
    "signal_received": "bold magenta",
    "signal_consumed": "magenta",
    "signal_waiting": "dim magenta",
    "signal_dropped": "yellow",
    "timer_started": "dim blue",
    "timer_fired": "bold blue",
    "choice": "bold white",
    "split": "blue",
    "join_arrived": "dim blue",
    "join_fired": "blue",
    "join_absorbed": "dim blue",
    "loop_iteration": "dim",
    "loop_exited": "dim",
    "region_entered": "dim yellow",
    "region_exited": "dim yellow",
    "region_cancelled": "bold yellow",
    "region_cancel_ignored": "yellow",
    "mi_spawned": "bright_blue",
    "mi_instance_done": "dim blue",
    "mi_joined": "bright_blue",
    "mi_instance_added": "bright_blue",
    "mi_closed": "bright_blue",
    "mi_completed": "bright_blue",
    "terminated": "bold yellow",
    "token_withdrawn": "yellow",
}
# kinds added later (receipts, governance, ...) still get a colour by family
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("case_", "bold"),
    ("task_", "green"),
    ("effect_", "cyan"),
    ("receipt", "cyan"),
    ("signal_", "magenta"),
    ("timer_", "blue"),
    ("join_", "blue"),
    ("region_", "yellow"),
    ("mi_", "bright_blue"),
)
_FINAL_STYLES = {"done": "bold green", "failed": "bold red", "cancelled": "bold yellow"}
_DATA_LIMIT = 160


def kind_style(kind: str) -> str:
    """Return the rich style an event of ``kind`` is shown in.

    Kinds unknown to this module are styled by their family prefix
    (``effect_*`` like effects, ...), anything else is unstyled.
    """
    style = _STYLES.get(kind)
    if style is not None:
        return style
    for prefix, fam in _FAMILIES:
        if kind.startswith(prefix):
            return fam
    return ""


def make_console(file: IO[str] | None = None, *, color: bool | None = None) -> Console:
    """A rich console for trace output.

    Args:
        file: where to write (default: ``sys.stdout`` at the time of each print).
        color: ``True`` forces colours, ``False`` turns them off, ``None``
            lets rich decide (colours on a terminal only; ``NO_COLOR`` off).
    """
    if color is None:
        return Console(file=file, highlight=False)
    if color:
        return Console(file=file, highlight=False, force_terminal=True)
    return Console(file=file, highlight=False, no_color=True, color_system=None)


def _value(v: Any) -> str:
    if isinstance(v, str):
        return v if v and v.isprintable() and " " not in v else json.dumps(v)
    try:
        return json.dumps(v, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # pragma: no cover - circular or odd keys
        return repr(v)


def _details(data: Mapping[str, Any]) -> str:
    text = " ".join(f"{k}={_value(v)}" for k, v in data.items())
    if len(text) > _DATA_LIMIT:
        text = text[: _DATA_LIMIT - 1] + "…"
    return text


def format_event(ev: TraceEvent, t0: float = 0.0) -> Text:
    """One line for a trace event: seq, case time, kind, name, token, region, data.

    Args:
        ev: the event.
        t0: the case's start time; the line shows ``ev.time - t0`` seconds.

    Returns:
        A rich ``Text`` (``str(...)`` of it is the plain line).
    """
    style = kind_style(ev.kind)
    name = "" if ev.name is None else str(ev.name)
    tok = "" if ev.token is None else f"#{ev.token}"
    where = "" if ev.scope is None else f"[{ev.scope}]"
    line = Text()
    line.append(f"{ev.seq:5d} {ev.time - t0:9.3f}s  ", style="dim")
    line.append(f"{ev.kind:<22}", style=style)
    line.append(f" {name:<24}", style=style if ev.kind.startswith("task_") else "")
    line.append(f" {tok:<5} {where}", style="dim")
    if ev.data:
        line.append(" " + _details(ev.data))
    line.rstrip()
    return line


class EventPrinter:
    """Prints trace events as they come: a callable for a ``wf.CallbackSink``.

    Pass it as a sink, ``wf.open_substrate(sinks=[wf.CallbackSink(EventPrinter())])``,
    and every case's events are printed as the runtime records them.  Each
    case's times are shown relative to its first event.

    Args:
        console: where to print (default: :func:`make_console`).
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console if console is not None else make_console()
        self.events = 0
        self._t0: dict[str, float] = {}

    def __call__(self, ev: TraceEvent) -> None:
        """Print ``ev`` on one line."""
        t0 = self._t0.setdefault(ev.case_id, ev.time)
        self.events += 1
        self.console.print(format_event(ev, t0), soft_wrap=True)

    def start_of(self, case_id: str) -> float | None:
        """The time of the first event printed for ``case_id``, or ``None``."""
        return self._t0.get(case_id)


def print_trace(events: Iterable[TraceEvent], console: Console | None = None) -> None:
    """Print ``events`` one line each (times relative to each case's first event)."""
    printer = EventPrinter(console)
    for ev in events:
        printer(ev)


def _count(trace: Iterable[TraceEvent], *kinds: str) -> int:
    return sum(1 for ev in trace if ev.kind in kinds)


def summary_table(
    result: Any,
    *,
    duration: float | None = None,
    clock: str = "virtual",
    effects: Mapping[str, int] | None = None,
) -> Table:
    """A table summing up a finished case.

    Args:
        result: a ``wf.CaseResult``.
        duration: the case's duration in trio seconds; by default the time
            between its first and last trace events.
        clock: ``"virtual"`` or ``"real"``, said next to the duration.
        effects: counts ``started`` / ``completed`` / ``cancelled`` (e.g.
            from ``sub.stats()``); by default counted from the trace.

    Returns:
        A rich ``Table`` with the state, steps, events, effects, signals,
        duration, final ctx and, for a failed or cancelled case, why.
    """
    trace = list(result.trace)
    if effects is None:
        effects = {
            "started": _count(trace, "effect_requested"),
            "completed": _count(trace, "effect_completed"),
            "cancelled": _count(trace, "effect_cancelled"),
        }
    if duration is None:
        duration = trace[-1].time - trace[0].time if trace else 0.0
    state = str(result.state)
    table = Table(title=f"case {result.case_id}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("state", Text(state, style=_FINAL_STYLES.get(state, "")))
    table.add_row("steps", str(result.steps))
    table.add_row("events", str(len(trace)))
    failed = _count(trace, "effect_failed")
    table.add_row(
        "effects",
        f"{effects['started']} started, {effects['completed']} completed, "
        f"{failed} failed, {effects['cancelled']} cancelled",
    )
    table.add_row(
        "signals",
        f"{_count(trace, 'signal_received')} received, {_count(trace, 'signal_consumed')} "
        f"consumed, {_count(trace, 'signal_dropped')} dropped",
    )
    table.add_row("duration", f"{duration:.3f} s ({clock} time)")
    table.add_row("ctx", json.dumps(result.ctx, sort_keys=True, default=repr))
    if result.reason is not None:
        table.add_row("reason", str(result.reason))
    if result.error is not None:
        table.add_row("error", f"{type(result.error).__name__}: {result.error}")
    return table


def print_result(result: Any, *, title: str | None = None, console: Console | None = None) -> None:
    """Print a finished case: a title rule, its trace, then its summary table."""
    console = console if console is not None else make_console()
    if title is not None:
        console.rule(title, align="left")
    print_trace(result.trace, console)
    console.print(summary_table(result))
    console.print()
