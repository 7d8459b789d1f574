"""The command line: run (live trace, summary), replay, graph; mistakes are one
sentence with exit status 2, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wftrio.cli import main
from wftrio.serialize import read_jsonl

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE = str(EXAMPLES / "discriminator.py")
BLOCKING = EXAMPLE + ":BLOCKING"  # not the module's WORKFLOW: no default signals


def write_module(tmp_path: Path, source: str, name: str = "flow.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def test_run_prints_the_trace_a_summary_and_writes_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    code = main(["run", BLOCKING, "--signal", 'reply_b={"x": 1}@2', "--signal", "reply_a@3"])
    assert code == 1  # reply_c never comes: reported below
    capsys.readouterr()
    code = main(
        ["run", EXAMPLE, "--signal", 'reply_b={"x": 1}@2', "--trace-out", str(out)],
    )
    assert code == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    events = list(read_jsonl(out.read_text().splitlines()))
    # one line per event, in order, then the summary table
    event_lines = [ln for ln in lines if ln[:5].strip().isdigit()]
    assert len(event_lines) == len(events)
    for ln, ev in zip(event_lines, events, strict=True):
        assert ln.split()[0] == str(ev.seq)
        assert ev.kind in ln
    assert "2.000s  signal_received" in text
    assert "│ state    │ done" in text
    assert "│ steps    │ 10" in text
    assert "│ signals  │ 1 received, 1 consumed, 0 dropped" in text
    assert "│ duration │ 2.000 s (virtual time)" in text
    assert '"winner": "b"' in text
    assert events[0].kind == "case_started"
    (completed,) = [e for e in events if e.kind == "case_completed"]
    assert completed.time == 2.0  # virtual time: the signal came at 2 s


def test_events_are_shown_while_the_case_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the effect looks at what has been printed so far, one virtual second in
    target = write_module(
        tmp_path,
        """
        import sys
        import trio
        import wftrio as wf

        async def peek(ctx):
            await trio.sleep(1)
            return {"shown_before": "first_step" in sys.stdout.getvalue()}

        WORKFLOW = wf.seq(wf.task("first_step", lambda ctx: None), wf.task("peek", peek))
        """,
    )
    assert main(["run", target]) == 0
    assert '"shown_before": true' in capsys.readouterr().out


def test_effects_are_counted_in_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES / "cancel_region.py"), "--cancel-region", "search@3"]) == 0
    text = capsys.readouterr().out
    assert "│ effects  │ 3 started, 1 completed, 0 failed, 2 cancelled" in text
    assert "│ duration │ 3.500 s (virtual time)" in text


def test_colours_come_from_rich_by_kind(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", EXAMPLE]
    assert main([*args, "--color", "never"]) == 0
    assert "\x1b[" not in capsys.readouterr().out
    assert main([*args, "--color", "always"]) == 0
    coloured = capsys.readouterr().out
    task_line = next(ln for ln in coloured.splitlines() if "use_first_reply" in ln)
    signal_line = next(ln for ln in coloured.splitlines() if "signal_received" in ln)
    assert "\x1b[32m" in task_line  # green: a task completed
    assert "\x1b[1;35m" in signal_line  # bold magenta: a signal came in


def test_module_ctx_and_signals_are_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write_module(
        tmp_path,
        """
        import wftrio as wf

        WORKFLOW = wf.seq(
            wf.wait_signal("go", store_as="go"),
            wf.task("double", lambda ctx: {"twice": 2 * ctx["n"]}),
        )
        OTHER = WORKFLOW
        CTX = {"n": 21}
        SIGNALS = [(5, "go", "now")]
        """,
    )
    assert main(["run", target]) == 0
    text = capsys.readouterr().out
    assert '{"go": "now", "n": 21, "twice": 42}' in text
    assert "5.000s  signal_received" in text
    # --ctx and --signal replace the defaults
    assert main(["run", target, "--ctx", '{"n": 1}', "--signal", "go=1@1"]) == 0
    assert '{"go": 1, "n": 1, "twice": 2}' in capsys.readouterr().out
    # another attribute of the module gets no defaults
    assert main(["run", target + ":OTHER", "--ctx", '{"n": 1}']) == 1
    assert "blocked waiting for go" in capsys.readouterr().err


def test_a_case_blocked_on_signals_nobody_sends_is_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", BLOCKING]) == 1
    captured = capsys.readouterr()
    assert "blocked waiting for reply_a, reply_b, reply_c" in captured.err
    assert captured.err.count("\n") == 1
    assert "│ state    │ cancelled" in captured.out


def test_a_failing_case_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write_module(
        tmp_path,
        """
        import wftrio as wf

        def boom(ctx):
            raise RuntimeError("out of stock")

        WORKFLOW = wf.seq(wf.task("reserve", boom))
        """,
    )
    assert main(["run", target]) == 1
    captured = capsys.readouterr()
    assert "out of stock" in captured.err
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1
    assert "│ state    │ failed" in captured.out
    assert "task_failed" in captured.out


def test_replay_reports_identical_then_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    assert main(["run", BLOCKING, "--signal", "reply_a@1", "--trace-out", str(out)]) == 1
    capsys.readouterr()
    assert main(["replay", BLOCKING, str(out)]) == 0
    assert "identical" in capsys.readouterr().out
    lines = out.read_text().splitlines()
    changed = []
    for line in lines:
        ev = json.loads(line)
        if ev["kind"] == "signal_received":
            ev["data"]["payload"] = "tampered"
        changed.append(json.dumps(ev))
    out.write_text("\n".join(changed) + "\n")
    assert main(["replay", BLOCKING, str(out)]) == 1
    assert "differs at event" in capsys.readouterr().out


def test_replay_uses_the_ctx_the_trace_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write_module(
        tmp_path,
        """
        import wftrio as wf

        WORKFLOW = wf.task("double", lambda ctx: {"twice": 2 * ctx["n"]})
        CTX = {"n": 21}
        """,
    )
    out = tmp_path / "t.jsonl"
    assert main(["run", target, "--ctx", '{"n": 5}', "--trace-out", str(out)]) == 0
    capsys.readouterr()
    (started,) = [e for e in read_jsonl(out.read_text().splitlines()) if e.kind == "case_started"]
    assert started.data["ctx"] == {"n": 5}  # not the module's CTX: what the case started with
    assert main(["replay", target, str(out)]) == 0
    assert capsys.readouterr().out.startswith("identical:")
    # --ctx replaces the recorded ctx
    assert main(["replay", target, str(out), "--ctx", '{"n": 6}']) == 1
    assert "differs" in capsys.readouterr().out


def test_replay_of_a_seeded_example_needs_no_ctx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(EXAMPLES / "multiple_instances.py")
    out = tmp_path / "t.jsonl"
    assert main(["run", target, "--seed", "7", "--trace-out", str(out)]) == 0
    capsys.readouterr()
    assert main(["replay", target, str(out)]) == 0
    assert capsys.readouterr().out.startswith("identical:")
    # another ctx takes the case elsewhere: the recorded choices no longer fit
    assert main(["replay", target, str(out), "--ctx", '{"lines": []}']) == 1
    # (which check notices first depends on the step counts: an mi spawns one
    # instance per step, so an empty mi blocks before the next recorded choice)
    assert "the replay diverged: replay" in capsys.readouterr().err


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    lines = []
    for line in path.read_text().splitlines():
        ev = json.loads(line)
        change(ev)
        lines.append(json.dumps(ev))
    path.write_text("\n".join(lines) + "\n")


def test_replay_without_a_recorded_ctx_asks_for_ctx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    assert main(["run", EXAMPLE, "--trace-out", str(out)]) == 0
    capsys.readouterr()
    _rewrite(out, lambda ev: ev["data"].pop("ctx", None))  # e.g. written by sub.events()
    assert main(["replay", EXAMPLE, str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not record the case's initial ctx" in err
    assert "--ctx" in err
    assert err.count("\n") == 1
    assert main(["replay", EXAMPLE, str(out), "--ctx", "{}"]) == 0
    assert capsys.readouterr().out.startswith("identical:")


def _shift_input(kind: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(ev: dict[str, Any]) -> None:
        if ev["kind"] == kind:
            for key, value in fields.items():
                if key == "at_step":
                    ev["data"]["at_step"] = value
                else:
                    ev[key] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_shift_input("signal_received", at_step=-1), "is recorded at step -1, behind step 0"),
        (_shift_input("signal_received", time=math.inf), "at time inf, which never comes"),
        (_shift_input("signal_received", time=1e300), "at time 1e+300, which never comes"),
        (_shift_input("signal_received", time=math.nan), "which never comes"),
        (_shift_input("signal_received", time=-2.0), "at time -2.0, which never comes"),
    ],
)
def test_a_replay_that_can_never_reach_an_input_fails_at_once(
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "t.jsonl"
    args = ["--signal", "reply_a@1", "--signal", "reply_b@2", "--trace-out", str(out)]
    assert main(["run", BLOCKING, *args]) == 1
    capsys.readouterr()
    _rewrite(out, change)
    assert main(["replay", BLOCKING, str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("wftrio: the replay diverged: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_replay_whose_inputs_go_back_in_steps_or_time_fails_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    args = ["--signal", "reply_a@1", "--signal", "reply_b@2", "--trace-out", str(out)]
    assert main(["run", BLOCKING, *args]) == 1
    capsys.readouterr()
    text = out.read_text()

    def second_signal(**fields: Any) -> Callable[[dict[str, Any]], None]:
        seen = []

        def change(ev: dict[str, Any]) -> None:
            if ev["kind"] == "signal_received":
                seen.append(ev)
                if len(seen) == 2:
                    _shift_input("signal_received", **fields)(ev)

        return change

    _rewrite(out, second_signal(time=0.5))
    assert main(["replay", BLOCKING, str(out)]) == 1
    assert "behind time 1.0 of the input before it" in capsys.readouterr().err
    steps = [
        e.data["at_step"] for e in read_jsonl(text.splitlines()) if e.kind == "signal_received"
    ]
    out.write_text(text)
    _rewrite(out, second_signal(at_step=steps[0] - 1))
    assert main(["replay", BLOCKING, str(out)]) == 1
    assert f"is recorded at step {steps[0] - 1}, behind step {steps[0]}" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("at_step", [None, [1], {"n": 1}])
def test_a_replay_of_an_input_whose_step_is_no_number_is_refused_in_one_line(
    tmp_path: Path, at_step: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    args = ["--signal", "reply_a@1", "--signal", "reply_b@2", "--trace-out", str(out)]
    assert main(["run", BLOCKING, *args]) == 1
    capsys.readouterr()
    _rewrite(out, _shift_input("signal_received", at_step=at_step))
    assert main(["replay", BLOCKING, str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wftrio: ")
    assert "at_step" in err
    assert "Traceback" not in err


def test_run_takes_the_module_handler_and_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write_module(
        tmp_path,
        """
        import wftrio as wf

        class Shop:
            async def handle(self, effect, ctx):
                return {"paid": effect.payload["amount"]}

        def pay(ctx):
            return wf.Effect("payment", {"amount": ctx["amount"]})

        WORKFLOW = wf.seq(wf.task("pay", pay), wf.task("pay_again", pay))
        OTHER = wf.task("pay", pay)
        HANDLER = Shop()
        CTX = {"amount": 7}
        OPTIONS = {"budget": wf.Budget(max_effects=1)}
        """,
    )
    out = tmp_path / "t.jsonl"
    # OPTIONS' budget allows one effect: the second fails the case
    assert main(["run", target, "--trace-out", str(out)]) == 1
    captured = capsys.readouterr()
    assert '"paid": 7' in captured.out
    assert "budget" in captured.err.lower()
    # the replay uses the same OPTIONS (and HANDLER): the same trace
    assert main(["replay", target, str(out)]) == 0
    assert capsys.readouterr().out.startswith("identical:")
    # HANDLER serves every workflow of the module; OPTIONS and CTX only WORKFLOW
    assert main(["run", target + ":OTHER", "--ctx", '{"amount": 3}']) == 0
    assert '"paid": 3' in capsys.readouterr().out


def test_run_the_effects_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES / "effects_demo.py"), "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "│ state    │ done" in out
    assert "outcome=disallowed" in out
    assert '"refunded": 6' in out


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("OPTIONS = [1]", "OPTIONS must be a dict with str keys, not list"),
        ("CTX = {1: 2}", "CTX must be a dict with str keys"),
        ("OPTIONS = {'budget': 'lots'}", "budget"),
        ("HANDLER = 42", "effect_handler"),
    ],
)
def test_bad_module_names_are_one_sentence(
    tmp_path: Path, source: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write_module(
        tmp_path, "import wftrio as wf\nWORKFLOW = wf.task('t', lambda ctx: None)\n" + source
    )
    assert main(["run", target]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_prints_a_diagram(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(EXAMPLES / "cancel_region.py"), "--format", fmt]) == 0
    text = capsys.readouterr().out
    if fmt == "mermaid":
        assert text.startswith("flowchart TD\n")
        assert 'subgraph c0["region search"]' in text
        assert '-.->|"on cancel"|' in text
    else:
        assert text.startswith("digraph workflow {\n")
        assert "subgraph cluster_c0 {" in text
        assert 'label="on cancel"' in text
    for task in ("plan", "hold_flight", "hold_hotel", "check_visa", "summarise"):
        assert f'"{task}"' in text


def test_graph_defaults_to_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(EXAMPLES / "vending_machine.py")]) == 0
    assert capsys.readouterr().out.startswith("flowchart TD\n")


def test_python_dash_m_wftrio(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "wftrio", "run", EXAMPLE, "--color", "never"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "case_completed" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "wftrio", "run", "no_such_module_xyz"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("wftrio: cannot load 'no_such_module_xyz'")
    assert "Traceback" not in proc.stderr


def test_unknown_format_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", EXAMPLE, "--format", "png"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wftrio: ")
    assert "invalid choice: 'png'" in err
    assert "wftrio graph --help" in err
    assert err.count("\n") == 1


def test_an_option_value_starting_with_a_dash_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # found by hypothesis: argparse took "-:" for an option and printed usage
    assert main(["run", EXAMPLE, "--ctx", "-:"]) == 2
    err = capsys.readouterr().err
    assert err == "wftrio: argument --ctx: expected one argument (see 'wftrio run --help')\n"


def _bad_module(tmp_path: Path) -> str:
    return write_module(
        tmp_path,
        """
        import wftrio as wf

        WORKFLOW = wf.wait_signal("go")
        SIGNALS = [("soon", "go", None)]
        """,
        name="bad_signals.py",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no_such_module_xyz:W"], "cannot load 'no_such_module_xyz'"),
        (["run", "missing/file.py"], "no such file"),
        (["run", ":WORKFLOW"], "names no module or file"),
        (["run", "wftrio.terms:seq"], "not a workflow term"),
        (["run", "wftrio.terms:NOPE"], "has no attribute 'NOPE'"),
        (["run", EXAMPLE, "--ctx", "{bad"], "--ctx is not valid JSON"),
        (["run", EXAMPLE, "--ctx", "[1]"], "--ctx must be a JSON object"),
        (["run", EXAMPLE, "--signal", "reply_a@soon"], "is not a number"),
        (["run", EXAMPLE, "--signal", "reply_a@-1"], "must be from 0 to 1e+09 seconds"),
        (["run", EXAMPLE, "--signal", "reply_a@inf"], "must be from 0 to 1e+09 seconds"),
        (["run", EXAMPLE, "--signal", "reply_a@nan"], "must be from 0 to 1e+09 seconds"),
        (["run", EXAMPLE, "--signal", "reply_a@1e300"], "must be from 0 to 1e+09 seconds"),
        (["run", EXAMPLE, "--cancel-region", "x@-inf"], "must be from 0 to 1e+09 seconds"),
        (["run", EXAMPLE, "--signal", "reply_a={x}"], "payload of --signal reply_a is not valid"),
        (["run", EXAMPLE, "--signal", "=1"], "expected NAME[=JSON][@SECONDS]"),
        (
            ["run", EXAMPLE, "--signal", "reply_d=1"],
            "signal 'reply_d' is never waited for by this workflow (it waits for reply_a, "
            "reply_b, reply_c)",
        ),
        (["run", EXAMPLE, "--cancel-region", "nope@1"], "the workflow has no such region"),
        (["run", EXAMPLE, "--trace-out", "/no/such/dir/t.jsonl"], "cannot write"),
        (["replay", EXAMPLE, "/no/such/trace.jsonl"], "cannot read"),
        (["graph", "no_such_module_xyz"], "cannot load"),
    ],
)
def test_mistakes_are_one_sentence_and_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_bad_module_signals_are_a_mistake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", _bad_module(tmp_path)]) == 2
    assert "SIGNALS must be a list of (seconds, name, payload)" in capsys.readouterr().err


def test_a_trace_file_that_is_not_a_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"not": "an event"}\n')
    assert main(["replay", EXAMPLE, str(bad)]) == 2
    assert "is not a wftrio trace" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["replay", EXAMPLE, str(empty)]) == 2
    assert "holds no events" in capsys.readouterr().err


def test_validate_a_clean_example_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "order_fulfilment.py")]) == 0
    out = capsys.readouterr().out
    assert "0 error(s)" in out


def test_validate_reports_a_deadlock_with_its_witness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write_module(
        tmp_path,
        """
        import wftrio as wf
        from wftrio.patterns import critical_section

        def work(ctx):
            return None

        WORKFLOW = wf.par(
            critical_section("a", critical_section("b", wf.task("x", work), section="ab"),
                             section="a1"),
            critical_section("b", critical_section("a", wf.task("y", work), section="ba"),
                             section="b1"),
        )
        """,
    )
    assert main(["validate", target]) == 1
    out = capsys.readouterr().out
    assert "WF202" in out
    assert "task('ab:acquire')" in out  # the witness path names the steps taken
    assert "1 error(s)" in out


def test_validate_uses_the_declared_signal_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write_module(
        tmp_path,
        """
        import wftrio as wf

        WORKFLOW = wf.seq(wf.wait_signal("go"), wf.task("z", lambda ctx: None))
        """,
    )
    assert main(["validate", target, "--signals", "go"]) == 0
    capsys.readouterr()
    assert main(["validate", target, "--signals", "other"]) == 1
    assert "WF105" in capsys.readouterr().out


def test_validate_bad_bounds_are_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", EXAMPLE, "--max-states", "-3"]) == 2
    err = capsys.readouterr().err
    assert "max_states" in err
    assert err.count("\n") == 1


_TIMES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["inf", "-inf", "nan", "1e300", "-0", "1e9", "1e10", "", "@", "0x10"]),
    st.text(max_size=8),
)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["reply_a", "reply_b", "nope", "", "=", "reply_a=", "reply_a={"]),
    when=_TIMES,
    ctx=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["{}", "[]", "null", "{"])),
)
def test_malformed_command_lines_are_one_line_never_a_traceback(
    name: str, when: str, ctx: str | None
) -> None:
    argv = ["run", EXAMPLE, "--color", "never", "--signal", f"{name}@{when}"]
    if ctx is not None:
        argv += ["--ctx", ctx]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code in (0, 1, 2)
    if code == 2:
        assert err.getvalue().startswith("wftrio: ")
        assert err.getvalue().count("\n") == 1
    if code != 2:  # accepted: a finite time the case can reach
        seconds = float(when)
        assert math.isfinite(seconds)
        assert 0 <= seconds <= 1e9


@pytest.mark.parametrize("target", ["no_such_module_\x1e/", "bad\nname.py", "x\u2028y"])
def test_unprintable_characters_in_a_mistake_are_escaped(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    # found by hypothesis: "\x1e" in a target split the one-line error in two
    assert main(["run", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wftrio: ")
    assert len(err.splitlines()) == 1
