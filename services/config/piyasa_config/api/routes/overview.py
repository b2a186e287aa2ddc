"""Views a dashboard lists: bots with their state, chats with their control and activity,
and the fleet's control. Each is one paginated request where the per-item views
(`/bots/{bot_id}/state`, `/control`) would take one request per row."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from piyasa_config.api.deps import State, Viewer
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import After, Limit, Page, json_response
from piyasa_config.api.routes.bots import Bot
from piyasa_config.api.routes.chats import Chat
from piyasa_config.api.routes.control import Control
from piyasa_config.api.routes.views import BotState, TelegramStatus, can_hear_humans
from piyasa_config.domain.ids import control_id
from piyasa_config.store.overview import (
    BUCKET,
    BotOverview,
    ChatOverview,
    OverviewReader,
    activity_window,
)
from piyasa_contracts.events._common import Position
from piyasa_contracts.events.config import ControlScope, ControlState

router = APIRouter(responses=ERRORS)

TOP_STANCES = 3


class StanceBrief(BaseModel):
    topic: str
    position: Position
    strength: float


class BotStateSummary(BotState):
    """A bot's state as `/bots/{bot_id}/state` gives it, with its strongest stances."""

    top_stances: list[StanceBrief] = Field(
        description=f"Its {TOP_STANCES} strongest stances, strongest first"
    )


def _bot_state(item: BotOverview) -> BotStateSummary:
    telegram = TelegramStatus.model_validate(item.status) if item.status else TelegramStatus()
    return BotStateSummary(
        bot=Bot.of_row(item.bot),
        telegram=telegram,
        can_hear_humans=can_hear_humans(telegram),
        control=item.control or ControlState.RUNNING.value,
        stances=item.stances,
        holdings=item.holdings,
        top_stances=[
            StanceBrief(topic=s["topic"], position=s["position"], strength=s["strength"])
            for s in item.top_stances
        ],
    )


@router.get(
    "/bot-states",
    tags=["views"],
    response_model=Page[BotStateSummary],
    summary="Bots with their state (Telegram status, control, stances), in id order",
)
async def bot_states(state: State, _: Viewer, limit: Limit = 50, after: After = None) -> Response:
    page = await OverviewReader(state.reader).bots(after=after, limit=limit, top=TOP_STANCES)
    return json_response(
        Page[BotStateSummary](items=[_bot_state(i) for i in page.items], next=page.next)
    )


class Activity(BaseModel):
    """Messages per minute, oldest minute first; the last minute is the current one."""

    since: datetime = Field(description="The start of the first minute")
    bucket_s: int = Field(description="Seconds per bucket")
    bot: list[int] = Field(description="Bots' messages per bucket")
    human: list[int] = Field(description="Humans' messages per bucket")


class ChatState(BaseModel):
    chat: Chat
    control: ControlState = Field(description="running when never set")
    activity: Activity


def _chat_state(item: ChatOverview, since: datetime) -> ChatState:
    return ChatState(
        chat=Chat.of_row(item.chat),
        control=ControlState(item.control or ControlState.RUNNING.value),
        activity=Activity(
            since=since, bucket_s=int(BUCKET.total_seconds()), bot=item.bot, human=item.human
        ),
    )


@router.get(
    "/chat-states",
    tags=["views"],
    response_model=Page[ChatState],
    summary="Chats with their control and messages per minute (from the projected messages)",
)
async def chat_states(
    state: State,
    _: Viewer,
    limit: Limit = 50,
    after: After = None,
    minutes: Annotated[
        int, Query(ge=5, le=360, description="How many minutes of activity, up to now")
    ] = 60,
) -> Response:
    since, until = activity_window(state.clock.now(), minutes)
    page = await OverviewReader(state.reader).chats(
        after=after, limit=limit, since=since, until=until
    )
    return json_response(
        Page[ChatState](items=[_chat_state(i, since) for i in page.items], next=page.next)
    )


@router.get(
    "/control/fleet",
    tags=["control"],
    response_model=Control,
    summary="The fleet's control state (running, version 0, when never set)",
)
async def fleet_control(state: State, _: Viewer) -> Control:
    fleet = control_id(ControlScope.FLEET, None)
    row = await state.reader.get("controls", fleet)
    if row is None:
        return Control(
            id=fleet,
            scope=ControlScope.FLEET,
            target_id=None,
            state=ControlState.RUNNING,
            version=0,
        )
    return Control(
        id=row["id"],
        scope=row["scope"],
        target_id=row["target_id"],
        state=row["state"],
        version=row["version"],
        updated_at=row["updated_at"],
    )
