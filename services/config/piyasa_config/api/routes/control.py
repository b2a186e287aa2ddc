"""/control: start, stop or pause the fleet, one chat or one bot.

A control change is a `control.changed` event; the scheduler folds it, and on
pause or stop of a chat it expires the chat's turns in flight (it owns the
turn ledger), so nothing queued before the pause is posted after it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from piyasa_config.api.deps import Operator, State, Viewer, Wait, settle
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import ID_PATTERN, After, Limit, Page
from piyasa_config.domain.ids import control_id
from piyasa_config.errors import NotFound
from piyasa_contracts.events.config import (
    BotChanged,
    ChatChanged,
    ControlChanged,
    ControlScope,
    ControlState,
)

router = APIRouter(prefix="/control", tags=["control"], responses=ERRORS)

TargetId = Annotated[str, Path(pattern=ID_PATTERN)]


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    PAUSE = "pause"


_STATE_OF = {
    Action.START: ControlState.RUNNING,
    Action.STOP: ControlState.STOPPED,
    Action.PAUSE: ControlState.PAUSED,
}


class Control(BaseModel):
    id: str
    scope: ControlScope
    target_id: str | None
    state: ControlState
    version: int
    updated_at: datetime | None = None


@router.get("", response_model=Page[Control], summary="Every control state set so far")
async def list_controls(
    state: State, _: Viewer, limit: Limit = 50, after: After = None
) -> Page[Control]:
    page = await state.reader.page("controls", after=after, limit=limit)
    return Page(
        items=[
            Control(
                id=r["id"],
                scope=r["scope"],
                target_id=r["target_id"],
                state=r["state"],
                version=r["version"],
                updated_at=r["updated_at"],
            )
            for r in page.rows
        ],
        next=page.next,
    )


async def _set(
    state: State,
    actor: str,
    scope: ControlScope,
    target_id: str | None,
    action: Action,
    wait: Wait,
    response: Response,
) -> Control:
    if (
        scope is ControlScope.BOT
        and target_id is not None
        and not (await state.events.current(BotChanged, target_id)).live
    ):
        raise NotFound(f"no bot {target_id}", field="bot_id")
    if (
        scope is ControlScope.CHAT
        and target_id is not None
        and not (await state.events.current(ChatChanged, target_id)).live
    ):
        raise NotFound(f"no chat {target_id}", field="chat_id")
    payload = ControlChanged(
        id=control_id(scope, target_id), scope=scope, target_id=target_id, state=_STATE_OF[action]
    )
    current = await state.events.current(ControlChanged, payload.id)
    stored = await state.writer.save(payload, current.version, actor=actor)
    await settle(state, stored, wait, response)
    return Control(
        id=payload.id,
        scope=scope,
        target_id=target_id,
        state=payload.state,
        version=stored.version,
        updated_at=stored.occurred_at,
    )


@router.post("/fleet/{action}", response_model=Control, summary="Start, stop or pause everything")
async def control_fleet(
    state: State, principal: Operator, action: Action, response: Response, wait: Wait = "stored"
) -> Control:
    return await _set(state, principal.actor, ControlScope.FLEET, None, action, wait, response)


@router.post(
    "/chats/{chat_id}/{action}",
    response_model=Control,
    summary="Start, stop or pause one chat (pause and stop expire its turns in flight)",
)
async def control_chat(
    state: State,
    principal: Operator,
    chat_id: TargetId,
    action: Action,
    response: Response,
    wait: Wait = "stored",
) -> Control:
    return await _set(state, principal.actor, ControlScope.CHAT, chat_id, action, wait, response)


@router.post(
    "/bots/{bot_id}/{action}", response_model=Control, summary="Start, stop or pause a bot"
)
async def control_bot(
    state: State,
    principal: Operator,
    bot_id: TargetId,
    action: Action,
    response: Response,
    wait: Wait = "stored",
) -> Control:
    return await _set(state, principal.actor, ControlScope.BOT, bot_id, action, wait, response)
