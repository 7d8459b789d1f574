"""Case ids in URL paths: any string, ``/`` included, one path segment each."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

if TYPE_CHECKING:  # no Starlette needed to draw links (``wftrio show --html``)
    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SegmentedPath", "case_id_of", "case_path"]


def case_path(case_id: str) -> str:
    """``case_id`` as one path segment (every reserved character percent-encoded)."""
    return quote(case_id, safe="")


class SegmentedPath:
    """Route on the path's segments as sent, so that a case id may hold ``/``.

    A client sends such an id percent-encoded (``/api/cases/a%2Fb/trace``);
    the server decodes the whole path before routing, which would make two
    segments of it.  This wrapper rebuilds ``scope["path"]`` from the raw
    path with each segment decoded on its own and ``%`` and ``/`` inside it
    escaped again, so every route sees one segment per id;
    :func:`case_id_of` undoes the escape.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            segs = (
                raw.split(b"?", 1)[0].decode("latin-1").split("/")
                if raw
                else scope["path"].split("/")
            )
            decode = (lambda seg: unquote(seg, errors="replace")) if raw else (lambda seg: seg)
            path = "/".join(decode(seg).replace("%", "%25").replace("/", "%2F") for seg in segs)
            scope = {**scope, "path": path}
        await self.app(scope, receive, send)


def case_id_of(request: Request) -> str:
    """The case id a request's path names (see :class:`SegmentedPath`)."""
    return unquote(request.path_params["case_id"])
