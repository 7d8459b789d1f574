"""Every ```python block in docs/*.md and README.md runs, so the docs cannot rot.

Blocks of one file run in order in one shared namespace (a later block may
use what an earlier one defined).  A block that is not meant to run is
fenced as ```python no-run (or as ```text / ```console).
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

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
