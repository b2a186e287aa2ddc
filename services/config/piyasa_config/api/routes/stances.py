"""/stances and /holdings: what each bot thinks of a topic, and what it holds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from piyasa_config.api.deps import IfMatch, Operator, State, Viewer, Wait, settle
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import ID_PATTERN, After, Deleted, Limit, Page, json_response
from piyasa_config.auth.roles import Role
from piyasa_config.domain.ids import holding_id, stance_id
from piyasa_config.domain.rules import check_flip, flip_cooldown
from piyasa_config.errors import Forbidden, NotFound
from piyasa_config.store.reads import Row
from piyasa_config.store.writer import revise
from piyasa_contracts.events._common import Position
from piyasa_contracts.events.config import HoldingChanged, SettingsChanged, StanceChanged
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings

router = APIRouter(tags=["stances and holdings"], responses=ERRORS)

AggregateId = Annotated[str, Path(pattern=ID_PATTERN)]
BotFilter = Annotated[str | None, Query(pattern=ID_PATTERN, description="Only this bot's")]


# stances ------------------------------------------------------------------------------


class StanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_id: str = Field(pattern=ID_PATTERN)
    topic: str = Field(min_length=1, max_length=120, description="Free text, e.g. BTC/USD")
    position: Position
    strength: float = Field(ge=0.0, le=1.0)
    rationale: str = Field("", max_length=1000)
    cooldown_until: AwareDatetime | None = Field(
        None, description="The position cannot flip before this instant (unless forced)"
    )


class StancePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Position | None = None
    strength: float | None = Field(None, ge=0.0, le=1.0)
    rationale: str | None = Field(None, max_length=1000)
    cooldown_until: AwareDatetime | None = None


class Stance(BaseModel):
    id: str
    bot_id: str
    topic: str
    position: Position
    strength: float
    rationale: str
    cooldown_until: datetime | None
    version: int
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: Any, version: int, at: datetime | None) -> Stance:
        fields = {k: row[k] for k in cls.model_fields if k not in ("version", "updated_at")}
        return cls(**fields, version=version, updated_at=at)


@router.get("/stances", response_model=Page[Stance], summary="List stances")
async def list_stances(
    state: State,
    _: Viewer,
    limit: Limit = 50,
    after: After = None,
    bot_id: BotFilter = None,
    position: Position | None = None,
) -> Response:
    filters = {"bot_id": bot_id, "position": position.value if position else None}
    page = await state.reader.page("stances", after=after, limit=limit, filters=filters)
    items = [Stance.of(r, r["version"], r["updated_at"]) for r in page.rows]
    return json_response(Page[Stance](items=items, next=page.next))


@router.post(
    "/stances",
    response_model=Stance,
    status_code=201,
    summary="Create a bot's stance on a topic (one per bot and topic)",
)
async def create_stance(
    state: State, principal: Operator, body: StanceCreate, response: Response, wait: Wait = "stored"
) -> Stance:
    await state.bots.require_live([body.bot_id], "bot_id")
    stance = StanceChanged(id=stance_id(body.bot_id, body.topic), **body.model_dump())
    stored = await state.writer.create(stance, actor=principal.actor)
    response.headers["Location"] = f"/stances/{stance.id}"
    await settle(state, stored, wait, response)
    return Stance.of(stored.state.model_dump(), stored.version, stored.occurred_at)


@router.get("/stances/{stance_id}", response_model=Stance, summary="Get a stance")
async def get_stance(state: State, _: Viewer, stance_id: AggregateId, response: Response) -> Stance:
    row = await _row(state, "stances", stance_id)
    response.headers["ETag"] = f'"{row["version"]}"'
    return Stance.of(row, row["version"], row["updated_at"])


@router.patch(
    "/stances/{stance_id}",
    response_model=Stance,
    summary="Change a stance; flipping its position before cooldown_until is refused (409)",
    description="A flip that names no cooldown_until gets the fleet's stance_cooldown_h.",
)
async def patch_stance(
    state: State,
    principal: Operator,
    stance_id: AggregateId,
    body: StancePatch,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
    force: Annotated[bool, Query(description="Admins only: flip even inside the cooldown")] = False,
) -> Stance:
    if force and not principal.role.allows(Role.ADMIN):
        raise Forbidden("only an admin may force a stance flip", field="force")
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items()}
    changes = {k: v for k, v in changes.items() if v is not None or k == "cooldown_until"}
    now = state.clock.now()
    cooldown_h = None
    if body.position is not None and "cooldown_until" not in body.model_fields_set:
        cooldown_h = await _stance_cooldown_h(state)

    def change(current: StanceChanged) -> StanceChanged:
        new = revise(current, changes)
        check_flip(current, new.position, now=now, force=force)
        if cooldown_h is not None:
            new = flip_cooldown(current, new, now=now, cooldown_h=cooldown_h)
        return new

    stored = await state.writer.update(
        StanceChanged, stance_id, change, if_match=if_match, actor=principal.actor
    )
    await settle(state, stored, wait, response)
    return Stance.of(stored.state.model_dump(), stored.version, stored.occurred_at)


@router.delete("/stances/{stance_id}", response_model=Deleted, summary="Delete a stance")
async def delete_stance(
    state: State,
    principal: Operator,
    stance_id: AggregateId,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Deleted:
    stored = await state.writer.delete(
        StanceChanged, stance_id, if_match=if_match, actor=principal.actor
    )
    await settle(state, stored, wait, response)
    return Deleted(id=stance_id, version=stored.version)


# holdings -----------------------------------------------------------------------------


class HoldingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_id: str = Field(pattern=ID_PATTERN)
    symbol: str = Field(min_length=1, max_length=40, description="e.g. THYAO, BTC, XAU-GRAM")
    quantity: float = Field(ge=-1e15, le=1e15, allow_inf_nan=False)
    average_cost: float | None = Field(None, ge=0, le=1e15, allow_inf_nan=False)
    opened_at: AwareDatetime | None = None
    note: str = Field("", max_length=1000)


class HoldingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: float | None = Field(None, ge=-1e15, le=1e15, allow_inf_nan=False)
    average_cost: float | None = Field(None, ge=0, le=1e15, allow_inf_nan=False)
    opened_at: AwareDatetime | None = None
    note: str | None = Field(None, max_length=1000)


class Holding(BaseModel):
    id: str
    bot_id: str
    symbol: str
    quantity: float
    average_cost: float | None
    opened_at: datetime | None
    note: str
    version: int
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: Any, version: int, at: datetime | None) -> Holding:
        fields = {k: row[k] for k in cls.model_fields if k not in ("version", "updated_at")}
        return cls(**fields, version=version, updated_at=at)


@router.get("/holdings", response_model=Page[Holding], summary="List holdings")
async def list_holdings(
    state: State, _: Viewer, limit: Limit = 50, after: After = None, bot_id: BotFilter = None
) -> Response:
    page = await state.reader.page("holdings", after=after, limit=limit, filters={"bot_id": bot_id})
    items = [Holding.of(r, r["version"], r["updated_at"]) for r in page.rows]
    return json_response(Page[Holding](items=items, next=page.next))


@router.post(
    "/holdings",
    response_model=Holding,
    status_code=201,
    summary="Create a bot's holding of a symbol (one per bot and symbol)",
)
async def create_holding(
    state: State,
    principal: Operator,
    body: HoldingCreate,
    response: Response,
    wait: Wait = "stored",
) -> Holding:
    await state.bots.require_live([body.bot_id], "bot_id")
    holding = HoldingChanged(id=holding_id(body.bot_id, body.symbol), **body.model_dump())
    stored = await state.writer.create(holding, actor=principal.actor)
    response.headers["Location"] = f"/holdings/{holding.id}"
    await settle(state, stored, wait, response)
    return Holding.of(stored.state.model_dump(), stored.version, stored.occurred_at)


@router.get("/holdings/{holding_id}", response_model=Holding, summary="Get a holding")
async def get_holding(
    state: State, _: Viewer, holding_id: AggregateId, response: Response
) -> Holding:
    row = await _row(state, "holdings", holding_id)
    response.headers["ETag"] = f'"{row["version"]}"'
    return Holding.of(row, row["version"], row["updated_at"])


@router.patch("/holdings/{holding_id}", response_model=Holding, summary="Change a holding")
async def patch_holding(
    state: State,
    principal: Operator,
    holding_id: AggregateId,
    body: HoldingPatch,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Holding:
    changes = body.model_dump(exclude_unset=True)
    nullable = {"average_cost", "opened_at"}
    changes = {k: v for k, v in changes.items() if v is not None or k in nullable}
    stored = await state.writer.update(
        HoldingChanged,
        holding_id,
        lambda s: revise(s, changes),
        if_match=if_match,
        actor=principal.actor,
    )
    await settle(state, stored, wait, response)
    return Holding.of(stored.state.model_dump(), stored.version, stored.occurred_at)


@router.delete("/holdings/{holding_id}", response_model=Deleted, summary="Delete a holding")
async def delete_holding(
    state: State,
    principal: Operator,
    holding_id: AggregateId,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Deleted:
    stored = await state.writer.delete(
        HoldingChanged, holding_id, if_match=if_match, actor=principal.actor
    )
    await settle(state, stored, wait, response)
    return Deleted(id=holding_id, version=stored.version)


async def _stance_cooldown_h(state: State) -> float:
    """The fleet's `stance_cooldown_h`, as the settings stand in the log now."""
    settings = await state.events.current(SettingsChanged, SETTINGS_ID)
    values = settings.state.values if settings.state is not None and settings.live else {}
    return FleetSettings.model_validate(values).stance_cooldown_h


async def _row(state: State, table: str, aggregate_id: str) -> Row:
    row = await state.reader.get(table, aggregate_id)
    if row is None:
        raise NotFound(f"no {table[:-1]} {aggregate_id}")
    return row
