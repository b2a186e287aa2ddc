"""/bots: the fleet's Telegram accounts, their persona and emotion profile, history, state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from piyasa_config.api.deps import IfMatch, Operator, State, Viewer, Wait, settle
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import (
    ID_PATTERN,
    ActiveHoursIn,
    After,
    Change,
    Deleted,
    EmotionProfileIn,
    History,
    Limit,
    LlmChoiceIn,
    Page,
    PersonaIn,
    json_response,
)
from piyasa_config.errors import NotFound
from piyasa_config.secrets import TOKEN_PATTERN
from piyasa_config.store.reads import Row
from piyasa_config.store.writer import revise
from piyasa_contracts import new_opaque_id
from piyasa_contracts.events._common import ActiveHours, EmotionProfile, Persona
from piyasa_contracts.events.config import BotChanged, LlmChoice

router = APIRouter(prefix="/bots", tags=["bots"], responses=ERRORS)

BotId = Annotated[str, Path(pattern=ID_PATTERN)]
_USERNAME = r"^[A-Za-z0-9_]{4,64}$"
_LANGUAGE = r"^[a-z]{2}$"

Token = Annotated[
    str | None,
    Field(
        None,
        pattern=TOKEN_PATTERN,
        description="The bot's Telegram token. Write-only: never returned, logged or traced; "
        "stored encrypted, and unique across bots.",
        json_schema_extra={"writeOnly": True},
    ),
]


class BotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, pattern=ID_PATTERN, description="Chosen by the server if absent")
    name: str = Field(min_length=1, max_length=100)
    token: Token = None
    username: str | None = Field(None, pattern=_USERNAME)
    enabled: bool = True
    active_hours: ActiveHoursIn = ActiveHoursIn()
    language: str = Field("tr", pattern=_LANGUAGE)
    llm: LlmChoiceIn | None = Field(None, description="Provider/model override for this bot")
    hourly_limit: int = Field(6, ge=0, le=1000, description="Messages per hour, at most")
    persona: PersonaIn = PersonaIn()
    emotion: EmotionProfileIn = EmotionProfileIn()


class BotPatch(BaseModel):
    """Only the fields sent change; `token` replaces the bot's token."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    token: Token = None
    username: str | None = Field(None, pattern=_USERNAME)
    enabled: bool | None = None
    active_hours: ActiveHoursIn | None = None
    language: str | None = Field(None, pattern=_LANGUAGE)
    llm: LlmChoiceIn | None = None
    hourly_limit: int | None = Field(None, ge=0, le=1000)
    persona: PersonaIn | None = None
    emotion: EmotionProfileIn | None = None


class Bot(BaseModel):
    id: str
    name: str
    username: str | None
    has_token: bool = Field(
        description="Whether a token is stored (the token itself never is shown)"
    )
    enabled: bool
    active_hours: ActiveHours
    language: str
    llm: LlmChoice | None
    hourly_limit: int
    persona: Persona
    emotion: EmotionProfile
    version: int = Field(description="The ETag: the CONFIG stream sequence of its last change")
    updated_at: datetime | None = None

    @classmethod
    def of_row(cls, row: Row) -> Bot:
        return cls(**_common(row), version=row["version"], updated_at=row["updated_at"])

    @classmethod
    def of_state(cls, state: BotChanged, version: int, at: datetime) -> Bot:
        row = state.model_dump()
        return cls(**_common(row), version=version, updated_at=at)


def _common(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "username": row["username"],
        "has_token": row["token_ref"] is not None,
        "enabled": row["enabled"],
        "active_hours": row["active_hours"],
        "language": row["language"],
        "llm": row["llm"],
        "hourly_limit": row["hourly_limit"],
        "persona": row["persona"],
        "emotion": row["emotion"],
    }


def _changes(body: BaseModel) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True, exclude={"token"})
    nullable = {"username", "llm"}
    return {k: v for k, v in changes.items() if v is not None or k in nullable}


@router.get("", response_model=Page[Bot], summary="List bots")
async def list_bots(
    state: State,
    _: Viewer,
    limit: Limit = 50,
    after: After = None,
    enabled: Annotated[bool | None, Query(description="Only enabled (or disabled) bots")] = None,
    language: Annotated[str | None, Query(pattern=_LANGUAGE)] = None,
) -> Response:
    filters = {"enabled": enabled, "language": language}
    page = await state.reader.page("bots", after=after, limit=limit, filters=filters)
    return json_response(Page[Bot](items=[Bot.of_row(r) for r in page.rows], next=page.next))


@router.post("", response_model=Bot, status_code=201, summary="Create a bot")
async def create_bot(
    state: State, principal: Operator, body: BotCreate, response: Response, wait: Wait = "stored"
) -> Bot:
    fields = body.model_dump(exclude={"token", "id"})
    bot = BotChanged(id=body.id or new_opaque_id(), **fields)
    stored = await state.bots.create(bot, body.token, actor=principal.actor)
    response.headers["Location"] = f"/bots/{bot.id}"
    await settle(state, stored, wait, response)
    return Bot.of_state(stored.state, stored.version, stored.occurred_at)


@router.get("/{bot_id}", response_model=Bot, summary="Get a bot")
async def get_bot(state: State, _: Viewer, bot_id: BotId) -> Response:
    bot = await _bot(state, bot_id)
    return json_response(bot, etag=bot.version)


async def _bot(state: State, bot_id: str) -> Bot:
    row = await state.reader.get("bots", bot_id)
    if row is None:
        raise NotFound(f"no bot {bot_id}")
    return Bot.of_row(row)


@router.patch("/{bot_id}", response_model=Bot, summary="Change a bot")
async def patch_bot(
    state: State,
    principal: Operator,
    bot_id: BotId,
    body: BotPatch,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Bot:
    changes = _changes(body)
    stored = await state.bots.update(
        bot_id,
        lambda s: revise(s, changes),
        token=body.token,
        if_match=if_match,
        actor=principal.actor,
    )
    await settle(state, stored, wait, response)
    return Bot.of_state(stored.state, stored.version, stored.occurred_at)


@router.delete("/{bot_id}", response_model=Deleted, summary="Delete a bot (a tombstone)")
async def delete_bot(
    state: State,
    principal: Operator,
    bot_id: BotId,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Deleted:
    stored = await state.bots.delete(bot_id, if_match=if_match, actor=principal.actor)
    await settle(state, stored, wait, response)
    return Deleted(id=bot_id, version=stored.version)


# persona and emotion: structured sub-resources ----------------------------------------


@router.get("/{bot_id}/persona", response_model=Persona, summary="A bot's persona")
async def get_persona(state: State, _: Viewer, bot_id: BotId, response: Response) -> Persona:
    bot = await _bot(state, bot_id)
    response.headers["ETag"] = f'"{bot.version}"'
    return bot.persona


@router.put("/{bot_id}/persona", response_model=Persona, summary="Replace a bot's persona")
async def put_persona(
    state: State,
    principal: Operator,
    bot_id: BotId,
    body: PersonaIn,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Persona:
    stored = await state.bots.update(
        bot_id,
        lambda s: revise(s, {"persona": body.model_dump()}),
        token=None,
        if_match=if_match,
        actor=principal.actor,
    )
    await settle(state, stored, wait, response)
    return stored.state.persona


@router.get("/{bot_id}/emotion", response_model=EmotionProfile, summary="A bot's emotion profile")
async def get_emotion(state: State, _: Viewer, bot_id: BotId, response: Response) -> EmotionProfile:
    bot = await _bot(state, bot_id)
    response.headers["ETag"] = f'"{bot.version}"'
    return bot.emotion


@router.put(
    "/{bot_id}/emotion", response_model=EmotionProfile, summary="Replace a bot's emotion profile"
)
async def put_emotion(
    state: State,
    principal: Operator,
    bot_id: BotId,
    body: EmotionProfileIn,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> EmotionProfile:
    stored = await state.bots.update(
        bot_id,
        lambda s: revise(s, {"emotion": body.model_dump()}),
        token=None,
        if_match=if_match,
        actor=principal.actor,
    )
    await settle(state, stored, wait, response)
    return stored.state.emotion


# history ------------------------------------------------------------------------------


@router.get("/{bot_id}/history", response_model=History, summary="Every change of a bot")
async def bot_history(
    state: State,
    _: Viewer,
    bot_id: BotId,
    after: Annotated[int, Query(ge=0, le=2**53, description="After this version")] = 0,
    limit: Limit = 50,
) -> History:
    entries = await state.events.history(BotChanged, bot_id, after=after, limit=limit + 1)
    if not entries and after == 0:
        raise NotFound(f"no bot {bot_id}")
    more = len(entries) > limit
    entries = entries[:limit]
    return History(
        items=[Change.of(e) for e in entries], next=entries[-1].version if more else None
    )


__all__ = ["router"]
