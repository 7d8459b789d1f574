"""mkdocs hooks: render the docs' ```python no-run blocks as Python.

tests/test_docs.py runs every ```python block of the docs and skips those
fenced ```python no-run; Markdown's fenced-code extension does not accept
a second word in the info string, so this hook drops it before rendering.
"""

from __future__ import annotations

import re
from typing import Any

_NO_RUN = re.compile(r"^(?P<fence>[ \t]*(?:`{3,}|~{3,}))(?P<lang>python|py) no-run[ \t]*$", re.M)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Turn ```python no-run fences into plain ```python fences."""
    return _NO_RUN.sub(r"\g<fence>\g<lang>", markdown)


_ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj):(<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Tidy the rendered page.

    * ``\\|`` (a pipe escaped inside a table's code span) is shown as ``|``:
      GitHub's tables need the escape, Python-Markdown keeps the backslash.
    * Sphinx roles left in docstrings (``:class:`Substrate```) are dropped,
      keeping the code span.
    """
    return _ROLE.sub(r"\1", html.replace("\\|", "|"))
