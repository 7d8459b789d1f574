"""wftrio.console: event lines, colours by kind, the summary table."""

from __future__ import annotations

import io

import pytest

import wftrio as wf
from wftrio.console import (
    EventPrinter,
    format_event,
    kind_style,
    make_console,
    print_result,
    summary_table,
)
from wftrio.trace import EventKind, TraceEvent


def test_every_kind_has_a_style_and_later_kinds_get_their_family() -> None:
    for kind in EventKind:
        assert kind_style(kind), kind
    assert kind_style("effect_retried") == "cyan"
    assert kind_style("receipt") == "cyan"
    assert kind_style("task_skipped") == "green"
    assert kind_style("something_new") == ""
    assert kind_style("case_failed") == "bold red"


def test_format_event_shows_every_field() -> None:
    ev = TraceEvent(
        7, "c1", "task_completed", "pack", 3, "payment", 12.5, {"packed": True, "box": "L 2"}
    )
    line = format_event(ev, t0=10.0)
    assert str(line).split() == [
        "7",
        "2.500s",
        "task_completed",
        "pack",
        "#3",
        "[payment]",
        "packed=true",
        'box="L',
        '2"',
    ]
    assert line.spans  # styled, not plain


def test_long_data_is_cut_on_the_line() -> None:
    ev = TraceEvent(0, "c", "task_completed", "t", data={"blob": "x" * 500})
    text = str(format_event(ev))
    assert text.endswith("…")
    assert len(text) < 300


def test_printer_times_each_case_from_its_first_event() -> None:
    buf = io.StringIO()
    printer = EventPrinter(make_console(buf, color=False))
    printer(TraceEvent(0, "a", "case_started", time=100.0))
    printer(TraceEvent(0, "b", "case_started", time=200.0))
    printer(TraceEvent(1, "a", "case_completed", time=103.0))
    lines = buf.getvalue().splitlines()
    assert [ln.split()[1] for ln in lines] == ["0.000s", "0.000s", "3.000s"]
    assert printer.events == 3
    assert printer.start_of("b") == 200.0
    assert printer.start_of("zzz") is None


@pytest.mark.parametrize(("color", "ansi"), [(True, True), (False, False), (None, False)])
def test_make_console_colours(color: bool | None, ansi: bool) -> None:
    buf = io.StringIO()  # not a terminal: rich decides "no colour" for None
    make_console(buf, color=color).print(format_event(TraceEvent(0, "c", "case_failed")))
    assert ("\x1b[" in buf.getvalue()) is ansi


def test_print_result_and_summary_of_a_failed_case() -> None:
    def boom(ctx: object) -> None:
        raise ValueError("no stock")

    with pytest.raises(wf.CaseFailed) as exc:
        wf.run(wf.seq(wf.task("ok", lambda ctx: {"n": 1}), wf.task("boom", boom)))
    result = exc.value.result
    assert result is not None
    buf = io.StringIO()
    print_result(result, title="a failing case", console=make_console(buf, color=False))
    text = buf.getvalue()
    assert text.startswith("a failing case ─")
    assert "task_failed" in text
    assert "│ state    │ failed" in text
    assert "│ error    │ ValueError: no stock" in text
    assert '│ ctx      │ {"n": 1}' in text
    table = summary_table(
        result, duration=4.0, clock="real", effects={"started": 2, "completed": 1, "cancelled": 1}
    )
    buf = io.StringIO()
    make_console(buf, color=False).print(table)
    assert "│ duration │ 4.000 s (real time)" in buf.getvalue()
    assert "│ effects  │ 2 started, 1 completed, 0 failed, 1 cancelled" in buf.getvalue()
