"""/settings: the fleet's behaviour knobs, with documented defaults and ranges."""

from __future__ import annotations

from copy import copy
from datetime import datetime
from typing import Any, Optional

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from piyasa_config.api.deps import IfMatch, Operator, State, Viewer, Wait, settle
from piyasa_config.api.errors import ERRORS
from piyasa_config.errors import Invalid
from piyasa_config.store.writer import check_if_match
from piyasa_contracts.events.config import SettingsChanged
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings, FleetSettingsInput

router = APIRouter(prefix="/settings", tags=["settings"], responses=ERRORS)


class Settings(BaseModel):
    values: FleetSettings = Field(description="Every knob; unset ones at their default")
    version: int = Field(description="0 until the settings are first written")
    updated_at: datetime | None = None


def _all_optional(model: type[BaseModel], name: str) -> type[BaseModel]:
    """`model` with every field optional (default None), constraints kept, unknown refused."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        optional = copy(info)
        optional.default = None
        optional.default_factory = None
        fields[field_name] = (Optional[info.annotation], optional)  # noqa: UP045
    return create_model(name, __config__=ConfigDict(extra="forbid", frozen=True), **fields)


FleetSettingsChanges: Any = _all_optional(FleetSettings, "FleetSettingsChanges")


class SettingsPatch(BaseModel):
    """Some knobs; the others keep their current value."""

    model_config = ConfigDict(extra="forbid")

    values: FleetSettingsChanges


@router.get("", response_model=Settings, summary="The fleet's settings")
async def get_settings(state: State, _: Viewer, response: Response) -> Settings:
    row = await state.reader.get("settings", SETTINGS_ID)
    if row is None:
        return Settings(values=FleetSettings(), version=0)
    response.headers["ETag"] = f'"{row["version"]}"'
    return Settings(
        values=FleetSettings.model_validate(row["values"]),
        version=row["version"],
        updated_at=row["updated_at"],
    )


@router.put("", response_model=Settings, summary="Replace the settings (missing knobs: defaults)")
async def put_settings(
    state: State,
    principal: Operator,
    body: FleetSettingsInput,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Settings:
    return await _write(state, principal.actor, lambda _: body, if_match, wait, response)


@router.patch("", response_model=Settings, summary="Change some knobs")
async def patch_settings(
    state: State,
    principal: Operator,
    body: SettingsPatch,
    response: Response,
    if_match: IfMatch,
    wait: Wait = "stored",
) -> Settings:
    def merge(current: dict[str, Any]) -> FleetSettings:
        try:
            changes = body.values.model_dump(exclude_none=True)
            return FleetSettingsInput.model_validate({**current, **changes})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = "values." + ".".join(str(p) for p in first["loc"])
            raise Invalid(first["msg"], field=field) from exc

    return await _write(state, principal.actor, merge, if_match, wait, response)


async def _write(
    state: State,
    actor: str,
    make: Any,
    if_match: int | None,
    wait: Any,
    response: Response,
) -> Settings:
    current = await state.events.current(SettingsChanged, SETTINGS_ID)
    check_if_match(current, if_match, "settings")
    values = (
        FleetSettings.model_validate(current.state.values).model_dump(mode="json")
        if current.state is not None
        else FleetSettings().model_dump(mode="json")
    )
    new: FleetSettings = make(values)
    payload = SettingsChanged(id=SETTINGS_ID, values=new.model_dump(mode="json"))
    stored = await state.writer.save(payload, current.version, actor=actor)
    await settle(state, stored, wait, response)
    return Settings(
        values=FleetSettings.model_validate(payload.values),
        version=stored.version,
        updated_at=stored.occurred_at,
    )
