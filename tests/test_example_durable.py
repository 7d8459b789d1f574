"""examples/durable_order.py: stopped with Ctrl-C (SIGINT) while its order
waits, and started again, it resumes the order and finishes it."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from wftrio.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "durable_order.py"
FAILSAFE = 60.0  # seconds: a hung script fails the test instead of stalling it


def test_durable_order_survives_ctrl_c_and_resumes(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, str(SCRIPT), "--db", str(db)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env) as p:
        assert p.stdout is not None
        first = p.stdout.readline().strip()
        assert first == "started order-1: waits for paid, a timer"
        p.send_signal(signal.SIGINT)
        rest = p.stdout.read()
        assert p.wait(timeout=FAILSAFE) == 0
    assert rest.strip() == "stopped: run again to resume"
    again = subprocess.run(
        [*args, "--pay", "30"], capture_output=True, text=True, env=env, timeout=FAILSAFE
    )
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[0] in (
        "resumed order-1: waits for paid, a timer",
        "resumed order-1: waits for paid",  # the packing timer had fired already
    )
    assert lines[1] == "paid order-1: 30"
    head, _, ctx = lines[2].partition(": ")
    assert head == "order-1 done"
    # the key order of the ctx depends on whether the packing timer fired
    # before the payment: compare the dict, not its repr
    assert ast.literal_eval(ctx) == {
        "item": "book",
        "reserved": "book",
        "payment": 30,
        "packed": True,
        "shipped": "book for 30",
    }
    assert len(lines) == 3
    third = subprocess.run(args, capture_output=True, text=True, env=env, timeout=FAILSAFE)
    assert third.returncode == 0, third.stderr
    assert third.stdout == f"no unfinished order in {db}\n"  # order-1 finished: not resumed


def test_durable_order_pays_in_one_run_and_runs_under_wftrio_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What ``nox -s examples`` runs: ``--pay`` on a fresh file, and ``wftrio run``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, str(SCRIPT), "--db", str(tmp_path / "c.db"), "--pay", "30"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=FAILSAFE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("order-1 done: ")
    assert cli_main(["run", str(SCRIPT)]) == 0
    assert "shipped" in capsys.readouterr().out
