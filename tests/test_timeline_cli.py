"""``wftrio show ... --html OUT``: a stored case or a JSON-lines trace as one
HTML page, with the real CLI (in this process, and in a fresh one where the
workflow is registered by the module ``--workflow`` names), real store
files and real traces."""

from __future__ import annotations

import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.cli import main
from wftrio.serialize import dumps_trace

ROOT = Path(__file__).resolve().parents[1]

BUILD = """
import wftrio as wf

def bump(ctx):
    return {"n": ctx.get("n", 0) + 1}

def build():
    return wf.seq(
        wf.task("a", bump),
        wf.par(
            wf.region("r", wf.wait_signal("never"), compensate=wf.task("undo", bump)),
            wf.wait_signal("go", "go"),
        ),
        wf.task("b", bump),
    )

WORKFLOW = build()
"""
REGISTER = '\nwf.register("tl-order", WORKFLOW, version=1)\n'


def build_term() -> wf.Term:
    ns: dict[str, Any] = {}
    exec(compile(BUILD, "flows", "exec"), ns)
    term: wf.Term = ns["WORKFLOW"]
    return term


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


async def make_store(db: Path) -> None:
    """c1 waits for 'go' (its region cancelled, compensated); c2 is done."""
    reg = wf.Registry()
    reg.register("tl-order", build_term(), version=1)
    async with wf.open_substrate(path=db, registry=reg) as sub:
        for cid in ("c1", "c2"):
            await sub.new_case("tl-order", {}, case_id=cid, trace_level="full")
            await sub.wait_state(cid, "waiting_signal")
            await sub.cancel_region(cid, "r")
        await sub.signal("c2", "go", 1)
        await sub.wait("c2")


def svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg .*?</svg>", page, re.S)]


def statuses(graph: ET.Element) -> dict[str, str]:
    return {
        str(el.get("data-label")): str(el.get("data-status"))
        for el in graph.iter("{http://www.w3.org/2000/svg}g")
        if "node" in el.get("class", "").split()
    }


def self_contained(page: str) -> bool:
    return re.search(r"""(?:src|href)\s*=""", page) is None


async def test_store_case_page_in_a_fresh_process_with_its_registered_workflow(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    (tmp_path / "flows.py").write_text(BUILD + REGISTER)
    out = tmp_path / "c1.html"
    proc = await trio.run_process(
        [sys.executable, "-m", "wftrio", "show", str(db), "c1", "--html", str(out)]
        + ["--workflow", str(tmp_path / "flows.py")],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"with its graph" in proc.stdout
    page = out.read_text()
    assert self_contained(page)
    assert "tl-order@1" in page
    timeline, graph = svgs(page)
    assert statuses(graph) == {
        "start": "done",
        "a": "done",
        "par": "done",
        "wait signal never": "cancelled",
        "undo": "done",
        "wait signal go → go": "waiting",
        "all": "waiting",
        "b": "not-reached",
        "end": "not-reached",
    }
    assert timeline.get("data-case") == "c1"


async def test_store_case_page_without_the_workflow_has_the_timeline_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    out = tmp_path / "c2.html"
    assert main(["show", str(db), "c2", "--html", str(out)]) == 0
    err = capsys.readouterr().err
    assert "no graph: workflow 'tl-order' version 1 is not registered" in err
    page = out.read_text()
    assert self_contained(page)
    (timeline,) = svgs(page)
    names = {el.get("data-name") for el in timeline.iter() if el.get("data-kind") == "task"}
    assert {"a", "undo", "b"} <= names


async def test_bad_input_is_one_sentence_exit_2_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    await make_store(db)
    before = db.read_bytes()
    out = tmp_path / "keep.html"
    out.write_text("old page")
    assert main(["show", str(db), "nope", "--html", str(out)]) == 2
    assert "the store holds no case 'nope'" in capsys.readouterr().err
    assert main(["show", str(db), "c1", "--html", str(tmp_path)]) == 2
    assert "it is a directory" in capsys.readouterr().err
    assert main(["show", str(db), "--html", str(out)]) == 2
    assert "name the case" in capsys.readouterr().err
    assert main(["show", str(db)]) == 2  # and without --html
    assert "name the case" in capsys.readouterr().err
    assert main(["show", str(db), "c1", "--html", str(out), "--workflow", "no_such_mod_x"]) == 2
    assert "cannot load 'no_such_mod_x'" in capsys.readouterr().err
    other = tmp_path / "other_flows.py"  # registers another workflow (in this process)
    other.write_text(BUILD + '\nwf.register("tl-other-' + tmp_path.name + '", WORKFLOW)\n')
    assert main(["show", str(db), "c1", "--html", str(out), "--workflow", str(other)]) == 2
    assert "does not register workflow 'tl-order' version 1" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["show", str(empty), "--html", str(out)]) == 2
    assert "holds no events" in capsys.readouterr().err
    assert out.read_text() == "old page"
    assert db.read_bytes() == before
    assert [p for p in os.listdir(tmp_path) if p.startswith(".wftrio-")] == []


def recorded(term: wf.Term, case_id: str, **kw: Any) -> list[wf.TraceEvent]:
    result = wf.run(
        term,
        case_id=case_id,
        trace_level="full",
        clock=trio.testing.MockClock(autojump_threshold=0),
        **kw,
    )
    return list(result.trace)


def test_trace_file_page_print_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    term = build_term()
    trace = tmp_path / "t.jsonl"
    one = recorded(term, "t1", signals=[("never", None), ("go", 2)])
    trace.write_text(dumps_trace(one))
    (tmp_path / "flows_term.py").write_text(BUILD)
    out = tmp_path / "t.html"
    target = f"{tmp_path / 'flows_term.py'}:WORKFLOW"
    assert main(["show", str(trace), "--html", str(out), "--workflow", target]) == 0
    page = out.read_text()
    assert self_contained(page)
    timeline, graph = svgs(page)
    assert set(statuses(graph).values()) == {"done"} | {"not-reached"}
    assert statuses(graph)["end"] == "done"
    # without --html: the trace, printed
    assert main(["show", str(trace)]) == 0
    assert "case_completed" in capsys.readouterr().out
    # a file holding two cases: CASE picks one
    two = recorded(wf.task("x", lambda ctx: None), "t2")
    trace.write_text(dumps_trace(one) + dumps_trace(two))
    assert main(["show", str(trace), "--html", str(out)]) == 2
    assert "holds 2 cases (t1, t2): name one as CASE" in capsys.readouterr().err
    assert main(["show", str(trace), "t2", "--html", str(out)]) == 0
    (timeline,) = svgs(out.read_text())
    assert timeline.get("data-case") == "t2"
    assert main(["show", str(trace), "t9", "--html", str(out)]) == 2
    assert "no events of case 't9'" in capsys.readouterr().err
    # not a trace
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": "x"}\n')
    assert main(["show", str(bad), "--html", str(out)]) == 2
    assert "is not a wftrio trace" in capsys.readouterr().err
    assert (timeline.get("data-case"), svgs(out.read_text())[0].get("data-case")) == ("t2", "t2")
    module_only = str(tmp_path / "flows_term.py")
    assert main(["show", str(trace), "t1", "--html", str(out), "--workflow", module_only]) == 2
    assert "name the term to draw as MODULE:ATTR" in capsys.readouterr().err
