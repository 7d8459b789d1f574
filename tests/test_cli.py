"""The command line: run (live trace, summary), replay, graph; mistakes are one
sentence with exit status 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


def test_replay_uses_the_module_ctx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = str(EXAMPLES / "multiple_instances.py")
    out = tmp_path / "t.jsonl"
    assert main(["run", target, "--seed", "7", "--trace-out", str(out)]) == 0
    capsys.readouterr()
    assert main(["replay", target, str(out)]) == 0
    assert capsys.readouterr().out.startswith("identical:")
    assert main(["replay", target, str(out), "--ctx", '{"lines": []}']) == 1
    assert "differs" in capsys.readouterr().out


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


def test_unknown_format_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["graph", EXAMPLE, "--format", "png"])
    assert exc.value.code == 2
    assert "invalid choice: 'png'" in capsys.readouterr().err


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
        (["run", EXAMPLE, "--signal", "reply_a@-1"], "must be >= 0 seconds"),
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
