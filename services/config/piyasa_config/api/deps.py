"""Dependencies the routes declare: the state, who is calling, their role, write options."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from piyasa_config.api.state import AppState
from piyasa_config.auth.roles import Principal, Role
from piyasa_config.errors import BadRequest, Forbidden, Unauthenticated
from piyasa_config.store.events import Stored

_bearer = HTTPBearer(auto_error=False, description="A token from POST /auth/login")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An operator's API key")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.piyasa
    return state


State = Annotated[AppState, Depends(get_state)]


async def current_principal(
    request: Request,
    state: State,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Every credential sent must be valid (an invalid one is never ignored for another)."""
    principal = None
    if bearer is None and request.headers.get("authorization") is not None:
        raise Unauthenticated("Authorization must be `Bearer <token>`")
    if bearer is not None:
        principal = await state.auth.authenticate_token(bearer.credentials, now=state.clock.now())
    if api_key is not None:
        principal = await state.auth.authenticate_key(api_key)
    if principal is None:
        raise Unauthenticated("send X-API-Key or Authorization: Bearer <token>")
    return principal


def require(role: Role) -> object:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.role.allows(role):
            raise Forbidden(f"needs the {role.value} role; you are {principal.role.value}")
        return principal

    return Depends(check)


async def _limited_operator(
    state: State, principal: Annotated[Principal, require(Role.OPERATOR)]
) -> Principal:
    await state.limits.write(principal.credential_id)
    return principal


async def _limited_admin(
    state: State, principal: Annotated[Principal, require(Role.ADMIN)]
) -> Principal:
    await state.limits.write(principal.credential_id)
    return principal


Viewer = Annotated[Principal, require(Role.VIEWER)]
"""Any authenticated operator: read routes."""
Operator = Annotated[Principal, Depends(_limited_operator)]
"""Operator or admin, rate-limited: configuration writes."""
Admin = Annotated[Principal, Depends(_limited_admin)]
"""Admin only, rate-limited."""
OperatorRead = Annotated[Principal, require(Role.OPERATOR)]
"""Operator or admin, not rate-limited: reads of operational data (dead letters)."""
AdminRead = Annotated[Principal, require(Role.ADMIN)]
"""Admin only, not rate-limited: reads (operators, the audit trail)."""


def _if_match(
    if_match: Annotated[
        str | None,
        Header(
            description="The version (ETag) the write is based on; 409 if it moved since",
            pattern=r'^(\*|(W/)?"?[0-9]{1,18}"?)$',
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() in ("", "*"):
        return None
    value = if_match.strip()
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise BadRequest('If-Match must be a version this API gave out, e.g. "42"')
    return int(value)


IfMatch = Annotated[int | None, Depends(_if_match)]

WaitMode = Literal["stored", "projected"]
Wait = Annotated[
    WaitMode,
    Query(
        description="`stored`: answer once the event is in the log; `projected`: once "
        "the projection has it too (so a read right after sees it)",
    ),
]


async def settle(state: AppState, stored: Stored[Any], wait: WaitMode, response: Response) -> None:
    """Set the ETag and, with ?wait=projected, hold the answer until the projector caught up."""
    response.headers["ETag"] = f'"{stored.version}"'
    if wait == "projected":
        done = await state.reader.wait_projected(
            state.config_stream, stored.version, state.settings.wait_projected_timeout_s
        )
        response.headers["Piyasa-Projected"] = "true" if done else "false"
