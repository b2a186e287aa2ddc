"""The one envelope every event travels in."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from piyasa_contracts.ids import derive_event_id, new_event_id
from piyasa_contracts.topology import StreamRole

_KEY = r"^[A-Za-z0-9_-]{1,64}$"


class EventKeys(BaseModel):
    """The aggregates an event concerns; they route it and partition it.

    Keys become subject tokens, so they are opaque ids, never free text.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    bot_id: str | None = Field(None, pattern=_KEY)
    chat_id: str | None = Field(None, pattern=_KEY)
    turn_id: str | None = Field(None, pattern=_KEY)


class Envelope(BaseModel):
    """Metadata shared by every event; the payload is typed by `type` and `version`.

    Readers ignore unknown fields so that producers can add fields first.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    occurred_at: AwareDatetime
    correlation_id: str = Field(min_length=1, max_length=64)
    causation_id: str | None = None
    keys: EventKeys = EventKeys()
    epoch: int | None = None
    """Lease epoch of the producing replica, for partitioned producers."""
    actor: str | None = None
    """Who caused it: an operator id for API writes, a service name otherwise."""
    payload: dict[str, Any]


class Payload(BaseModel):
    """Base of every event payload: immutable data, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    version: ClassVar[int]
    stream: ClassVar[StreamRole]


def make_event(
    payload: Payload,
    *,
    occurred_at: datetime,
    keys: EventKeys | None = None,
    cause: Envelope | None = None,
    attempt: int = 0,
    actor: str | None = None,
    epoch: int | None = None,
    correlation_id: str | None = None,
) -> Envelope:
    """Wrap a payload in an envelope.

    With a `cause` the id is derived from (cause id, type, attempt) and the
    correlation id is inherited, so the event is reproducible on redelivery.
    Without one the event is born at an edge and gets a fresh id.
    """
    if cause is not None:
        event_id = derive_event_id(cause.id, payload.event_type, attempt)
        correlation = correlation_id or cause.correlation_id
        causation: str | None = cause.id
    else:
        event_id = new_event_id()
        correlation = correlation_id or event_id
        causation = None
    return Envelope(
        id=event_id,
        type=payload.event_type,
        version=payload.version,
        occurred_at=occurred_at,
        correlation_id=correlation,
        causation_id=causation,
        keys=keys or EventKeys(),
        epoch=epoch,
        actor=actor,
        payload=payload.model_dump(mode="json"),
    )
