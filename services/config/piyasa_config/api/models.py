"""Models several routes share: pages, deletions, history entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import available_timezones

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from piyasa_config.domain.rules import check_timezone
from piyasa_config.errors import Invalid
from piyasa_config.store.events import HistoryEntry
from piyasa_contracts.events._common import EmotionProfile, Persona
from piyasa_contracts.events.config import LlmChoice

T = TypeVar("T")

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
After = Annotated[
    str | None,
    Query(pattern=ID_PATTERN, description="Continue after this id (the previous page's `next`)"),
]


class PersonaIn(Persona):
    """A persona as the API takes it: unknown fields are refused, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EmotionProfileIn(EmotionProfile):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LlmChoiceIn(LlmChoice):
    model_config = ConfigDict(frozen=True, extra="forbid")


TIMEZONES: list[JsonValue] = [*sorted(available_timezones())]
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class ActiveHoursIn(BaseModel):
    """When a bot speaks: a daily window in an IANA time zone."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field("08:00", pattern=_HHMM)
    end: str = Field("23:30", pattern=_HHMM)
    timezone: str = Field("Europe/Istanbul", json_schema_extra={"enum": TIMEZONES})

    @field_validator("timezone")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            return check_timezone(value)
        except Invalid as exc:
            raise ValueError(exc.message) from None


def json_response(model: BaseModel, *, etag: int | None = None) -> Response:
    """A model already validated by its route, serialised once.

    FastAPI would validate a returned model again against `response_model`
    (a page of 50 bots twice); the routes' `response_model` still documents it.
    """
    headers = {"ETag": f'"{etag}"'} if etag is not None else None
    return Response(model.model_dump_json(), media_type="application/json", headers=headers)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(None, description="Pass as `after` for the next page; null at the end")


class Deleted(BaseModel):
    id: str
    deleted: bool = True
    version: int = Field(description="The tombstone's version")


class Change(BaseModel):
    """One event of an aggregate's history: who changed what, and the state after it."""

    version: int
    event_id: str
    type: str
    occurred_at: datetime
    actor: str | None
    deleted: bool
    state: dict[str, Any]

    @classmethod
    def of(cls, entry: HistoryEntry) -> Change:
        state = entry.payload.model_dump(mode="json", exclude={"token_ref"})
        if "token_ref" in type(entry.payload).model_fields:
            state["has_token"] = getattr(entry.payload, "token_ref", None) is not None
        return cls(
            version=entry.version,
            event_id=entry.event_id,
            type=entry.type,
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            deleted=entry.payload.deleted,
            state=state,
        )


class History(BaseModel):
    items: list[Change]
    next: int | None = Field(None, description="Pass as `after` for the next page")
