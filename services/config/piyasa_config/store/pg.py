"""The hot reads' path to PostgreSQL: SQL compiled once from SQLAlchemy Core, run on asyncpg.

Every request authenticates and most read one row or one page. Through
SQLAlchemy's async engine each such statement cost ~0.6 ms and a page of 50
bots ~4 ms (greenlet hops and row processing; measured on this machine), on
asyncpg directly ~0.1 ms and ~0.6 ms. The statements are still built from
the Core tables (`store.tables`, `schema`), compiled once per shape and
cached, so the column lists have one definition.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final

import asyncpg
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from piyasa_config.errors import Unavailable
from piyasa_config.settings import asyncpg_dsn

_DIALECT: Final = asyncpg_dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]

_FAILURES: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Postgres:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._compiled: dict[Hashable, tuple[str, list[str]]] = {}

    @classmethod
    async def open(cls, database_url: str, *, size: int, timeout_s: float) -> Postgres:
        try:
            pool = await asyncpg.create_pool(
                asyncpg_dsn(database_url),
                min_size=1,
                max_size=size,
                command_timeout=timeout_s,
                timeout=timeout_s,
                init=_codecs,
            )
        except _FAILURES as exc:
            raise Unavailable(f"PostgreSQL unreachable: {type(exc).__name__}") from exc
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    def compiled(self, key: Hashable, build: Callable[[], Select[Any]]) -> tuple[str, list[str]]:
        """The statement's SQL and its parameters' order, compiled on first use."""
        found = self._compiled.get(key)
        if found is None:
            compiled = build().compile(dialect=_DIALECT)
            found = (str(compiled), list(compiled.positiontup or []))
            self._compiled[key] = found
        return found

    async def rows(
        self, key: Hashable, build: Callable[[], Select[Any]], params: Mapping[str, Any]
    ) -> list[Mapping[str, Any]]:
        sql, names = self.compiled(key, build)
        try:
            async with self._pool.acquire() as conn:
                records = await conn.fetch(sql, *(params[n] for n in names))
        except _FAILURES as exc:
            raise Unavailable(f"the database cannot be read: {type(exc).__name__}") from exc
        return [dict(r) for r in records]


async def _codecs(conn: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await conn.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )
