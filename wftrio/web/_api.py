"""The console's HTTP API: JSON under ``/api/cases`` (docs/CONSOLE.md, ``/api/openapi.json``).

Every handler reads the request, checks all of it, and only then reads or
changes the source, so a refused request changes nothing.  Refusals are
:class:`~wftrio.errors.ApiError` (or a typed wftrio error, mapped to a
status by :data:`_STATUS`), answered as ``{"error": "one sentence"}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping, Set
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wftrio.errors import (
    ApiError,
    CaseClosed,
    DuplicateCase,
    InvalidWorkflow,
    OptionError,
    SignalQueueFull,
    StoreError,
    SubstrateClosed,
    UnknownCase,
    UnknownRegion,
    UnknownSignal,
    UnknownWorkflow,
    UnstorableValue,
    WftrioError,
)
from wftrio.stores._base import RequestKind
from wftrio.trace import MIN_KINDS, TraceEvent
from wftrio.web._auth import bearer, has_cookie
from wftrio.web._paths import case_id_of
from wftrio.web._progress import graph_json
from wftrio.web._source import CaseRow, Source

__all__ = ["MAX_BODY", "Api", "JsonResponse", "error_response"]

MAX_BODY = 1 << 20
"""The largest request body taken (bytes); a larger one is refused with 413."""

MAX_LIMIT = 1000
"""The most rows (cases, events) one page holds."""

# most specific first: the first class a refused error is an instance of decides
_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (ApiError, 400),  # its own status (see error_response)
    (UnknownCase, 404),
    (UnknownWorkflow, 404),
    (DuplicateCase, 409),
    (CaseClosed, 409),
    (SignalQueueFull, 409),
    (UnknownSignal, 422),
    (UnknownRegion, 422),
    (InvalidWorkflow, 422),
    (UnstorableValue, 422),
    (OptionError, 400),
    (SubstrateClosed, 503),
    (StoreError, 503),
    (WftrioError, 400),
)


def _fallback(value: Any) -> Any:
    """What a value JSON cannot hold is shown as (in a ctx or event data): its repr."""
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (which JSON cannot hold) as its repr."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_finite(v) for v in value]
    return value


class JsonResponse(JSONResponse):
    """JSON that shows values JSON cannot hold (a ctx's objects, NaN) as their repr."""

    def render(self, content: Any) -> bytes:
        def dump(value: Any) -> bytes:
            text = json.dumps(
                value, default=_fallback, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
            return text.encode("utf-8")

        try:
            return dump(content)
        except ValueError:  # a NaN or an infinity somewhere: rare, so walked only then
            return dump(_finite(content))


def error_response(exc: BaseException) -> JsonResponse:
    """``{"error": message}`` with the status of the error's type."""
    status = exc.status if isinstance(exc, ApiError) else 400
    if not isinstance(exc, ApiError):
        status = next(s for t, s in _STATUS if isinstance(exc, t))
    message = str(exc) or type(exc).__name__
    return JsonResponse({"error": message}, status_code=status)


Handler = Callable[["Api", Request], Awaitable[Response]]


def _refusals(fn: Handler) -> Handler:
    """A handler whose refusals (typed wftrio errors) become ``{"error": ...}`` answers."""

    async def handle(self: Api, request: Request) -> Response:
        try:
            return await fn(self, request)
        except WftrioError as exc:
            return error_response(exc)

    handle.__name__ = fn.__name__
    handle.__doc__ = fn.__doc__
    return handle


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(f"query parameter {name}={text!r} is not an integer") from None
    if not lo <= value <= hi:
        raise ApiError(f"query parameter {name}={value} is out of range ({lo} to {hi})")
    return value


def _page(request: Request) -> tuple[int, int]:
    return _int(request, "limit", 100, 1, MAX_LIMIT), _int(request, "offset", 0, 0, 2**62)


async def _body(request: Request) -> dict[str, Any]:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise ApiError(f"the request body is larger than {MAX_BODY} bytes", 413)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(f"the request body is larger than {MAX_BODY} bytes", 413)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(f"the request body must be a JSON object, got {type(body).__name__}")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _only(body: Mapping[str, Any], allowed: Set[str], what: str) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise ApiError(
            f"{what} takes {', '.join(sorted(allowed)) or 'no fields'}; unknown: {', '.join(extra)}"
        )


def _text(body: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ApiError(f'"{key}" must be a non-empty string, got {json.dumps(value)}')
    return value


def _matches(row: CaseRow, request: Request) -> bool:
    q = request.query_params
    state = q.get("state")
    if state and row.state not in state.split(","):
        return False
    workflow = q.get("workflow")
    if workflow and row.workflow != workflow:
        return False
    waiting = q.get("waiting")
    if waiting and not any(waiting in w for w in row.waits):
        return False
    text = (q.get("q") or "").lower()
    if text:
        hay = " ".join([row.case_id, row.workflow or "", row.state, *row.waits]).lower()
        return text in hay
    return True


def event_json(ev: TraceEvent) -> dict[str, Any]:
    """A trace event as a JSON object (the fields of :class:`~wftrio.TraceEvent`)."""
    d = ev._asdict()
    if isinstance(ev.time, float) and not math.isfinite(ev.time):
        d["time"] = None
    return d


class Api:
    """The API's handlers over one :class:`Source`, with its authentication.

    Args:
        source: the cases.
        token: the bearer token every mutating call needs (``None``: none,
            unless ``signal_tokens`` is given).
        signal_tokens: more bearer tokens, each allowed only to send the
            named signals (webhooks).
    """

    def __init__(
        self,
        source: Source,
        token: str | None = None,
        signal_tokens: Mapping[str, Set[str]] | None = None,
    ) -> None:
        if token is not None and (not isinstance(token, str) or not token):
            raise OptionError(f"token={token!r}: expected None or a non-empty str")
        tokens = dict(signal_tokens or {})
        for tok, names in tokens.items():
            if not isinstance(tok, str) or not tok or tok == token:
                raise OptionError(
                    f"signal_tokens: {tok!r} must be a non-empty str other than token="
                )
            if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                raise OptionError(f"signal_tokens[{tok!r}] must be a set of signal names")
        self.source = source
        self.token = token
        self.signal_tokens = {t: frozenset(n) for t, n in tokens.items()}

    @property
    def auth(self) -> bool:
        """Whether mutating calls need a bearer token."""
        return self.token is not None or bool(self.signal_tokens)

    def authorize(self, request: Request, kind: str, name: str | None = None) -> None:
        """Refuse a mutating call its bearer token does not allow (401 / 403)."""
        if not self.auth:
            return
        given = bearer(request)
        if given is None:
            if self.token is not None and has_cookie(request, self.token):
                return  # a console page, logged in (protect_reads): see _auth
            raise ApiError("this call needs an 'Authorization: Bearer <token>' header", 401)
        if given == self.token:
            return
        names = self.signal_tokens.get(given)
        if names is None:
            raise ApiError("the bearer token is not valid", 401)
        if kind != "signal":
            raise ApiError(f"this token may only send signals, not {kind}", 403)
        if name not in names:
            raise ApiError(f"this token may not send signal {name!r}", 403)

    # -- reading ---------------------------------------------------------------

    @_refusals
    async def list_cases(self, request: Request) -> Response:
        """GET /api/cases"""
        limit, offset = _page(request)
        q = request.query_params
        state = q.get("state")
        if state:
            from wftrio.runtime import CaseState

            known = {s.value for s in CaseState} | {"new", "corrupt"}
            bad = sorted(set(state.split(",")) - known)
            if bad:
                raise ApiError(
                    f"state={','.join(bad)} is not a case state; expected one of "
                    f"{', '.join(sorted(known))}"
                )
        rows = [r for r in self.source.rows() if _matches(r, request)]
        if q.get("order", "newest") == "newest":
            rows.reverse()
        elif q.get("order") != "oldest":
            raise ApiError("order must be 'newest' or 'oldest'")
        page = rows[offset : offset + limit]
        nxt = offset + limit if offset + limit < len(rows) else None
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.state] = counts.get(r.state, 0) + 1
        return JsonResponse(
            {
                "cases": [r.to_json() for r in page],
                "total": len(rows),
                "limit": limit,
                "offset": offset,
                "next_offset": nxt,
                "states": counts,
                "source": self.source.kind,
            }
        )

    @_refusals
    async def get_case(self, request: Request) -> Response:
        """GET /api/cases/{id}"""
        detail = self.source.detail(case_id_of(request))
        return JsonResponse(detail.to_json())

    @_refusals
    async def get_trace(self, request: Request) -> Response:
        """GET /api/cases/{id}/trace"""
        limit, offset = _page(request)
        level = request.query_params.get("level", "full")
        if level not in ("min", "full"):
            raise ApiError(f"level={level!r}: expected 'min' or 'full'")
        kinds = request.query_params.get("kind")
        events = self.source.events(case_id_of(request))
        if level == "min":
            events = [e for e in events if e.kind in MIN_KINDS]
        if kinds:
            wanted = set(kinds.split(","))
            events = [e for e in events if e.kind in wanted]
        page = events[offset : offset + limit]
        return JsonResponse(
            {
                "events": [event_json(e) for e in page],
                "total": len(events),
                "limit": limit,
                "offset": offset,
                "next_offset": offset + limit if offset + limit < len(events) else None,
            }
        )

    @_refusals
    async def get_receipts(self, request: Request) -> Response:
        """GET /api/cases/{id}/receipts"""
        found = self.source.receipts(case_id_of(request))
        return JsonResponse({"receipts": [r.to_data() for r in found]})

    @_refusals
    async def get_graph(self, request: Request) -> Response:
        """GET /api/cases/{id}/graph"""
        case_id = case_id_of(request)
        events = self.source.events(case_id)
        term = self.source.term(case_id)
        if term is None:
            raise ApiError(
                f"the workflow of case {case_id!r} is not known here: its workflow is not "
                "registered in this process",
                404,
            )
        return JsonResponse({"case_id": case_id, **graph_json(term, events)})

    # -- changing --------------------------------------------------------------

    @_refusals
    async def start_case(self, request: Request) -> Response:
        """POST /api/cases"""
        body = await _body(request)
        self.authorize(request, "start")
        _only(body, {"workflow", "ctx", "case_id", "version"}, "POST /api/cases")
        workflow = _text(body, "workflow", required=True)
        assert workflow is not None
        ctx = body.get("ctx")
        if ctx is None:
            ctx = {}
        if not isinstance(ctx, dict):
            raise ApiError(f'"ctx" must be a JSON object, got {json.dumps(ctx)}')
        case_id = _text(body, "case_id", required=False)
        version = body.get("version")
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 1
        ):
            raise ApiError(f'"version" must be an integer >= 1, got {json.dumps(version)}')
        registry = self.source.registry
        if self.source.kind == "live" and registry is not None:
            registry.get(workflow, version)  # UnknownWorkflow (404) before anything
        new_id = await self.source.start(workflow, ctx, case_id, version)
        return JsonResponse({"case_id": new_id}, status_code=201)

    async def _request(
        self,
        request: Request,
        kind: RequestKind,
        name: str | None,
        payload: Any,
    ) -> Response:
        case_id = case_id_of(request)
        posted = await self.source.request(case_id, kind, name, payload)
        return JsonResponse({"case_id": case_id, "status": posted.status}, status_code=202)

    @_refusals
    async def signal(self, request: Request) -> Response:
        """POST /api/cases/{id}/signal"""
        body = await _body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            self.authorize(request, "signal", None)
            raise ApiError(f'"name" must be a non-empty string, got {json.dumps(name)}')
        self.authorize(request, "signal", name)
        _only(body, {"name", "payload"}, "POST /api/cases/{id}/signal")
        return await self._request(request, "signal", name, body.get("payload"))

    @_refusals
    async def cancel(self, request: Request) -> Response:
        """POST /api/cases/{id}/cancel"""
        body = await _body(request)
        self.authorize(request, "cancel")
        _only(body, set(), "POST /api/cases/{id}/cancel")
        return await self._request(request, "cancel", None, None)

    @_refusals
    async def cancel_region(self, request: Request) -> Response:
        """POST /api/cases/{id}/cancel_region"""
        body = await _body(request)
        self.authorize(request, "cancel_region")
        _only(body, {"region"}, "POST /api/cases/{id}/cancel_region")
        region = _text(body, "region", required=True)
        return await self._request(request, "cancel_region", region, None)
