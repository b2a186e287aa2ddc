"""Reads behind the dashboard's lists: a page of bots with their status, control and
stances, and a page of chats with their control and messages per minute.

Each is one keyset page of the aggregate plus a few queries keyed on that
page's ids (primary keys or `*_bot_id` / `messages_chat_sent_at` indexes), so
a page costs the same in a fleet of 200 bots as in one of 10,000; a
dashboard never asks once per row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BigInteger,
    Select,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP
from sqlalchemy.sql.elements import BindParameter

from piyasa_config.domain.ids import control_id
from piyasa_config.store import tables as t
from piyasa_config.store.reads import ProjectionReader, Row
from piyasa_contracts.events.config import ControlScope

T = TypeVar("T")

BUCKET = timedelta(minutes=1)
"""The width of one activity bucket."""


@dataclass(frozen=True, slots=True)
class BotOverview:
    bot: Row
    status: Row | None
    control: str | None
    stances: int
    holdings: int
    top_stances: list[Row]
    """The strongest stances, strongest first."""


@dataclass(frozen=True, slots=True)
class ChatOverview:
    chat: Row
    control: str | None
    bot: list[int]
    """Bots' messages per bucket, oldest bucket first."""
    human: list[int]


@dataclass(frozen=True, slots=True)
class OverviewPage(Generic[T]):
    items: list[T]
    next: str | None


def _ids() -> BindParameter[Any]:
    return bindparam("ids", type_=ARRAY(Text))


def activity_window(now: datetime, minutes: int) -> tuple[datetime, datetime]:
    """`[since, until)`: `minutes` whole buckets, the last one holding `now`."""
    start_of_minute = now.replace(second=0, microsecond=0)
    until = start_of_minute + BUCKET
    return until - minutes * BUCKET, until


class OverviewReader:
    def __init__(self, reader: ProjectionReader) -> None:
        self._reader = reader

    async def bots(self, *, after: str | None, limit: int, top: int) -> OverviewPage[BotOverview]:
        page = await self._reader.page("bots", after=after, limit=limit)
        ids = [str(r["id"]) for r in page.rows]
        if not ids:
            return OverviewPage([], page.next)
        statuses, controls, stances, holdings = await asyncio.gather(
            self._statuses(ids),
            self._controls(ControlScope.BOT, ids),
            self._top_stances(ids, top),
            self._holding_counts(ids),
        )
        items = []
        for row in page.rows:
            bot_id = str(row["id"])
            ranked = stances.get(bot_id, [])
            items.append(
                BotOverview(
                    bot=row,
                    status=statuses.get(bot_id),
                    control=controls.get(bot_id),
                    stances=int(ranked[0]["total"]) if ranked else 0,
                    holdings=holdings.get(bot_id, 0),
                    top_stances=ranked,
                )
            )
        return OverviewPage(items, page.next)

    async def chats(
        self, *, after: str | None, limit: int, since: datetime, until: datetime
    ) -> OverviewPage[ChatOverview]:
        page = await self._reader.page("chats", after=after, limit=limit)
        ids = [str(r["id"]) for r in page.rows]
        if not ids:
            return OverviewPage([], page.next)
        controls, counts = await asyncio.gather(
            self._controls(ControlScope.CHAT, ids), self._activity(ids, since, until)
        )
        buckets = int((until - since) / BUCKET)
        first = int(since.timestamp() // BUCKET.total_seconds())
        items = []
        for row in page.rows:
            chat_id = str(row["id"])
            series = {"bot": [0] * buckets, "human": [0] * buckets}
            for kind, minute, n in counts.get(chat_id, []):
                if kind in series and 0 <= minute - first < buckets:
                    series[kind][minute - first] += n
            items.append(
                ChatOverview(
                    chat=row,
                    control=controls.get(chat_id),
                    bot=series["bot"],
                    human=series["human"],
                )
            )
        return OverviewPage(items, page.next)

    # the queries keyed on a page's ids --------------------------------------------------

    async def _statuses(self, ids: Sequence[str]) -> dict[str, Row]:
        s = t.bot_statuses

        def build() -> Select[Any]:
            return select(s).where(s.c.id == any_(_ids()))

        rows = await self._reader.rows(("overview", "statuses"), build, {"ids": list(ids)})
        return {str(r["id"]): r for r in rows}

    async def _controls(self, scope: ControlScope, ids: Sequence[str]) -> dict[str, str]:
        """Target id -> control state, found by the controls' derived primary keys."""
        c = t.controls
        by_control = {control_id(scope, i): i for i in ids}

        def build() -> Select[Any]:
            return select(c.c.id, c.c.state).where(c.c.id == any_(_ids()), c.c.deleted.is_(False))

        rows = await self._reader.rows(("overview", "controls"), build, {"ids": list(by_control)})
        return {by_control[str(r["id"])]: str(r["state"]) for r in rows}

    async def _top_stances(self, ids: Sequence[str], top: int) -> dict[str, list[Row]]:
        s = t.stances

        def build() -> Select[Any]:
            ranked = (
                select(
                    s.c.bot_id,
                    s.c.topic,
                    s.c.position,
                    s.c.strength,
                    func.row_number()
                    .over(partition_by=s.c.bot_id, order_by=(s.c.strength.desc(), s.c.topic))
                    .label("rank"),
                    func.count().over(partition_by=s.c.bot_id).label("total"),
                )
                .where(s.c.bot_id == any_(_ids()), s.c.deleted.is_(False))
                .subquery()
            )
            return (
                select(ranked)
                .where(ranked.c.rank <= bindparam("top"))
                .order_by(ranked.c.bot_id, ranked.c.rank)
            )

        rows = await self._reader.rows(
            ("overview", "stances"), build, {"ids": list(ids), "top": top}
        )
        found: dict[str, list[Row]] = {}
        for row in rows:
            found.setdefault(str(row["bot_id"]), []).append(row)
        return found

    async def _holding_counts(self, ids: Sequence[str]) -> dict[str, int]:
        h = t.holdings

        def build() -> Select[Any]:
            return (
                select(h.c.bot_id, func.count().label("n"))
                .where(h.c.bot_id == any_(_ids()), h.c.deleted.is_(False))
                .group_by(h.c.bot_id)
            )

        rows = await self._reader.rows(("overview", "holdings"), build, {"ids": list(ids)})
        return {str(r["bot_id"]): int(r["n"]) for r in rows}

    async def _activity(
        self, ids: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, list[tuple[str, int, int]]]:
        """Chat id -> (kind, minute since the epoch, messages) for each minute with any."""
        m = t.messages
        # A literal, not a bound 60: the statement is compiled once with named parameters only.
        epoch_minute = func.extract("epoch", m.c.sent_at) / literal_column("60")
        minute = cast(func.floor(epoch_minute), BigInteger)

        def build() -> Select[Any]:
            return (
                select(m.c.chat_id, m.c.kind, minute.label("minute"), func.count().label("n"))
                .where(
                    m.c.chat_id == any_(_ids()),
                    m.c.sent_at >= bindparam("since", type_=TIMESTAMP(timezone=True)),
                    m.c.sent_at < bindparam("until", type_=TIMESTAMP(timezone=True)),
                )
                .group_by(m.c.chat_id, m.c.kind, minute)
            )

        rows = await self._reader.rows(
            ("overview", "activity"),
            build,
            {"ids": list(ids), "since": since, "until": until},
        )
        found: dict[str, list[tuple[str, int, int]]] = {}
        for row in rows:
            found.setdefault(str(row["chat_id"]), []).append(
                (str(row["kind"]), int(row["minute"]), int(row["n"]))
            )
        return found
