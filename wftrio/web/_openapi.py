"""The OpenAPI 3.1 schema of the console's HTTP API (served at ``GET /api/openapi.json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "malformed request (the message says what)",
        401: "a bearer token is needed, or the one given is not valid",
        403: "the bearer token does not allow this call",
        404: "no such case (or workflow)",
        409: "the case cannot take it now (finished, duplicate id, queue full, refused)",
        413: "the body is too large",
        422: "the workflow has no such signal or region, or is invalid",
        503: "the substrate is closing or the store cannot be read",
    }
    return {str(c): _json(_ERROR, text[c]) for c in codes}


_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
_PAGE = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
]


def _q(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "string", **schema},
    }


def _post(
    summary: str, body: dict[str, Any] | None, ok: dict[str, Any], *codes: int
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{}, {"bearer": []}],
        "responses": {**ok, **_errors(*codes)},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


_ACCEPTED = {"202": _json({"$ref": "#/components/schemas/Accepted"}, "the request was accepted")}


def openapi() -> dict[str, Any]:
    """The schema, as a JSON-ready dict."""
    case_path = {"parameters": [_CASE_ID]}
    schemas = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string", "description": "one sentence"}},
        },
        "CaseRow": {
            "type": "object",
            "required": ["case_id", "state", "finished", "waits", "events", "source"],
            "properties": {
                "case_id": {"type": "string"},
                "workflow": {"type": ["string", "null"]},
                "version": {"type": ["integer", "null"]},
                "state": {"type": "string"},
                "finished": {"type": "boolean"},
                "created": {"type": ["number", "null"], "description": "wall-clock seconds"},
                "waits": {"type": "array", "items": {"type": "string"}},
                "events": {"type": "integer"},
                "source": {"enum": ["memory", "store"]},
            },
        },
        "Case": {
            "allOf": [
                {"$ref": "#/components/schemas/CaseRow"},
                {
                    "type": "object",
                    "properties": {
                        "ctx": {"type": "object"},
                        "ctx_is": {"enum": ["current", "final", "initial"]},
                        "tokens": {
                            "type": "array",
                            "description": "what each waiting token waits for",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "token": {"type": ["integer", "null"]},
                                    "region": {"type": ["string", "null"]},
                                    "what": {"type": "string"},
                                },
                            },
                        },
                        "waiting_signals": {"type": "array", "items": {"type": "string"}},
                        "pending_signals": {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                        },
                        "live_regions": {"type": "array", "items": {"type": "string"}},
                        "signals": {"type": ["array", "null"], "items": {"type": "string"}},
                        "regions": {"type": ["array", "null"], "items": {"type": "string"}},
                        "budget": {"type": ["object", "null"]},
                        "steps": {"type": ["integer", "null"]},
                        "error": {"type": ["string", "null"]},
                        "reason": {"type": ["string", "null"]},
                        "trace_level": {"type": "string"},
                    },
                },
            ]
        },
        "Event": {
            "type": "object",
            "properties": {
                "seq": {"type": "integer"},
                "case_id": {"type": "string"},
                "kind": {"type": "string"},
                "name": {"type": ["string", "null"]},
                "token": {"type": ["integer", "null"]},
                "scope": {"type": ["string", "null"]},
                "time": {"type": ["number", "null"]},
                "data": {"type": "object"},
            },
        },
        "Accepted": {
            "type": "object",
            "properties": {
                "case_id": {"type": "string"},
                "status": {
                    "enum": ["delivered", "taken", "queued"],
                    "description": "delivered to a live case's inbox; taken by the process "
                    "owning the store; or queued in the store's inbox for the next owner",
                },
            },
        },
    }
    paths: dict[str, Any] = {
        "/api/cases": {
            "get": {
                "summary": "List cases (newest first), filtered and paged",
                "parameters": [
                    _q("state", "comma-separated case states"),
                    _q("workflow", "a workflow name"),
                    _q("waiting", "text in what the case waits for (e.g. 'signal paid')"),
                    _q("q", "text in the id, workflow, state or waits (case-insensitive)"),
                    _q("order", "newest or oldest first", enum=["newest", "oldest"]),
                    *_PAGE,
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "cases": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/CaseRow"},
                                },
                                "total": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                                "next_offset": {"type": ["integer", "null"]},
                                "states": {"type": "object"},
                                "source": {"enum": ["live", "store"]},
                            },
                        },
                        "a page of cases",
                    ),
                    **_errors(400),
                },
            },
            "post": _post(
                "Start a case of a registered workflow",
                {
                    "type": "object",
                    "required": ["workflow"],
                    "additionalProperties": False,
                    "properties": {
                        "workflow": {"type": "string"},
                        "ctx": {"type": "object"},
                        "case_id": {"type": "string"},
                        "version": {"type": "integer", "minimum": 1},
                    },
                },
                {
                    "201": _json(
                        {"type": "object", "properties": {"case_id": {"type": "string"}}},
                        "the case started",
                    )
                },
                400,
                401,
                403,
                404,
                409,
                413,
                422,
                503,
            ),
        },
        "/api/cases/{case_id}": {
            **case_path,
            "get": {
                "summary": "One case: state, ctx, waits, regions, budget",
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Case"}, "the case"),
                    **_errors(404),
                },
            },
        },
        "/api/cases/{case_id}/trace": {
            **case_path,
            "get": {
                "summary": "The case's trace events, paged",
                "parameters": [
                    _q("level", "min or full (default)", enum=["min", "full"]),
                    _q("kind", "comma-separated event kinds"),
                    *_PAGE,
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "events": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Event"},
                                },
                                "total": {"type": "integer"},
                                "next_offset": {"type": ["integer", "null"]},
                            },
                        },
                        "a page of events",
                    ),
                    **_errors(400, 404),
                },
            },
        },
        "/api/cases/{case_id}/receipts": {
            **case_path,
            "get": {
                "summary": "The case's receipts",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"receipts": {"type": "array", "items": {}}},
                        },
                        "the receipts",
                    ),
                    **_errors(404),
                },
            },
        },
        "/api/cases/{case_id}/graph": {
            **case_path,
            "get": {
                "summary": "The workflow's graph with the case's progress on each node",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "nodes": {"type": "array", "items": {"type": "object"}},
                                "edges": {"type": "array", "items": {"type": "object"}},
                                "clusters": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                        "nodes (id, label, shape, cluster, progress), edges, clusters",
                    ),
                    **_errors(404),
                },
            },
        },
        "/api/cases/{case_id}/signal": {
            **case_path,
            "post": _post(
                "Send a signal",
                {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {"name": {"type": "string"}, "payload": {}},
                },
                _ACCEPTED,
                400,
                401,
                403,
                404,
                409,
                413,
                422,
            ),
        },
        "/api/cases/{case_id}/cancel": {
            **case_path,
            "post": _post("Cancel the case", None, _ACCEPTED, 400, 401, 403, 404, 409),
        },
        "/api/cases/{case_id}/cancel_region": {
            **case_path,
            "post": _post(
                "Cancel one region of the case",
                {
                    "type": "object",
                    "required": ["region"],
                    "additionalProperties": False,
                    "properties": {"region": {"type": "string"}},
                },
                _ACCEPTED,
                400,
                401,
                403,
                404,
                409,
                422,
            ),
        },
    }
    for item in paths.values():
        read = item.get("get")
        if read is not None:  # needs the token when the console protects reads
            read["security"] = [{}, {"bearer": []}]
            read["responses"] = {**read["responses"], **_errors(401)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wftrio console API",
            "version": "1",
            "description": "Cases of a wftrio substrate or store file (docs/CONSOLE.md). "
            "Mutating calls need a bearer token when the console was given one; reads "
            "too when it protects reads (protect_reads, wftrio serve --protect-reads).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
