"""/chats: the Telegram groups the fleet talks in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from piyasa_config.api.deps import IfMatch, Operator, State, Viewer, Wait, settle
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import ID_PATTERN, After, Deleted, Limit, Page, json_response
from piyasa_config.errors import NotFound
from piyasa_config.store.reads import Row
from piyasa_config.store.writer import revise
from piyasa_contracts import new_opaque_id
from piyasa_contracts.events.config import ChatChanged

router = APIRouter(prefix="/chats", tags=["chats"], responses=ERRORS)

ChatId = Annotated[str, Path(pattern=ID_PATTERN)]
_LANGUAGE = r"^[a-z]{2}$"
_TELEGRAM_ID = Field(
    ge=-(10**15), le=10**15, description="Telegram's chat id (groups are negative); unique"
)
Topic = Annotated[str, Field(min_length=1, max_length=120)]
BotRef = Annotated[str, Field(pattern=ID_PATTERN)]
Curve = Annotated[float, Field(ge=0.0, le=100.0)]


class ChatCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, pattern=ID_PATTERN)
    telegram_chat_id: int = _TELEGRAM_ID
    title: str = Field(min_length=1, max_length=255)
    topics: list[Topic] = Field(default_factory=list, max_length=50)
    language: str = Field("tr", pattern=_LANGUAGE)
    target_per_hour: float = Field(12.0, ge=0.0, le=3600.0, description="Target messages/hour")
    typing: bool = Field(True, description="Simulate typing before each message")
    reply_probability: float = Field(0.6, ge=0.0, le=1.0, description="Chance a message replies")
    bot_ids: list[BotRef] = Field(
        default_factory=list, max_length=500, json_schema_extra={"uniqueItems": True}
    )
    listener_bot_id: str | None = Field(
        None,
        pattern=ID_PATTERN,
        description="The bot (privacy mode off) that hears humans; added to bot_ids if missing",
    )
    activity_curve: list[Curve] = Field(
        default_factory=lambda: [1.0] * 24, min_length=24, max_length=24
    )


class ChatPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    telegram_chat_id: int | None = Field(None, ge=-(10**15), le=10**15)
    title: str | None = Field(None, min_length=1, max_length=255)
    topics: list[Topic] | None = Field(None, max_length=50)
    language: str | None = Field(None, pattern=_LANGUAGE)
    target_per_hour: float | None = Field(None, ge=0.0, le=3600.0)
    typing: bool | None = None
    reply_probability: float | None = Field(None, ge=0.0, le=1.0)
    bot_ids: list[BotRef] | None = Field(
        None, max_length=500, json_schema_extra={"uniqueItems": True}
    )
    listener_bot_id: str | None = Field(None, pattern=ID_PATTERN)
    activity_curve: list[Curve] | None = Field(None, min_length=24, max_length=24)


class Chat(BaseModel):
    id: str
    telegram_chat_id: int
    title: str
    topics: list[str]
    language: str
    target_per_hour: float
    typing: bool
    reply_probability: float
    bot_ids: list[str]
    listener_bot_id: str | None
    activity_curve: list[float]
    version: int
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: Any, version: int, at: datetime | None) -> Chat:
        fields = {k: row[k] for k in cls.model_fields if k not in ("version", "updated_at")}
        return cls(**fields, version=version, updated_at=at)

    @classmethod
    def of_row(cls, row: Row) -> Chat:
        return cls.of(row, row["version"], row["updated_at"])


@router.get("", response_model=Page[Chat], summary="List chats")
async def list_chats(
    state: State,
    _: Viewer,
    limit: Limit = 50,
    after: After = None,
    bot_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Chats this bot is in")
    ] = None,
    language: Annotated[str | None, Query(pattern=_LANGUAGE)] = None,
) -> Response:
    filters = {"bot_in": bot_id, "language": language}
    page = await state.reader.page("chats", after=after, limit=limit, filters=filters)
    return json_response(Page[Chat](items=[Chat.of_row(r) for r in page.rows], next=page.next))


@router.post("", response_model=Chat, status_code=201, summary="Create a chat")
async def create_chat(
    state: State, principal: Operator, body: ChatCreate, response: Response, wait: Wait = "stored"
) -> Chat:
    chat = ChatChanged(id=body.id or new_opaque_id(), **body.model_dump(exclude={"id"}))
    stored = await state.chats.create(chat, actor=principal.actor)
    response.headers["Location"] = f"/chats/{chat.id}"
    await settle(state, stored, wait, response)
    return Chat.of(stored.state.model_dump(), stored.version, stored.occurred_at)


@router.get("/{chat_id}", response_model=Chat, summary="Get a chat")
async def get_chat(state: State, _: Viewer, chat_id: ChatId) -> Response:
    row = await state.reader.get("chats", chat_id)
    if row is None:
        raise NotFound(f"no chat {chat_id}")
    return json_response(Chat.of_row(row), etag=row["version"])


@router.patch("/{chat_id}", response_model=Chat, summary="Change a chat")
async def patch_chat(
    state: State,
    principal: Operator,
    chat_id: ChatId,
    body: ChatPatch,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Chat:
    changes = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None or k == "listener_bot_id"}
    stored = await state.chats.update(
        chat_id, lambda s: revise(s, changes), if_match=if_match, actor=principal.actor
    )
    await settle(state, stored, wait, response)
    return Chat.of(stored.state.model_dump(), stored.version, stored.occurred_at)


@router.delete("/{chat_id}", response_model=Deleted, summary="Delete a chat (a tombstone)")
async def delete_chat(
    state: State,
    principal: Operator,
    chat_id: ChatId,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Deleted:
    stored = await state.chats.delete(chat_id, if_match=if_match, actor=principal.actor)
    await settle(state, stored, wait, response)
    return Deleted(id=chat_id, version=stored.version)
