"""Read-only views: a chat's recent messages, a bot's state, chats that cannot hear their
humans, the services' heartbeats, queue depths, and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import nats.errors
from fastapi import APIRouter, Path, Query
from nats.js.errors import APIError
from pydantic import BaseModel, Field

from piyasa_common.heartbeat import read_heartbeats
from piyasa_config.api.deps import AdminRead, State, Viewer
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import ID_PATTERN, After, Change, History, Limit, Page
from piyasa_config.api.routes.bots import Bot
from piyasa_config.errors import NotFound, Unavailable
from piyasa_contracts import StreamRole
from piyasa_contracts.events._common import SealedText
from piyasa_contracts.events.config import TokenCheck

router = APIRouter(tags=["views"], responses=ERRORS)

EntityId = Annotated[str, Path(pattern=ID_PATTERN)]


# messages -----------------------------------------------------------------------------


class Message(BaseModel):
    telegram_message_id: int
    kind: str = Field(description="bot or human")
    bot_id: str | None
    person_id: str | None
    sender_name: str | None = Field(description="A human's name; null once they are erased")
    text: str | None = Field(description="null when the sender's data was erased")
    erased: bool
    reply_to_message_id: int | None
    sent_at: datetime
    edited_at: datetime | None


class MessagePage(BaseModel):
    items: list[Message]
    next: str | None = Field(None, description="Pass as `before` for older messages")


@router.get(
    "/chats/{chat_id}/messages",
    response_model=MessagePage,
    summary="A chat's recent messages, newest first; erased people's messages show as erased",
)
async def chat_messages(
    state: State,
    _: Viewer,
    chat_id: EntityId,
    limit: Limit = 50,
    before: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> MessagePage:
    page = await state.reader.messages(chat_id, before=before, limit=limit)
    people = [r["person_id"] for r in page.rows if r["person_id"]]
    erased = await state.reader.erased(people)
    items = []
    for row in page.rows:
        text, name, gone = row["text"], None, False
        if row["kind"] == "human":
            gone = row["person_id"] in erased
            text = None if gone else await _open(state, row["sealed_text"])
            name = None if gone else await _open(state, row["sealed_sender_name"])
            gone = gone or text is None
        items.append(
            Message(
                telegram_message_id=row["telegram_message_id"],
                kind=row["kind"],
                bot_id=row["bot_id"],
                person_id=row["person_id"],
                sender_name=name,
                text=text,
                erased=gone,
                reply_to_message_id=row["reply_to_message_id"],
                sent_at=row["sent_at"],
                edited_at=row["edited_at"],
            )
        )
    return MessagePage(items=items, next=page.next)


async def _open(state: State, sealed: Any) -> str | None:
    if not sealed:
        return None
    try:
        return await state.datakeys.open(SealedText.model_validate(sealed))
    except (ValueError, APIError, nats.errors.Error):
        return None


# a bot's state ------------------------------------------------------------------------


class TelegramStatus(BaseModel):
    token_check: TokenCheck = Field(
        TokenCheck.UNCHECKED, description="verified, invalid, or unchecked"
    )
    telegram_user_id: int | None = None
    telegram_username: str | None = None
    can_read_all_group_messages: bool | None = Field(
        None, description="Privacy mode off: the bot hears every human in its groups"
    )
    disabled_everywhere: bool = False
    disabled_in_chats: list[str] = Field(default_factory=list)
    admin_in_chats: list[str] = Field(default_factory=list)
    checked_at: datetime | None = None
    detail: str = ""


def can_hear_humans(telegram: TelegramStatus) -> bool:
    """Verified, not disabled, and privacy mode off (a chat's listener must)."""
    return (
        telegram.token_check is TokenCheck.VERIFIED
        and not telegram.disabled_everywhere
        and bool(telegram.can_read_all_group_messages)
    )


class BotState(BaseModel):
    bot: Bot
    telegram: TelegramStatus
    can_hear_humans: bool = Field(
        description="Verified, not disabled, and privacy mode off: it can be a chat's listener"
    )
    control: str = Field(description="running, paused or stopped (running when never set)")
    stances: int
    holdings: int


@router.get("/bots/{bot_id}/state", response_model=BotState, summary="A bot's state")
async def bot_state(state: State, _: Viewer, bot_id: EntityId) -> BotState:
    from piyasa_config.store import tables as t

    row = await state.reader.get("bots", bot_id)
    if row is None:
        raise NotFound(f"no bot {bot_id}")
    status, control = await state.reader.bot_state(bot_id)
    telegram = TelegramStatus.model_validate(status) if status else TelegramStatus()
    stances = await state.reader.count("stances", [t.stances.c.bot_id == bot_id])
    holdings = await state.reader.count("holdings", [t.holdings.c.bot_id == bot_id])
    return BotState(
        bot=Bot.of_row(row),
        telegram=telegram,
        can_hear_humans=can_hear_humans(telegram),
        control=control["state"] if control else "running",
        stances=stances,
        holdings=holdings,
    )


# chats that cannot hear their humans ---------------------------------------------------


class DeafChat(BaseModel):
    id: str
    title: str
    telegram_chat_id: int
    listener_bot_id: str | None
    reason: str


def _deaf_reason(row: Any) -> str:
    if row["can_hear_humans"] is False:
        return row["status_detail"] or "the dispatcher found no bot that hears the humans"
    if row["listener_bot_id"] is None:
        return "no listener bot is set"
    check = row["token_check"]
    if check is None or check == TokenCheck.UNCHECKED:
        return "the listener bot's token is not checked yet"
    if check == TokenCheck.INVALID:
        return "the listener bot's token is invalid"
    if row["disabled_everywhere"]:
        return "the listener bot is disabled (token revoked)"
    return "the listener bot has privacy mode on and is not an admin of the chat"


@router.get(
    "/deaf-chats",
    response_model=Page[DeafChat],
    summary="Chats that cannot hear their humans, with why",
)
async def deaf_chats(
    state: State, _: Viewer, limit: Limit = 50, after: After = None
) -> Page[DeafChat]:
    page = await state.reader.deaf_chats(after=after, limit=limit)
    return Page(
        items=[
            DeafChat(
                id=r["id"],
                title=r["title"],
                telegram_chat_id=r["telegram_chat_id"],
                listener_bot_id=r["listener_bot_id"],
                reason=_deaf_reason(r),
            )
            for r in page.rows
        ],
        next=page.next,
    )


# the system ---------------------------------------------------------------------------


class HeartbeatView(BaseModel):
    service: str
    instance: str
    version: str
    ready: bool
    lag: int
    started_at: str
    at: str


@router.get("/system/heartbeats", response_model=list[HeartbeatView], summary="Live replicas")
async def heartbeats(state: State, _: Viewer) -> list[HeartbeatView]:
    try:
        beats = await read_heartbeats(state.js, state.topology)
    except (APIError, nats.errors.Error) as exc:
        raise Unavailable(f"heartbeats unavailable: {exc!r}") from exc
    return [
        HeartbeatView(
            service=b.service,
            instance=b.instance,
            version=b.version,
            ready=b.ready,
            lag=b.lag,
            started_at=b.started_at,
            at=b.at,
        )
        for b in beats
    ]


class StreamDepth(BaseModel):
    stream: str
    messages: int
    last_sequence: int
    projected: int | None = Field(None, description="The projector's position in it")


class ConsumerDepth(BaseModel):
    consumer: str
    stream: str
    pending: int = Field(description="Messages not yet delivered")
    ack_pending: int = Field(description="Delivered, not yet acknowledged")
    redelivered: int


class Queues(BaseModel):
    streams: list[StreamDepth]
    consumers: list[ConsumerDepth]


@router.get("/system/queues", response_model=Queues, summary="Stream and consumer depth")
async def queues(state: State, _: Viewer) -> Queues:
    positions = await state.reader.positions()
    streams, consumers = [], []
    try:
        for role in StreamRole:
            name = state.topology.stream(role)
            info = await state.js.stream_info(name)
            streams.append(
                StreamDepth(
                    stream=name,
                    messages=info.state.messages,
                    last_sequence=info.state.last_seq,
                    projected=positions.get(name),
                )
            )
            for consumer in await state.js.consumers_info(name):
                if consumer.name is None:
                    continue
                consumers.append(
                    ConsumerDepth(
                        consumer=consumer.name,
                        stream=name,
                        pending=consumer.num_pending or 0,
                        ack_pending=consumer.num_ack_pending or 0,
                        redelivered=consumer.num_redelivered or 0,
                    )
                )
    except (APIError, nats.errors.Error) as exc:
        raise Unavailable(f"stream information unavailable: {exc!r}") from exc
    return Queues(streams=streams, consumers=sorted(consumers, key=lambda c: c.consumer))


@router.get(
    "/audit",
    response_model=History,
    summary="The audit trail: every config change, who made it, oldest first",
)
async def audit(
    state: State,
    _: AdminRead,
    after: Annotated[int, Query(ge=0, le=2**53, description="After this CONFIG sequence")] = 0,
    limit: Limit = 50,
) -> History:
    entries = await state.events.log(after=after, limit=limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    return History(
        items=[Change.of(e) for e in entries], next=entries[-1].version if more else None
    )
