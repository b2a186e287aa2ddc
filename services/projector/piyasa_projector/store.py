"""The projections' Postgres side: rows and stream positions, one transaction per batch.

Writes go through asyncpg directly, not through SQLAlchemy's async engine:
`executemany` sends a whole batch of binds in one round trip (measured here:
one INSERT per row ~2.6k rows/s, executemany batches of 500 ~70k/s), and
each row is its own execution, so a batch may upsert the same key twice
(a bot created and renamed in one batch) where a multi-row VALUES statement
would fail with "cannot affect row a second time". The statements are
generated once from the SQLAlchemy tables in `schema`, which remain the one
definition of the columns.

A commit locks the stream's position row, so two writers of one stream (a
second replica, a rebuild running beside the live projector) serialise:
rows at or below the stored position are skipped, and a writer that finds
the position behind where it left it (a rebuild reset it) backs off and
restarts from the stored position instead of leaving a hole.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, Final

import asyncpg

from piyasa_projector.errors import PositionMoved, StoreError
from piyasa_projector.rows import UPSERT_GUARDS, Row
from piyasa_projector.schema import POSITIONS, PROJECTION_TABLES, metadata
from piyasa_projector.settings import asyncpg_dsn

log = logging.getLogger(__name__)

# Postgres could not be reached or went away (as opposed to refusing a statement).
_CONNECTION_ERRORS: Final = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)

_LOCK_POSITION: Final = (
    "INSERT INTO projection_positions AS existing (stream, last_sequence) VALUES ($1, 0) "
    "ON CONFLICT (stream) DO UPDATE SET last_sequence = existing.last_sequence "
    "RETURNING existing.last_sequence"
)
"""Creates the row when missing, locks it, and returns the stored position: one round trip."""


def upsert_statement(table: str) -> tuple[str, tuple[str, ...]]:
    """`INSERT ... ON CONFLICT DO UPDATE` over every column of `table`, and the column order."""
    spec = metadata.tables[table]
    columns = tuple(column.name for column in spec.columns)
    keys = [column.name for column in spec.primary_key.columns]
    updates = [name for name in columns if name not in keys]
    quoted = ", ".join(f'"{name}"' for name in columns)
    binds = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    assignments = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in updates)
    # Names come from our own metadata, never from input.
    sql = (
        f"INSERT INTO {table} AS existing ({quoted}) VALUES ({binds}) "  # noqa: S608  # nosec B608
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {assignments}"
    )
    guard = UPSERT_GUARDS.get(table)
    if guard:
        sql += f" WHERE {guard}"
    return sql, columns


_UPSERTS: Final = {table: upsert_statement(table) for table in PROJECTION_TABLES}


class ProjectionStore:
    """Positions and rows in Postgres, over a small asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, *, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._healthy = True

    @classmethod
    async def open(
        cls, database_url: str, *, pool_size: int = 4, timeout_s: float = 30.0
    ) -> ProjectionStore:
        try:
            pool = await asyncpg.create_pool(
                asyncpg_dsn(database_url),
                min_size=1,
                max_size=pool_size,
                command_timeout=timeout_s,
                timeout=timeout_s,
                init=_init_connection,
            )
        except (*_CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            raise StoreError("connect", exc, connection=True) from exc
        return cls(pool, timeout_s=timeout_s)

    @property
    def healthy(self) -> bool:
        """Whether the last statement reached Postgres; cached, never queried."""
        return self._healthy

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), self._timeout_s)
        except TimeoutError:
            self._pool.terminate()

    async def position(self, stream: str) -> int:
        """The last sequence of `stream` applied, 0 when none."""
        async with self._connection("read position") as conn:
            value = await conn.fetchval(
                # POSITIONS is our constant table name; the stream is a bound parameter.
                f"SELECT last_sequence FROM {POSITIONS} WHERE stream = $1",  # noqa: S608  # nosec B608
                stream,
            )
        return int(value or 0)

    async def commit(
        self, stream: str, expected: int, rows: Sequence[Row], last_sequence: int
    ) -> tuple[int, Counter[str]]:
        """Write a batch's rows and move `stream`'s position to `last_sequence`, atomically.

        `expected` is the position the batch was read from. Returns the stored
        position afterwards and the rows written per table.
        """
        written: Counter[str] = Counter()
        async with self._connection("commit batch") as conn, conn.transaction():
            stored = int(await conn.fetchval(_LOCK_POSITION, stream))
            if stored < expected:
                raise PositionMoved(stream, expected, stored)
            fresh = rows if stored == expected else [r for r in rows if r.sequence > stored]
            for table, values in _by_table(fresh):
                sql, _ = _UPSERTS[table]
                await conn.executemany(sql, values)
                written[table] += len(values)
            position = max(stored, last_sequence)
            if position != stored:
                await conn.execute(
                    # POSITIONS is our constant table name; the values are bound parameters.
                    f"UPDATE {POSITIONS} SET last_sequence = $2 WHERE stream = $1",  # noqa: S608  # nosec B608
                    stream,
                    position,
                )
        return position, written

    async def reset(self) -> None:
        """Empty every projection table and forget every position, in one transaction.

        The positions are locked first, the order every commit takes its locks
        in, so a reset beside a live projector waits for its batch instead of
        deadlocking with it.
        """
        tables = ", ".join(PROJECTION_TABLES)
        async with self._connection("reset projections") as conn, conn.transaction():
            await conn.execute(f"LOCK TABLE {POSITIONS} IN ACCESS EXCLUSIVE MODE")
            await conn.execute(f"TRUNCATE {POSITIONS}, {tables}")

    async def ping(self) -> None:
        async with self._connection("ping") as conn:
            await conn.fetchval("SELECT 1")

    async def watch(self, stop: asyncio.Event, interval_s: float) -> None:
        """Keep `healthy` current while the streams are idle; until `stop` is set."""
        while not stop.is_set():
            try:
                await self.ping()
            except StoreError as exc:
                log.warning("postgres unreachable: %s", exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    @asynccontextmanager
    async def _connection(self, operation: str) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; asyncpg's errors leave as StoreError, and set `healthy`."""
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as conn:
                yield conn
        except _CONNECTION_ERRORS as exc:
            self._healthy = False
            raise StoreError(operation, exc, connection=True) from exc
        except asyncpg.PostgresError as exc:
            self._healthy = True
            raise StoreError(operation, exc, connection=False) from exc
        self._healthy = True


def _by_table(rows: Iterable[Row]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Rows grouped by table, each group in stream order.

    Tables are independent of each other, so applying one table's rows before
    another's ends in the same state as applying them interleaved.
    """
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        _, columns = _UPSERTS[row.table]
        groups.setdefault(row.table, []).append(tuple(row.values[c] for c in columns))
    return list(groups.items())


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await conn.set_type_codec(
            name, encoder=_dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
