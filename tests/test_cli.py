"""The command line: run, replay, errors as one sentence with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wftrio.cli import main
from wftrio.trace import read_jsonl

EXAMPLE = str(Path(__file__).parent.parent / "examples" / "discriminator.py")


def test_run_prints_the_trace_and_writes_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    code = main(["run", EXAMPLE, "--signal", 'reply_b={"x": 1}@2', "--trace-out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "case_completed" in text
    assert "state=done steps=" in text
    events = list(read_jsonl(out.read_text().splitlines()))
    assert events[0].kind == "case_started"
    completed = [e for e in events if e.kind == "case_completed"]
    assert completed
    assert completed[0].time == 2.0  # virtual time: the signal came at 2 s


def test_replay_reports_identical_then_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    assert main(["run", EXAMPLE, "--signal", "reply_a@1", "--trace-out", str(out)]) == 0
    capsys.readouterr()
    assert main(["replay", EXAMPLE, str(out)]) == 0
    assert "identical" in capsys.readouterr().out
    lines = out.read_text().splitlines()
    changed = []
    for line in lines:
        ev = json.loads(line)
        if ev["kind"] == "signal_received":
            ev["data"]["payload"] = "tampered"
        changed.append(json.dumps(ev))
    out.write_text("\n".join(changed) + "\n")
    assert main(["replay", EXAMPLE, str(out)]) == 1
    assert "differs at event" in capsys.readouterr().out


def test_a_case_blocked_on_signals_nobody_sends_is_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", EXAMPLE]) == 1
    err = capsys.readouterr().err
    assert "blocked waiting for reply_a" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no_such_module_xyz:W"], "cannot load 'no_such_module_xyz'"),
        (["run", "missing/file.py"], "no such file"),
        (["run", "wftrio.terms:seq"], "not a workflow term"),
        (["run", "wftrio.terms:NOPE"], "has no attribute 'NOPE'"),
        (["run", EXAMPLE, "--ctx", "{bad"], "--ctx is not valid JSON"),
        (["run", EXAMPLE, "--ctx", "[1]"], "--ctx must be a JSON object"),
        (["run", EXAMPLE, "--signal", "a=1@soon"], "is not a number"),
        (["replay", EXAMPLE, "/no/such/trace.jsonl"], "cannot read"),
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
