"""/auth and /operators: logins with password + TOTP, API keys, operators and roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from piyasa_config.api.deps import Admin, AdminRead, State, Viewer
from piyasa_config.api.errors import ERRORS
from piyasa_config.auth.roles import Role
from piyasa_config.auth.store import OperatorRecord

router = APIRouter(tags=["auth"], responses=ERRORS)

_USERNAME = r"^[a-z0-9][a-z0-9._-]{2,63}$"
OperatorId = Annotated[str, Path(pattern=r"^op_[0-9a-f]{16}$")]
KeyId = Annotated[str, Path(pattern=r"^key_[0-9a-f]{16}$")]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024, json_schema_extra={"writeOnly": True})
    otp: str | None = Field(None, pattern=r"^[0-9]{6}$", description="The TOTP code")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the scheme, not a secret)
    expires_at: datetime


class Me(BaseModel):
    operator_id: str
    username: str
    role: Role


class OperatorView(BaseModel):
    id: str
    username: str
    role: Role
    disabled: bool
    has_password: bool
    created_at: datetime

    @classmethod
    def of(cls, record: OperatorRecord) -> OperatorView:
        return cls(
            id=record.operator_id,
            username=record.username,
            role=record.role,
            disabled=record.disabled,
            has_password=record.has_password,
            created_at=record.created_at,
        )


class OperatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=_USERNAME)
    role: Role
    password: str | None = Field(
        None,
        min_length=12,
        max_length=1024,
        description="With a password comes TOTP: the answer carries the enrolment URI once",
        json_schema_extra={"writeOnly": True},
    )


class OperatorCreated(OperatorView):
    totp_uri: str | None = Field(description="otpauth:// URI, shown once")


class OperatorPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class KeyView(BaseModel):
    id: str
    operator_id: str
    name: str
    prefix: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None


class KeyIssued(KeyView):
    key: str = Field(description="The API key, shown once; send it as X-API-Key")


_bearer = HTTPBearer(auto_error=False)


@router.post("/auth/login", response_model=Token, summary="Password + TOTP -> a short-lived token")
async def login(state: State, body: LoginRequest) -> Token:
    await state.limits.login(body.username)
    issued = await state.auth.login(body.username, body.password, body.otp, now=state.clock.now())
    return Token(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=204, summary="End this token's session")
async def logout(
    state: State,
    _: Viewer,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if bearer is not None:
        await state.auth.logout(bearer.credentials)


@router.get("/auth/me", response_model=Me, summary="Who am I")
async def me(principal: Viewer) -> Me:
    return Me(operator_id=principal.operator_id, username=principal.username, role=principal.role)


@router.get("/operators", response_model=list[OperatorView], summary="Operators (admin)")
async def list_operators(state: State, _: AdminRead) -> list[OperatorView]:
    return [OperatorView.of(r) for r in await state.auth.list_operators()]


@router.post(
    "/operators", response_model=OperatorCreated, status_code=201, summary="Add an operator"
)
async def create_operator(state: State, _: Admin, body: OperatorCreate) -> OperatorCreated:
    new = await state.auth.create_operator(
        body.username, body.role, body.password, now=state.clock.now()
    )
    record = await state.auth.get_operator(new.operator_id)
    return OperatorCreated(**OperatorView.of(record).model_dump(), totp_uri=new.totp_uri)


@router.patch("/operators/{operator_id}", response_model=OperatorView, summary="Change a role")
async def patch_operator(
    state: State, _: Admin, operator_id: OperatorId, body: OperatorPatch
) -> OperatorView:
    await state.auth.get_operator(operator_id)
    record = await state.auth.update_operator(operator_id, role=body.role, disabled=body.disabled)
    return OperatorView.of(record)


@router.get(
    "/operators/{operator_id}/api-keys", response_model=list[KeyView], summary="An operator's keys"
)
async def list_keys(state: State, _: AdminRead, operator_id: OperatorId) -> list[KeyView]:
    await state.auth.get_operator(operator_id)
    return [
        KeyView(
            id=k.key_id,
            operator_id=k.operator_id,
            name=k.name,
            prefix=k.prefix,
            created_at=k.created_at,
            revoked_at=k.revoked_at,
        )
        for k in await state.auth.list_api_keys(operator_id)
    ]


@router.post(
    "/operators/{operator_id}/api-keys",
    response_model=KeyIssued,
    status_code=201,
    summary="Issue an API key (shown once)",
)
async def issue_key(state: State, _: Admin, operator_id: OperatorId, body: KeyCreate) -> KeyIssued:
    issued = await state.auth.issue_api_key(operator_id, body.name, now=state.clock.now())
    return KeyIssued(
        id=issued.key_id,
        operator_id=operator_id,
        name=issued.name,
        prefix=issued.prefix,
        key=issued.key,
        created_at=state.clock.now(),
    )


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_key(state: State, _: Admin, key_id: KeyId) -> None:
    await state.auth.revoke_api_key(key_id, now=state.clock.now())
