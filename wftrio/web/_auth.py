"""Reading behind the token (``app(..., token=T, protect_reads=True)``).

By default the console's token guards the calls that change something; with
``protect_reads`` every page and every API read needs it too:

* API clients send ``Authorization: Bearer <token>`` (as for ``POST``);
  without it a read is ``401`` with a JSON error and a ``WWW-Authenticate``
  header.
* A browser is sent to ``/login``, a form taking the token; a valid token
  sets a cookie (``HttpOnly``, ``SameSite=Strict``, ``Secure`` over HTTPS)
  holding an HMAC of the token, never the token itself, and goes back to
  the page asked for.  ``/logout`` clears it.  The cookie also authorises
  the pages' own calls (``POST`` included: a ``SameSite=Strict`` cookie
  is not sent by other sites' pages).

Signal tokens (webhooks) never read: they only send their signals.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["COOKIE", "ReadGuard", "bearer", "cookie_value", "has_cookie", "login", "logout"]

COOKIE = "wftrio_console"
"""The cookie a login sets."""

_OPEN = ("/login", "/logout", "/static/")


def cookie_value(token: str) -> str:
    """What the login cookie holds for ``token`` (an HMAC: the token is never stored)."""
    return hmac.new(token.encode(), b"wftrio console login", hashlib.sha256).hexdigest()


def has_cookie(request: Request, token: str) -> bool:
    """Whether the request carries the login cookie of ``token``."""
    given = request.cookies.get(COOKIE)
    return given is not None and hmac.compare_digest(given, cookie_value(token))


def bearer(request: Request) -> str | None:
    """The token of the request's ``Authorization: Bearer <token>`` header, if any."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() or None if scheme.lower() == "bearer" else None


def _next_path(text: str | None) -> str:
    """A local path to go back to (never another site: ``//host`` or a scheme)."""
    if not text or not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text


def _form(next_path: str, problem: str | None = None) -> str:
    note = f'<p class="problem">{problem}</p>' if problem else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>wftrio: log in'
        '</title><link rel="stylesheet" href="/static/console.css"></head><body>'
        f"<h1>wftrio console</h1>{note}"
        '<form method="post" action="/login"><label>token <input type="password" '
        'name="token" id="login-token" autofocus></label>'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<button type="submit" id="login-go">log in</button></form></body></html>'
    )


async def login(request: Request, token: str) -> Response:
    """``GET /login``: the form; ``POST /login``: check the token, set the cookie."""
    if request.method == "GET":
        return HTMLResponse(_form(_next_path(request.query_params.get("next"))))
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = (fields.get("token") or [""])[0]
    back = _next_path((fields.get("next") or ["/"])[0])
    if not hmac.compare_digest(given.encode(), token.encode()):
        return HTMLResponse(_form(back, "that token is not valid"), status_code=401)
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        COOKIE,
        cookie_value(token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    """``/logout``: clear the cookie, back to the form."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


class ReadGuard:
    """ASGI middleware: every request but ``/login``, ``/logout``, ``/static/`` needs the token.

    ``POST`` requests pass through: the API's own check (``Api.authorize``)
    decides them, signal tokens included.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "POST":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request = Request(scope)
        given = bearer(request)
        ok = (
            hmac.compare_digest(given.encode(), self.token.encode())
            if given is not None
            else has_cookie(request, self.token)
        )
        if ok or path.startswith(_OPEN):
            await self.app(scope, receive, send)
            return
        response: Any
        if path.startswith("/api/"):
            response = JSONResponse(
                {
                    "error": "reading needs the console's token: an 'Authorization: Bearer "
                    "<token>' header"
                },
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            target = path + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
            response = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
        await response(scope, receive, send)
