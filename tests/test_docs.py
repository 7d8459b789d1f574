"""Every ```python block in docs/*.md and README.md runs, so the docs cannot rot.

Blocks of one file run in order in one shared namespace (a later block may
use what an earlier one defined).  A block that is not meant to run is
fenced as ```python no-run (or as ```text / ```console).
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("**/*.md")) + [p for p in [ROOT / "README.md"] if p.exists()]

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """Return ``(line, source)`` of every runnable python block in ``text``.

    A block runs when its info string is exactly ``python`` (or ``py``);
    ``python no-run`` and any other language are skipped.
    """
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence, info = m["fence"], m["info"].strip()
        start = i + 1
        j = start
        while j < len(lines):
            close = _FENCE.match(lines[j])
            if (
                close is not None
                and close["fence"][0] == fence[0]
                and len(close["fence"]) >= len(fence)
                and not close["info"].strip()
            ):
                break
            j += 1
        if info in ("python", "py"):
            indent = len(m["indent"])
            body = [ln[indent:] if ln[:indent].isspace() else ln for ln in lines[start:j]]
            blocks.append((start + 1, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def test_block_extraction() -> None:
    text = (
        "intro\n```python\nx = 1\n```\n"
        "```python no-run\nraise SystemExit\n```\n"
        "````markdown\n```python\nnot = code\n```\n````\n"
        "```text\nnope\n```\n```py\ny = x + 1\n```\n"
    )
    assert python_blocks(text) == [(3, "x = 1\n"), (17, "y = x + 1\n")]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_code_blocks_run(path: Path) -> None:
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": f"docs.{path.stem}"}
    for line, source in blocks:
        name = f"{path.relative_to(ROOT)}:{line}"
        code = compile(source, name, "exec")
        try:
            exec(code, namespace)
        except Exception as exc:  # pragma: no cover - the failure report
            linenos = [
                f.lineno
                for f in traceback.extract_tb(exc.__traceback__)
                if f.filename == name and f.lineno is not None
            ]
            at = line + linenos[-1] - 1 if linenos else line
            pytest.fail(
                f"{name}: the block starting at line {line} raised at line {at}: "
                f"{type(exc).__name__}: {exc}\n---\n{source}",
                pytrace=False,
            )


# ---------------------------------------------------------------------------
# docs/PATTERNS.md: its table must say what the code does

PATTERNS_MD = ROOT / "docs" / "PATTERNS.md"


def _pattern_samples() -> dict[int, Any]:
    """A small instance of every catalogued pattern, over pure tasks a, b, c."""
    import wftrio as wf
    from wftrio import patterns as P

    a, b, c = (wf.task(n, lambda ctx: None) for n in "abc")

    def yes(ctx: Any) -> bool:
        return True

    reg = wf.Registry()
    reg.register("a", a)
    return {
        1: P.sequence(a, b),
        2: P.parallel_split(a, b),
        3: P.synchronization(a, b),
        4: P.exclusive_choice(wf.branch(yes, a), b),
        5: P.simple_merge(a, b),
        6: P.multi_choice(wf.branch(yes, a), b),
        7: P.structured_synchronizing_merge(wf.branch(yes, a), b),
        8: P.multi_merge(a, b, then=c),
        9: P.discriminator(a, b, c),
        10: P.arbitrary_cycles("a", {"a": (a, [(yes, "b"), wf.END]), "b": (b, "a")}),
        12: P.mi_without_sync(a, count=2),
        13: P.mi_with_design_time_knowledge(a, count=2),
        14: P.mi_with_runtime_knowledge(a, count=lambda ctx: 2),
        15: P.mi_without_a_priori_runtime_knowledge(a, more_on="add", close_on="close"),
        16: P.deferred_choice(wf.on_signal("s", a), wf.after(1, b)),
        17: P.interleaved_parallel_routing([a, b], c),
        18: P.milestone("m", a, otherwise=b),
        19: P.cancel_activity("r", a),
        21: wf.seq(  # every loop policy
            P.structured_loop(a, times=2),
            P.structured_loop(b, while_=yes),
            P.structured_loop(c, until=yes),
        ),
        22: P.recursion("a", registry=reg, ctx_in=["x"], ctx_out=["y"]),
        24: P.persistent_trigger("s"),
        25: P.cancel_region("r", wf.seq(a, b), compensate=c),
        26: P.cancel_mi_activity("r", a, count=2),
        27: P.complete_mi_activity(a, count=2, until=yes, complete_on="stop"),
        28: P.blocking_discriminator(a, b),
        29: P.cancelling_discriminator(a, b),
        30: P.partial_join(2, a, b, c),
        31: P.blocking_partial_join(2, a, b, c),
        32: P.cancelling_partial_join(2, a, b, c),
        33: P.generalised_and_join(wf.seq(a, wf.halt()), b),
        34: P.static_partial_join_mi(a, 2, count=3),
        35: P.cancelling_partial_join_mi(a, 2, count=3),
        36: P.dynamic_partial_join_mi(a, yes, more_on="add", close_on="close"),
        37: P.local_synchronizing_merge(wf.branch(yes, wf.halt()), b),
        38: P.general_synchronizing_merge(wf.loop(wf.seq(a, wf.halt()), times=2), b),
        39: P.critical_section("L", a),
        40: P.interleaved_routing(a, b),
        41: P.thread_merge(2, a),
        42: P.thread_split(3, a),
        43: P.explicit_termination(),
    }


def _pattern_rows() -> dict[int, list[str]]:
    text = PATTERNS_MD.read_text(encoding="utf-8")
    table = text[text.index("## The table") : text.index("## Left out")]
    rows: dict[int, list[str]] = {}
    for line in table.splitlines():
        if not line.startswith("| ") or line.startswith("| WCP"):
            continue
        # split on pipes that are not escaped (``\|`` inside a code span)
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[int(cells[0])] = cells
    return rows


def _test_ids() -> set[str]:
    """Every test of tests/ as ``file.py::name`` and ``file.py::Class::name``."""
    import ast

    ids: set[str] = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                ids.add(f"{path.name}::{node.name}")
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        ids.add(f"{path.name}::{node.name}::{item.name}")
    return ids


def test_patterns_table_has_a_row_per_catalogue_entry() -> None:
    import inspect

    from wftrio.patterns import CATALOGUE

    rows = _pattern_rows()
    assert set(CATALOGUE) <= set(rows)
    for n, cells in rows.items():
        if n not in CATALOGUE:
            assert cells[2].startswith("(behaviour"), f"WCP-{n} is not in CATALOGUE"
            continue
        name, fn = CATALOGUE[n]
        assert f"(`{name}`)" in cells[1], (n, cells[1])
        # the term form is the one the function's docstring states
        doc = " ".join((inspect.getdoc(fn) or "").split())
        m = re.search(r"Term form: ``(.+?)``", doc)
        if m is not None:
            assert cells[2] == f"`{m.group(1)}`", (n, cells[2], m.group(1))


def test_patterns_table_names_the_instructions_the_compiler_emits() -> None:
    import wftrio as wf
    from wftrio.engine._ops import OPS

    rows = _pattern_rows()
    samples = _pattern_samples()
    for n, term in samples.items():
        emitted = {i.op for i in wf.compile(term).instrs} - {"end", "task"}
        named = set(re.findall(r"`([a-z_]+)`", rows[n][3])) & set(OPS)
        named.discard("task")
        if n == 1:
            assert emitted == set(), "a sequence emits no instruction of its own"
            continue
        assert named == emitted, (n, rows[n][3], sorted(emitted))


def test_patterns_table_names_tests_that_exist() -> None:
    ids = _test_ids()
    named = 0
    for n, cells in _pattern_rows().items():
        refs = re.findall(r"`(test_[a-z_]+\.py::[A-Za-z_:0-9]+)`", cells[4])
        assert refs, f"WCP-{n} names no test"
        for ref in refs:
            assert ref in ids, f"WCP-{n}: {ref} does not exist"
            named += 1
    assert named >= 40
