"""The FastAPI application: routers, the error table, the OpenAPI description."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from piyasa_config.api import errors
from piyasa_config.api.routes import (
    auth,
    bots,
    chats,
    control,
    deadletters,
    fleet,
    overview,
    people,
    settings,
    stances,
    turn_failures,
    views,
)
from piyasa_config.api.sanitize import StorableText
from piyasa_config.api.state import AppState
from piyasa_config.dashboard import router as dashboard

DESCRIPTION = """\
How operators steer piyasa. Every write is an event in the CONFIG stream (with
the operator as its actor); reads come from the projections. A resource's
`version` is its ETag: send it back as `If-Match` to write only if nobody
changed it meanwhile (409 otherwise). Writes answer once the event is stored;
add `?wait=projected` to answer once reads see it too.

Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <token>` from
`POST /auth/login` (password and TOTP). Roles: viewer (reads), operator
(configuration), admin (operators, import, forced flips, dead letters,
erasure). Every error has one shape: `{code, message, details: [{field, message}]}`.

The operators' web dashboard, a client of this API, is served at `/dashboard/`.
"""


def create_app(state: AppState) -> FastAPI:
    app = FastAPI(
        title="piyasa config API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.piyasa = state
    app.add_middleware(StorableText)
    errors.install(app)
    _document_storable_text(app)
    for module in (
        auth,
        bots,
        chats,
        stances,
        settings,
        control,
        fleet,
        views,
        overview,
        turn_failures,
        deadletters,
        people,
    ):
        app.include_router(module.router)
    app.include_router(dashboard)
    return app


NO_NUL = "^[^\\x00]*$"
"""What `StorableText` enforces, said in the schema: free text never holds a NUL."""


def _document_storable_text(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _add_pattern(document.get("components", {}).get("schemas", {}))
            for operation in _operations(document):
                _add_pattern(operation.get("requestBody", {}))
                for parameter in operation.get("parameters", []):
                    # An optional parameter is absent, never the string "null".
                    parameter["schema"] = _not_null(parameter.get("schema", {}))
                    if parameter.get("in") == "query":
                        _add_pattern(parameter["schema"])
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in document.get("paths", {}).values() for op in path.values()]


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}


def _add_pattern(node: Any) -> None:
    if isinstance(node, dict):
        is_free_text = node.get("type") == "string" and not (
            {"pattern", "format", "enum", "const"} & node.keys()
        )
        if is_free_text:
            node["pattern"] = NO_NUL
        for value in node.values():
            _add_pattern(value)
    elif isinstance(node, list):
        for value in node:
            _add_pattern(value)
