"""Reads behind `GET /turn-failures`: turns that never reached Telegram, newest first.

A page is one statement over the projector's partial index
`turn_outcomes_failures` (`at DESC, turn_id DESC WHERE outcome <> 'sent'`):
the index gives the order, a row comparison on the same two columns starts
the next page where the last one ended, and the filters are checked on the
rows the scan meets. The predicate `outcome <> 'sent'` is a literal, not a
bound parameter: the planner uses a partial index only when it can prove the
query implies the index's predicate, and asyncpg's prepared statements are
planned without their parameters' values once PostgreSQL turns generic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Select, Text, bindparam, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import TIMESTAMP

from piyasa_config.errors import BadRequest
from piyasa_config.store import tables as t
from piyasa_config.store.reads import Page, ProjectionReader

CURSOR_PATTERN: Final = r"^-?[0-9]{1,18}_[A-Za-z0-9_-]{1,64}$"
"""`<microseconds since the epoch>_<turn id>`: every string it matches is a valid cursor."""

_CURSOR: Final = re.compile(CURSOR_PATTERN.strip("^$"), re.ASCII)

FILTERS: Final = ("chat_id", "bot_id", "outcome")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


class FailureOutcome(StrEnum):
    """How a turn ended without a message in the chat (`sent` is the other outcome)."""

    FAILED = "failed"
    """Telegram refused the message, or could not be reached."""
    EXPIRED = "expired"
    """The turn's deadline passed before it was sent."""
    DROPPED = "dropped"
    """A stage gave it up: no provider, rejected by the guard, ..."""


@dataclass(frozen=True, slots=True)
class FailureCursor:
    """Where a page ended: the last row's `(at, turn_id)`, the index's own key."""

    at: datetime
    turn_id: str

    def encode(self) -> str:
        return f"{(self.at - _EPOCH) // _MICROSECOND}_{self.turn_id}"

    @classmethod
    def decode(cls, cursor: str) -> FailureCursor:
        """The cursor `encode` gave out; any string `CURSOR_PATTERN` matches is accepted.

        A time beyond what Python can hold is clamped to its limits, which keeps
        the cursor's meaning: after the earliest time nothing is left, after the
        latest everything is.
        """
        if _CURSOR.fullmatch(cursor) is None:
            raise BadRequest("not a cursor this API gave out", field="after")
        micros, _, turn_id = cursor.partition("_")
        count = int(micros)
        try:
            at = _EPOCH + count * _MICROSECOND
        except OverflowError:
            at = (datetime.max if count > 0 else datetime.min).replace(tzinfo=UTC)
        return cls(at, turn_id)


def failures_query(filters: Sequence[str], *, after: bool) -> Select[Any]:
    """The page's statement for the given filter names (each bound as itself)."""
    o = t.turn_outcomes
    query = select(
        o.c.turn_id,
        o.c.chat_id,
        o.c.bot_id,
        o.c.outcome,
        o.c.stage,
        o.c.reason,
        o.c.detail,
        o.c.at,
    ).where(
        o.c.outcome != literal_column("'sent'"),
        *(o.c[name] == bindparam(name, type_=Text) for name in filters),
    )
    if after:
        query = query.where(
            tuple_(o.c.at, o.c.turn_id)
            < tuple_(
                bindparam("at", type_=TIMESTAMP(timezone=True)), bindparam("turn_id", type_=Text)
            )
        )
    return query.order_by(o.c.at.desc(), o.c.turn_id.desc()).limit(bindparam("limit"))


class TurnFailureReader:
    def __init__(self, reader: ProjectionReader) -> None:
        self._reader = reader

    async def page(
        self,
        *,
        after: FailureCursor | None,
        limit: int,
        chat_id: str | None = None,
        bot_id: str | None = None,
        outcome: FailureOutcome | None = None,
    ) -> Page:
        """Failed, expired and dropped turns, newest first, after `after`."""
        given = {"chat_id": chat_id, "bot_id": bot_id, "outcome": outcome}
        filters = {name: str(value) for name, value in given.items() if value is not None}
        names = tuple(n for n in FILTERS if n in filters)
        params: dict[str, Any] = {**filters, "limit": limit + 1}
        if after is not None:
            params.update(at=after.at, turn_id=after.turn_id)
        rows = await self._reader.rows(
            ("turn_failures", names, after is not None),
            lambda: failures_query(names, after=after is not None),
            params,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        return Page(rows, FailureCursor(last["at"], last["turn_id"]).encode() if last else None)
