"""The web console of wftrio: an HTTP API and pages over a substrate or a store file.

``wftrio.web.app(sub_or_store)`` is a Starlette (ASGI) application: mount it
in your own trio program next to the substrate it shows, and serve it with
Hypercorn's trio worker in the same trio run (:func:`serve`), or run
``wftrio serve STORE``.  docs/CONSOLE.md describes the API and the pages.

:mod:`wftrio.web._timeline` draws a case from its trace (a timeline and the
workflow graph with the case's progress) as self-contained SVG and HTML,
with no web framework (``wftrio show STORE CASE --html out.html``).

Needs the ``web`` extra (``pip install 'wftrio[web]'``: Starlette and
Hypercorn); ``import wftrio`` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wftrio.web._app import app
    from wftrio.web._serve import serve

__all__ = ["app", "serve"]


def __getattr__(name: str) -> Any:
    # Starlette and Hypercorn load on first use of ``app`` or ``serve``, so
    # that the timeline (``wftrio show --html``) works without the extra.
    if name == "app":
        from wftrio.web._app import app

        return app
    if name == "serve":
        from wftrio.web._serve import serve

        return serve
    raise AttributeError(f"module 'wftrio.web' has no attribute {name!r}")
