"""Events the backbone itself emits."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from piyasa_contracts.envelope import Payload
from piyasa_contracts.topology import StreamRole


class DeadLettered(Payload):
    """A message parked by a consumer, with why; the original bytes ride along."""

    event_type: ClassVar[str] = "deadletter.parked"
    version: ClassVar[int] = 1
    stream: ClassVar[StreamRole] = StreamRole.DEADLETTER

    consumer: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")
    stream_name: str = Field(max_length=100)
    stream_sequence: int = Field(ge=0)
    subject: str = Field(max_length=500)
    original_id: str | None = None
    original_type: str | None = None
    reason: str = Field(max_length=40, description="malformed | unknown_type | failed")
    error: str = Field(max_length=2000)
    deliveries: int = Field(ge=0)
    headers: dict[str, str] = Field(default_factory=dict)
    data_b64: str = Field(description="the original message body, base64")
