"""examples/effects_demo.py runs, prints its trace and receipts, and does what it says."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import trio
import trio.testing

import wftrio as wf

DEMO = Path(__file__).resolve().parent.parent / "examples" / "effects_demo.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("effects_demo", DEMO)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_demo_runs_as_a_script() -> None:
    proc = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout.splitlines()
    assert any("case_started" in line for line in out)
    assert any(line.startswith("-> done:") for line in out)
    receipts = out[out.index("receipts:") + 1 :]
    outcomes = {line.split()[3] for line in receipts if line.startswith("  ")}
    assert {"ok", "disallowed"} <= outcomes
    assert any("attempts=3" in line for line in receipts)
    assert out[-1].startswith("replayed: identical receipts")


def test_demo_outcome() -> None:
    demo = load()
    assert isinstance(demo.WORKFLOW, wf.Term)
    res, receipts, usage, services = trio.run(
        demo.main, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    assert res.state is wf.CaseState.DONE
    assert res.ctx["notified"] is False
    assert res.ctx["refunded"] == 6
    by_task = {r.task: r for r in receipts if r.source != "step"}
    assert (by_task["charge"].outcome, by_task["charge"].attempts) == ("ok", 3)
    assert by_task["notify"].outcome == "disallowed"
    decisions = [r.detail for r in receipts if r.kind == "approval"]
    assert [d["approval:refund"]["by"] for d in decisions if d] == ["mallory", "ann"]
    assert (usage.effects, usage.cost) == (3, 2.0)
    # the payment key was retried, never executed twice
    keys = [k for kind, k, _ in services.calls if kind == "payment"]
    assert len(set(keys)) == 1
    assert len(keys) == 3
