"""Value objects shared by several events."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

OpaqueId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Language = Annotated[str, Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 code")]

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Position(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class ActiveHours(Value):
    """The daily window in which a bot speaks, in its own time zone."""

    start: str = "08:00"
    end: str = "23:30"
    timezone: str = "Europe/Istanbul"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError("expected HH:MM (24-hour)")
        return v


class Persona(Value):
    tone: str = Field("friendly", max_length=200)
    background: str = Field("", max_length=2000)
    expertise: list[str] = Field(default_factory=list, max_length=20)
    risk_appetite: float = Field(0.5, ge=0.0, le=1.0)
    verbosity: float = Field(0.5, ge=0.0, le=1.0)
    emoji_use: float = Field(0.2, ge=0.0, le=1.0)
    catchphrases: list[str] = Field(default_factory=list, max_length=20)
    writing_quirks: list[str] = Field(default_factory=list, max_length=20)


class EmotionProfile(Value):
    baseline_mood: float = Field(0.0, ge=-1.0, le=1.0, description="-1 gloomy .. +1 elated")
    volatility: float = Field(0.3, ge=0.0, le=1.0)
    triggers: list[str] = Field(default_factory=list, max_length=20)


class Emotion(Value):
    mood: float = Field(0.0, ge=-1.0, le=1.0)
    label: str = Field("calm", max_length=40)


class StanceView(Value):
    topic: str = Field(max_length=120)
    position: Position
    strength: float = Field(ge=0.0, le=1.0)
    rationale: str = Field("", max_length=1000)
    cooldown_until: AwareDatetime | None = None


class HoldingView(Value):
    symbol: str = Field(max_length=40)
    quantity: float
    average_cost: float | None = None


class ChatLine(Value):
    """One message of a chat's history, as the bots 'read' it from the log."""

    ref: str = Field(description="turn id for bot messages, event id for humans' messages")
    author_id: OpaqueId
    author_kind: str = Field(pattern=r"^(bot|human)$")
    author_name: str = Field(max_length=200)
    text: str = Field(max_length=4096)
    telegram_message_id: int | None = None
    sent_at: AwareDatetime


class Member(Value):
    """Someone a bot may mention: one of the chat's bots or a human seen in it."""

    member_id: OpaqueId
    display_name: str = Field(max_length=200)
    username: str | None = Field(None, max_length=64)
    telegram_user_id: int | None = None
    is_bot: bool = False


class SealedText(Value):
    """Text encrypted with a person's data key; erasing the key erases the text."""

    key_id: OpaqueId
    ciphertext: str = Field(max_length=20000)
