"""Reads of the projections: SQLAlchemy Core over asyncpg, keyset pagination.

Every list is ordered by a key the table is indexed on and continues after
the last key of the previous page (`after`), so a page costs the same at
100 rows as at 10,000: no OFFSET, no COUNT.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from piyasa_config.errors import BadRequest, Unavailable
from piyasa_config.store import tables as t
from piyasa_config.store.pg import Postgres
from piyasa_contracts.events.config import TokenCheck

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    next: str | None


Filters = Mapping[str, Any]
"""Equality filters on a page: column name -> value; `bot_in` means `value = ANY(bot_ids)`."""


def _filter(table: Table, name: str) -> ColumnElement[bool]:
    if name == "bot_in":
        return bindparam(name) == any_(table.c.bot_ids)
    return table.c[name] == bindparam(name)


class ProjectionReader:
    def __init__(self, engine: AsyncEngine, pg: Postgres) -> None:
        self._engine = engine
        self._pg = pg

    async def _all(self, query: Select[Any]) -> list[Row]:
        try:
            async with self._engine.connect() as conn:
                result = await conn.execute(query)
                return [dict(r._mapping) for r in result]
        except (DBAPIError, SQLAlchemyError, OSError) as exc:
            raise Unavailable(f"the projections cannot be read: {type(exc).__name__}") from exc

    async def _one(self, query: Select[Any]) -> Row | None:
        rows = await self._all(query.limit(1))
        return rows[0] if rows else None

    async def rows(
        self, key: Hashable, build: Callable[[], Select[Any]], params: Mapping[str, Any]
    ) -> list[Row]:
        """Run a statement built from `store.tables` on the hot path (compiled once per `key`)."""
        return await self._pg.rows(key, build, params)

    # aggregates ------------------------------------------------------------------------

    async def get(self, table: str, aggregate_id: str) -> Row | None:
        """A live (not deleted) aggregate's row."""
        spec = t.projections.tables[table]

        def build() -> Select[Any]:
            return select(spec).where(spec.c.id == bindparam("id"), spec.c.deleted.is_(False))

        rows = await self._pg.rows(("get", table), build, {"id": aggregate_id})
        return rows[0] if rows else None

    async def page(
        self,
        table: str,
        *,
        after: str | None,
        limit: int,
        filters: Filters | None = None,
    ) -> Page:
        """Live rows in id order after `after`; one index range scan whatever the fleet size."""
        spec = t.projections.tables[table]
        filters = {k: v for k, v in (filters or {}).items() if v is not None}
        names = tuple(sorted(filters))

        def build() -> Select[Any]:
            query = select(spec).where(
                spec.c.deleted.is_(False), *(_filter(spec, n) for n in names)
            )
            if after is not None:
                query = query.where(spec.c.id > bindparam("after"))
            return query.order_by(spec.c.id).limit(bindparam("limit"))

        params = {**filters, "after": after, "limit": limit + 1}
        rows = await self._pg.rows(("page", table, names, after is not None), build, params)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, str(rows[-1]["id"]) if more else None)

    async def bot_state(self, bot_id: str) -> tuple[Row | None, Row | None]:
        """The bot's Telegram status and its control row (each may be missing)."""
        status, control = await asyncio.gather(
            self._one(select(t.bot_statuses).where(t.bot_statuses.c.id == bot_id)),
            self._one(
                select(t.controls).where(
                    t.controls.c.scope == "bot",
                    t.controls.c.target_id == bot_id,
                    t.controls.c.deleted.is_(False),
                )
            ),
        )
        return status, control

    async def count(self, table: str, where: Sequence[ColumnElement[bool]]) -> int:
        spec = t.projections.tables[table]
        rows = await self._all(
            select(func.count().label("n"))
            .select_from(spec)
            .where(spec.c.deleted.is_(False), *where)
        )
        return int(rows[0]["n"]) if rows else 0

    async def deaf_chats(self, *, after: str | None, limit: int) -> Page:
        """Live chats nobody hears humans in: no listener, or one that cannot hear them.

        The dispatcher's verdict (`chat_statuses.can_hear_humans`) wins when it
        gave one; otherwise the listener bot's status decides (verified, not
        disabled, and privacy mode off or admin in the chat).
        """
        c, cs, bs = t.chats, t.chat_statuses, t.bot_statuses
        listener_hears = and_(
            bs.c.token_check == TokenCheck.VERIFIED.value,
            bs.c.disabled_everywhere.is_(False),
            not_(c.c.id == any_(bs.c.disabled_in_chats)),
            or_(
                bs.c.can_read_all_group_messages.is_(True),
                c.c.id == any_(bs.c.admin_in_chats),
            ),
        )
        hears = or_(
            cs.c.can_hear_humans.is_(True),
            and_(cs.c.can_hear_humans.is_(None), func.coalesce(listener_hears, false())),
        )
        query = (
            select(
                c.c.id,
                c.c.title,
                c.c.telegram_chat_id,
                c.c.listener_bot_id,
                cs.c.can_hear_humans,
                cs.c.detail.label("status_detail"),
                bs.c.token_check,
                bs.c.can_read_all_group_messages,
                bs.c.disabled_everywhere,
            )
            .select_from(
                c.outerjoin(cs, cs.c.id == c.c.id).outerjoin(bs, bs.c.id == c.c.listener_bot_id)
            )
            .where(c.c.deleted.is_(False), not_(func.coalesce(hears, false())))
        )
        if after is not None:
            query = query.where(c.c.id > after)
        rows = await self._all(query.order_by(c.c.id).limit(limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, str(rows[-1]["id"]) if more else None)

    # conversation ----------------------------------------------------------------------

    async def messages(self, chat_id: str, *, before: str | None, limit: int) -> Page:
        """The chat's messages, newest first; `before` is the previous page's cursor."""
        m = t.messages
        query = select(m).where(m.c.chat_id == chat_id)
        if before is not None:
            sent_at, message_id = _decode_cursor(before)
            query = query.where(
                or_(
                    m.c.sent_at < sent_at,
                    and_(m.c.sent_at == sent_at, m.c.telegram_message_id < message_id),
                )
            )
        rows = await self._all(
            query.order_by(m.c.sent_at.desc(), m.c.telegram_message_id.desc()).limit(limit + 1)
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if not more:
            return Page(rows, None)
        return Page(rows, _encode_cursor(rows[-1]["sent_at"], rows[-1]["telegram_message_id"]))

    async def erased(self, person_ids: Sequence[str]) -> dict[str, datetime]:
        if not person_ids:
            return {}
        e = t.erased_people
        rows = await self._all(
            select(e.c.id, e.c.erased_at).where(e.c.id.in_(sorted(set(person_ids))))
        )
        return {str(r["id"]): r["erased_at"] for r in rows}

    # positions -------------------------------------------------------------------------

    async def position(self, stream: str) -> int:
        p = t.projection_positions
        row = await self._one(select(p.c.last_sequence).where(p.c.stream == stream))
        return int(row["last_sequence"]) if row else 0

    async def positions(self) -> dict[str, int]:
        p = t.projection_positions
        rows = await self._all(select(p).where(true()))
        return {str(r["stream"]): int(r["last_sequence"]) for r in rows}

    async def wait_projected(self, stream: str, sequence: int, timeout_s: float) -> bool:
        """Until the projector applied `sequence` of `stream`; False after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        delay = 0.002
        while True:
            if await self.position(stream) >= sequence:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)


def _encode_cursor(sent_at: datetime, message_id: int) -> str:
    raw = f"{sent_at.isoformat()}|{message_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, message_id = raw.partition("|")
        at = datetime.fromisoformat(when)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, int(message_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("not a cursor this API gave out", field="before") from exc
