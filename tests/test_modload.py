"""One loader for user code named on a command line (``wftrio._modload``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import wftrio as wf
from wftrio._modload import load_module
from wftrio.cli import main
from wftrio.errors import CliError
from wftrio.serialize import dumps_trace

ROOT = Path(__file__).resolve().parents[1]

DATACLASS_FLOW = """
from __future__ import annotations
import dataclasses
import wftrio as wf

@dataclasses.dataclass
class Order:
    qty: int

def bump(ctx: dict) -> dict:
    return {"qty": Order(ctx.get("qty", 0) + 1).qty}

WORKFLOW = wf.seq(wf.task("a", bump), wf.task("b", bump))
"""


def test_a_file_with_string_annotated_dataclasses_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dataclasses look their module up in sys.modules while the file runs
    path = tmp_path / "orders_flow.py"
    path.write_text(DATACLASS_FLOW)
    assert main(["run", f"{path}:WORKFLOW"]) == 0
    assert '"qty": 2' in capsys.readouterr().out


def test_a_file_named_like_a_loaded_module_does_not_replace_it(tmp_path: Path) -> None:
    path = tmp_path / "json.py"
    path.write_text("VALUE = 41 + 1\n")
    module = load_module(str(path))
    assert module.VALUE == 42
    assert sys.modules["json"] is json
    assert module.__name__ != "json"


def test_failures_are_one_line_cli_errors_with_the_flag(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"^--workflows no such file: "):
        load_module(str(tmp_path / "missing.py"), "--workflows ")
    broken = tmp_path / "broken_flow.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(CliError, match=r"cannot load .*RuntimeError: boom"):
        load_module(str(broken))
    assert "broken_flow" not in sys.modules  # a failed load leaves nothing behind
    with pytest.raises(CliError, match="cannot load 'no_such_module_q'"):
        load_module("no_such_module_q")


def test_show_html_needs_no_web_extra(tmp_path: Path) -> None:
    # the timeline page is drawn without Starlette or Hypercorn
    result = wf.run(wf.task("x", lambda ctx: {"y": 1}), trace_level="full")
    trace = tmp_path / "t.jsonl"
    trace.write_text(dumps_trace(result.trace))
    out = tmp_path / "t.html"
    code = (
        "import sys\n"
        "sys.modules['starlette'] = None\n"
        "sys.modules['hypercorn'] = None\n"
        "from wftrio.cli import main\n"
        f"sys.exit(main(['show', {str(trace)!r}, '--html', {str(out)!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in out.read_text()
    import wftrio.web

    assert callable(wftrio.web.app)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = wftrio.web.nope  # type: ignore[attr-defined]
