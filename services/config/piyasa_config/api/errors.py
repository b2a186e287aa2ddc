"""The one error shape, and every error's HTTP status, in one table.

    {"code": "version_conflict", "message": "...", "details": [{"field": "...", "message": "..."}]}

Domain errors are found by their class's MRO (the nearest mapped ancestor
wins), like Starlette's exception handlers. Validation errors never echo
the input: a refused value may be a bot token in the wrong shape.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from piyasa_common.errors import BackboneError, PiyasaError
from piyasa_common.logs import redact
from piyasa_config import errors

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    field: str | None = Field(None, description="the field at fault, dotted (`persona.verbosity`)")
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="a stable machine-readable code, e.g. `version_conflict`")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    current_version: int | None = Field(
        None, description="on version_conflict: the resource's version now (its ETag)"
    )


STATUS: Final[dict[type[Exception], int]] = {
    errors.BadRequest: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.ConflictError: 409,
    errors.Invalid: 422,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
    BackboneError: 503,
}


def _status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def printable(text: str) -> str:
    """Text safe to answer with: no NUL, no lone surrogates (a field name may echo input)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers
    )


def error_response(exc: Exception) -> JSONResponse:
    status = _status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.ConfigError):
        message = printable(redact(exc.message))
        body = ErrorBody(
            code=exc.code,
            message=message,
            details=[ErrorDetail(field=printable(exc.field), message=message)] if exc.field else [],
        )
        if isinstance(exc, errors.VersionConflict):
            body.current_version = exc.current
            if exc.current is not None:
                headers["ETag"] = f'"{exc.current}"'
        if isinstance(exc, errors.RateLimited):
            headers["Retry-After"] = str(exc.retry_after_s)
        if isinstance(exc, errors.Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(exc, BackboneError):
        body = ErrorBody(code="unavailable", message="the event log is unavailable; retry")
    else:
        body = ErrorBody(code="internal", message="internal error")
    return _response(status, body, headers or None)


def _validation_details(exc: RequestValidationError) -> list[ErrorDetail]:
    details = []
    for error in exc.errors()[:20]:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        field = ".".join(loc) if loc else where
        message = printable(str(error.get("msg", "invalid")))
        details.append(ErrorDetail(field=printable(field), message=message))
    return details


def install(app: FastAPI) -> None:
    """Register the handlers: domain errors, validation errors, HTTP errors, the rest."""

    async def on_piyasa_error(request: Request, exc: Exception) -> JSONResponse:
        response = error_response(exc)
        if response.status_code >= 500:
            log.error("request failed: %s", redact(str(exc)), extra={"path": request.url.path})
        return response

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = _validation_details(exc)
        message = f"{details[0].field}: {details[0].message}" if details else "invalid request"
        return _response(422, ErrorBody(code="invalid", message=message, details=details))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = ErrorBody(code=code, message=printable(str(exc.detail)))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return _response(exc.status_code, body, headers or None)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", redact(repr(exc)), extra={"path": request.url.path})
        return error_response(exc)

    app.add_exception_handler(PiyasaError, on_piyasa_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods - {"HEAD"}))


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: _doc("Bad request: a cursor or header that cannot be read"),
    401: _doc("No or bad credentials"),
    403: _doc("The operator's role does not allow this"),
    404: _doc("No such resource"),
    409: _doc("Conflict: stale version, taken natural key, or stance cooldown"),
    422: _doc("Invalid value; `details` names the field"),
    429: _doc("Too many requests; see Retry-After"),
    503: _doc("The event log or the database is unavailable"),
}
"""Documented on every route: schemathesis holds the API to these."""
