"""``wftrio.web.app``: the Starlette application of the console (API, pages, static files)."""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from wftrio.errors import OptionError, WftrioError
from wftrio.registry import Registry
from wftrio.web._api import Api, JsonResponse, error_response
from wftrio.web._assets import CSS, JS
from wftrio.web._auth import ReadGuard, login, logout
from wftrio.web._openapi import openapi
from wftrio.web._pages import case_live_html, case_page, list_page
from wftrio.web._paths import SegmentedPath, case_id_of
from wftrio.web._source import as_source

__all__ = ["app"]


def _html_error(exc: WftrioError) -> Response:
    status = error_response(exc).status_code
    text = str(exc).replace("&", "&amp;").replace("<", "&lt;")
    return HTMLResponse(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{status}</title>'
        f'</head><body><p>{text}</p><p><a href="/">all cases</a></p></body></html>',
        status_code=status,
    )


def app(
    sub_or_store: Any,
    *,
    token: str | None = None,
    signal_tokens: Mapping[str, Set[str]] | None = None,
    registry: Registry | None = None,
    protect_reads: bool = False,
) -> Starlette:
    """The console as an ASGI application.

    Args:
        sub_or_store: a :class:`~wftrio.Substrate` open in the same trio run
            (its cases in memory or in a store file), or a store file path
            (or :class:`~wftrio.SQLiteStore`) to read while another process
            owns it: signals and cancellations then go through the store's
            inbox, and no case can be started.
        token: a bearer token every mutating call (``POST``) must carry
            (``Authorization: Bearer <token>``); ``None``: none needed,
            unless ``signal_tokens`` is given.
        signal_tokens: more tokens, each allowed only to send the signals
            named (``{"hook-secret": {"paid"}}``), for webhooks.
        registry: where a store file's workflows are looked up by name
            (for the graph; default: the one ``wf.workflow`` fills).
        protect_reads: every page and API read needs ``token`` too (a
            ``Bearer`` header, or the cookie ``/login`` sets in a browser);
            by default reading is open to whoever reaches the port.

    Returns:
        A Starlette application: the JSON API under ``/api``, pages at
        ``/`` and ``/cases/{id}``, assets under ``/static``.

    Raises:
        TypeError: ``sub_or_store`` is none of these.
        StoreError: a path that is no wftrio store.
        OptionError: a bad ``token`` or ``signal_tokens``, or
            ``protect_reads`` without ``token``.
    """
    if protect_reads and token is None:
        raise OptionError("protect_reads=True needs token=: the token reads are checked against")
    source = as_source(sub_or_store, registry)
    api = Api(source, token, signal_tokens)
    schema = openapi()

    async def index(request: Request) -> Response:
        return HTMLResponse(list_page(source, auth=api.auth))

    async def case(request: Request) -> Response:
        try:
            return HTMLResponse(case_page(source, case_id_of(request), auth=api.auth))
        except WftrioError as exc:
            return _html_error(exc)

    async def case_live(request: Request) -> Response:
        case_id = case_id_of(request)
        try:
            html = case_live_html(
                source.detail(case_id),
                source.events(case_id),
                source.term(case_id),
                source.receipts(case_id),
            )
        except WftrioError as exc:
            return _html_error(exc)
        return HTMLResponse(html)

    async def schema_json(request: Request) -> Response:
        return JsonResponse(schema)

    async def css(request: Request) -> Response:
        return Response(CSS, media_type="text/css")

    async def js(request: Request) -> Response:
        return Response(JS, media_type="text/javascript")

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JsonResponse(
                {"error": f"no such API path: {request.method} {request.url.path}"},
                status_code=404,
            )
        return HTMLResponse("<p>not found</p>", status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JsonResponse(
            {"error": f"{request.method} is not allowed on {request.url.path}"}, status_code=405
        )

    async def internal(request: Request, exc: Exception) -> Response:
        # a bug, not a refusal: answered in the API's shape (the server logs the traceback)
        return JsonResponse(
            {"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500
        )

    async def login_page(request: Request) -> Response:
        assert token is not None
        return await login(request, token)

    routes = [
        Route("/", index),
        Route("/cases/{case_id}", case),
        Route("/cases/{case_id}/live", case_live),
        Route("/static/console.css", css),
        Route("/static/console.js", js),
        Route("/api/openapi.json", schema_json),
        Route("/api/cases", api.list_cases, methods=["GET"]),
        Route("/api/cases", api.start_case, methods=["POST"]),
        Route("/api/cases/{case_id}", api.get_case, methods=["GET"]),
        Route("/api/cases/{case_id}/trace", api.get_trace, methods=["GET"]),
        Route("/api/cases/{case_id}/receipts", api.get_receipts, methods=["GET"]),
        Route("/api/cases/{case_id}/graph", api.get_graph, methods=["GET"]),
        Route("/api/cases/{case_id}/signal", api.signal, methods=["POST"]),
        Route("/api/cases/{case_id}/cancel", api.cancel, methods=["POST"]),
        Route("/api/cases/{case_id}/cancel_region", api.cancel_region, methods=["POST"]),
    ]
    middleware = [Middleware(SegmentedPath)]
    if protect_reads:
        assert token is not None
        routes += [
            Route("/login", login_page, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["GET", "POST"]),
        ]
        middleware.append(Middleware(ReadGuard, token=token))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={404: not_found, 405: not_allowed, Exception: internal},
    )
