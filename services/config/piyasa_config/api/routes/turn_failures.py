"""/turn-failures: turns that ended without a message in the chat, newest first.

Dispatch failures (Telegram refused or could not be reached), expired turns
and dropped ones, from the projected turn outcomes; the dashboard's Errors
panel lists them beside the dead letters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from piyasa_common.logs import redact
from piyasa_config.api.deps import State, Viewer
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import ID_PATTERN, Limit, Page, json_response
from piyasa_config.store.reads import Row
from piyasa_config.store.turn_failures import (
    CURSOR_PATTERN,
    FailureCursor,
    FailureOutcome,
    TurnFailureReader,
)

router = APIRouter(tags=["views"], responses=ERRORS)

Cursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        max_length=84,
        description="Continue after this cursor (the previous page's `next`)",
    ),
]
FilterId = Annotated[str | None, Query(pattern=ID_PATTERN)]


class TurnFailure(BaseModel):
    turn_id: str
    chat_id: str | None
    bot_id: str | None
    outcome: FailureOutcome
    stage: str = Field(description="Where the turn ended: scheduler, generator, guard, dispatcher")
    reason: str | None = Field(
        description="failed: what the dispatcher did about it (drop, retry, disable_in_chat, "
        "...); expired and dropped: why"
    )
    detail: str | None = Field(
        description="failed: Telegram's error code and description; secrets are masked"
    )
    at: datetime


def _failure(row: Row) -> TurnFailure:
    # Telegram's text and a provider's error arrive from outside: whatever looks like a
    # token or a key is masked before it leaves, like in the logs.
    return TurnFailure(
        turn_id=row["turn_id"],
        chat_id=row["chat_id"],
        bot_id=row["bot_id"],
        outcome=row["outcome"],
        stage=row["stage"],
        reason=redact(row["reason"]) if row["reason"] is not None else None,
        detail=redact(row["detail"]) if row["detail"] is not None else None,
        at=row["at"],
    )


@router.get(
    "/turn-failures",
    response_model=Page[TurnFailure],
    summary="Turns that did not reach the chat (failed, expired, dropped), newest first",
)
async def turn_failures(
    state: State,
    _: Viewer,
    limit: Limit = 50,
    after: Cursor = None,
    chat_id: FilterId = None,
    bot_id: FilterId = None,
    outcome: Annotated[FailureOutcome | None, Query()] = None,
) -> Response:
    page = await TurnFailureReader(state.reader).page(
        after=FailureCursor.decode(after) if after is not None else None,
        limit=limit,
        chat_id=chat_id,
        bot_id=bot_id,
        outcome=outcome,
    )
    return json_response(Page[TurnFailure](items=[_failure(r) for r in page.rows], next=page.next))
