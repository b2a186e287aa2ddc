"""Operators, API keys and sessions in the config service's own tables."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from piyasa_config.auth import credentials
from piyasa_config.auth.roles import Principal, Role
from piyasa_config.errors import AlreadyExists, NotFound, Unauthenticated
from piyasa_config.schema import api_keys, operators, sessions
from piyasa_config.store.pg import Postgres


@dataclass(frozen=True, slots=True)
class NewOperator:
    operator_id: str
    username: str
    role: Role
    totp_uri: str | None
    """Shown once: the authenticator app's enrolment; None for an API-key-only operator."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    operator_id: str
    name: str
    key: str
    """Shown once: only its hash is stored."""
    prefix: str


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    operator_id: str
    username: str
    role: Role
    disabled: bool
    has_password: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    operator_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


class AuthStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        session_ttl: timedelta,
        pg: Postgres | None = None,
    ) -> None:
        self._engine = engine
        self._pg = pg
        """The per-request key and token checks go straight to asyncpg when given."""
        self._session_ttl = session_ttl

    async def _first(self, key: str, query: Select[Any], params: dict[str, Any]) -> Any:
        if self._pg is not None:
            rows = await self._pg.rows(key, lambda: query, params)
            return tuple(rows[0].values()) if rows else None
        async with self._engine.connect() as conn:
            return (await conn.execute(query, params)).first()

    # operators -----------------------------------------------------------------------

    async def create_operator(
        self, username: str, role: Role, password: str | None, *, now: datetime
    ) -> NewOperator:
        """A new operator; with a password comes a TOTP secret (logins need both)."""
        operator_id = _new_id("op")
        secret = credentials.new_totp_secret() if password is not None else None
        values: dict[str, Any] = {
            "id": operator_id,
            "username": username,
            "role": role.value,
            "password_hash": credentials.hash_password(password) if password else None,
            "totp_secret": secret,
            "disabled": False,
            "created_at": now,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(operators).values(**values))
        except IntegrityError as exc:
            raise AlreadyExists(f"an operator named {username!r} exists", field="username") from exc
        uri = credentials.totp_uri(secret, username) if secret else None
        return NewOperator(operator_id, username, role, uri)

    async def list_operators(self) -> list[OperatorRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(operators).order_by(operators.c.username))).all()
        return [_operator(r._mapping) for r in rows]

    async def get_operator(self, operator_id: str) -> OperatorRecord:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(operators).where(operators.c.id == operator_id))
            ).first()
        if row is None:
            raise NotFound(f"no operator {operator_id}")
        return _operator(row._mapping)

    async def update_operator(
        self, operator_id: str, *, role: Role | None, disabled: bool | None
    ) -> OperatorRecord:
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role.value
        if disabled is not None:
            changes["disabled"] = disabled
        async with self._engine.begin() as conn:
            if changes:
                await conn.execute(
                    update(operators).where(operators.c.id == operator_id).values(**changes)
                )
            if disabled:
                await conn.execute(delete(sessions).where(sessions.c.operator_id == operator_id))
        return await self.get_operator(operator_id)

    async def count_admins(self) -> int:
        async with self._engine.connect() as conn:
            value = await conn.scalar(
                select(func.count())
                .select_from(operators)
                .where(operators.c.role == Role.ADMIN.value, operators.c.disabled.is_(False))
            )
        return int(value or 0)

    # API keys ------------------------------------------------------------------------

    async def issue_api_key(self, operator_id: str, name: str, *, now: datetime) -> IssuedKey:
        await self.get_operator(operator_id)
        key = credentials.new_api_key()
        issued = IssuedKey(_new_id("key"), operator_id, name, key, key[:10])
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(api_keys).values(
                    id=issued.key_id,
                    operator_id=operator_id,
                    name=name,
                    key_hash=credentials.digest(key),
                    prefix=issued.prefix,
                    created_at=now,
                )
            )
        return issued

    async def list_api_keys(self, operator_id: str) -> list[KeyRecord]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(api_keys)
                    .where(api_keys.c.operator_id == operator_id)
                    .order_by(api_keys.c.created_at, api_keys.c.id)
                )
            ).all()
        return [
            KeyRecord(r.id, r.operator_id, r.name, r.prefix, r.created_at, r.revoked_at)
            for r in rows
        ]

    async def revoke_api_key(self, key_id: str, *, now: datetime) -> None:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        if result.rowcount == 0:
            raise NotFound(f"no active API key {key_id}")

    # authentication ------------------------------------------------------------------

    async def authenticate_key(self, key: str) -> Principal:
        query = (
            select(operators.c.id, operators.c.username, operators.c.role, api_keys.c.id)
            .select_from(api_keys.join(operators))
            .where(
                api_keys.c.key_hash == bindparam("hash"),
                api_keys.c.revoked_at.is_(None),
                operators.c.disabled.is_(False),
            )
        )
        row = await self._first("auth:key", query, {"hash": credentials.digest(key)})
        if row is None:
            raise Unauthenticated("unknown or revoked API key")
        return Principal(row[0], row[1], Role(row[2]), row[3])

    async def authenticate_token(self, token: str, *, now: datetime) -> Principal:
        query = (
            select(operators.c.id, operators.c.username, operators.c.role)
            .select_from(sessions.join(operators))
            .where(
                sessions.c.token_hash == bindparam("hash"),
                sessions.c.expires_at > bindparam("now"),
                operators.c.disabled.is_(False),
            )
        )
        params = {"hash": credentials.digest(token), "now": now}
        row = await self._first("auth:token", query, params)
        if row is None:
            raise Unauthenticated("unknown or expired token; log in again")
        return Principal(row[0], row[1], Role(row[2]), f"session:{row[0]}")

    async def login(
        self, username: str, password: str, otp: str | None, *, now: datetime
    ) -> IssuedSession:
        """Password and TOTP code -> a short-lived bearer token (only its hash is kept)."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(operators).where(operators.c.username == username))
            ).first()
        record = row._mapping if row is not None else None
        password_hash = record["password_hash"] if record is not None else None
        if not credentials.verify_password(password_hash, password) or record is None:
            raise Unauthenticated("wrong username or password")
        if record["disabled"]:
            raise Unauthenticated("wrong username or password")
        if not otp:
            raise Unauthenticated("a TOTP code is required (field otp)", field="otp")
        step = credentials.totp_step(record["totp_secret"], otp, now.timestamp())
        if step is None:
            raise Unauthenticated("wrong TOTP code", field="otp")
        token = credentials.new_bearer_token()
        expires_at = now + self._session_ttl
        async with self._engine.begin() as conn:
            # A code is accepted once: its step must be newer than the last one used.
            used = await conn.execute(
                update(operators)
                .where(
                    operators.c.id == record["id"],
                    (operators.c.totp_last_step.is_(None)) | (operators.c.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
            if used.rowcount == 0:
                raise Unauthenticated("this TOTP code was used already", field="otp")
            await conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
            await conn.execute(
                insert(sessions).values(
                    token_hash=credentials.digest(token),
                    operator_id=record["id"],
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return IssuedSession(token, expires_at)

    async def logout(self, token: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(sessions).where(sessions.c.token_hash == credentials.digest(token))
            )


def _operator(row: Any) -> OperatorRecord:
    return OperatorRecord(
        operator_id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        disabled=bool(row["disabled"]),
        has_password=row["password_hash"] is not None,
        created_at=row["created_at"],
    )
