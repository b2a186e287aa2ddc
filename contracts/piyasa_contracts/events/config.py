"""Config events: each carries its aggregate's full state (CONFIG stream).

A consumer can therefore load the last message per subject instead of
replaying history. A delete is the same event with `deleted=True`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import AwareDatetime, Field

from piyasa_contracts.envelope import Payload
from piyasa_contracts.events._common import (
    ActiveHours,
    EmotionProfile,
    Language,
    OpaqueId,
    Persona,
    Position,
    Value,
)
from piyasa_contracts.topology import StreamRole


class ConfigChanged(Payload):
    stream: ClassVar[StreamRole] = StreamRole.CONFIG
    aggregate: ClassVar[str]

    id: OpaqueId
    deleted: bool = False


class LlmChoice(Value):
    provider: str = Field(max_length=40)
    model: str | None = Field(None, max_length=120)


class BotChanged(ConfigChanged):
    """v2: `active_hours` became a structured window with a time zone (v1: "HH-HH")."""

    event_type: ClassVar[str] = "bot.changed"
    version: ClassVar[int] = 2
    aggregate: ClassVar[str] = "bot"

    name: str = Field(max_length=100)
    username: str | None = Field(None, max_length=64)
    token_ref: str | None = Field(
        None, max_length=64, description="key in the secrets bucket; never the token"
    )
    enabled: bool = True
    active_hours: ActiveHours = ActiveHours()
    language: Language = "tr"
    llm: LlmChoice | None = None
    hourly_limit: int = Field(6, ge=0, le=1000)
    persona: Persona = Persona()
    emotion: EmotionProfile = EmotionProfile()


class ChatChanged(ConfigChanged):
    event_type: ClassVar[str] = "chat.changed"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = "chat"

    telegram_chat_id: int
    title: str = Field(max_length=255)
    topics: list[str] = Field(default_factory=list, max_length=50)
    language: Language = "tr"
    target_per_hour: float = Field(12.0, ge=0.0, le=3600.0)
    typing: bool = True
    reply_probability: float = Field(0.6, ge=0.0, le=1.0)
    bot_ids: list[OpaqueId] = Field(default_factory=list, max_length=500)
    listener_bot_id: OpaqueId | None = None
    activity_curve: list[float] = Field(
        default_factory=lambda: [1.0] * 24,
        min_length=24,
        max_length=24,
        description="relative activity per hour of the chat's local day",
    )


class StanceChanged(ConfigChanged):
    event_type: ClassVar[str] = "stance.changed"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = "stance"

    bot_id: OpaqueId
    topic: str = Field(max_length=120)
    position: Position
    strength: float = Field(ge=0.0, le=1.0)
    rationale: str = Field("", max_length=1000)
    cooldown_until: AwareDatetime | None = None


class HoldingChanged(ConfigChanged):
    event_type: ClassVar[str] = "holding.changed"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = "holding"

    bot_id: OpaqueId
    symbol: str = Field(max_length=40)
    quantity: float
    average_cost: float | None = None
    opened_at: AwareDatetime | None = None
    note: str = Field("", max_length=1000)


class SettingsChanged(ConfigChanged):
    """The global behaviour knobs; `values` is validated by the config service."""

    event_type: ClassVar[str] = "settings.changed"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = "settings"

    values: dict[str, Any] = Field(default_factory=dict)


class ControlScope(StrEnum):
    FLEET = "fleet"
    CHAT = "chat"
    BOT = "bot"


class ControlState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class ControlChanged(ConfigChanged):
    event_type: ClassVar[str] = "control.changed"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = "control"

    scope: ControlScope
    target_id: OpaqueId | None = None
    state: ControlState


class TokenCheck(StrEnum):
    UNCHECKED = "unchecked"
    VERIFIED = "verified"
    INVALID = "invalid"


class BotStatusChanged(ConfigChanged):
    """What the dispatcher learnt about a bot's Telegram account (`id` is the bot's id).

    Written by the dispatcher (getMe, 401s, 403s), never by operators; the
    API shows it as the bot's state.
    """

    event_type: ClassVar[str] = "bot_status.changed"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = "botstatus"

    token_check: TokenCheck = TokenCheck.UNCHECKED
    telegram_user_id: int | None = None
    telegram_username: str | None = Field(None, max_length=64)
    can_read_all_group_messages: bool | None = Field(
        None, description="getMe: privacy mode off, so the bot hears every human"
    )
    disabled_everywhere: bool = Field(False, description="401: the token was revoked")
    disabled_in_chats: list[OpaqueId] = Field(
        default_factory=list, max_length=1000, description="chats that refused the bot (403)"
    )
    admin_in_chats: list[OpaqueId] = Field(
        default_factory=list, max_length=1000, description="chats where the bot is an admin"
    )
    checked_at: AwareDatetime | None = None
    detail: str = Field("", max_length=500, description="Telegram's description, if any")


class ChatStatusChanged(ConfigChanged):
    """What the dispatcher learnt about a chat (`id` is the chat's id)."""

    event_type: ClassVar[str] = "chat_status.changed"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = "chatstatus"

    can_hear_humans: bool | None = Field(
        None, description="a listener bot with privacy mode off, or an admin, is in the chat"
    )
    listener_bot_id: OpaqueId | None = None
    migrated_to_chat_id: int | None = Field(
        None, description="the supergroup id Telegram moved the group to"
    )
    checked_at: AwareDatetime | None = None
    detail: str = Field("", max_length=500)


class PersonErased(ConfigChanged):
    """A human's data was erased on request (`id` is the person's id).

    Their data key is deleted before this is written, so everything sealed
    with it is unreadable; readers drop what they hold of the person's text.
    It carries no personal data itself: the id is opaque.
    """

    event_type: ClassVar[str] = "person.erased"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = "person"

    erased_at: AwareDatetime
    reason: str = Field("", max_length=200, description="e.g. a ticket reference; no PII")


OPERATOR_EVENTS: tuple[type[ConfigChanged], ...] = (
    BotChanged,
    ChatChanged,
    StanceChanged,
    HoldingChanged,
    SettingsChanged,
    ControlChanged,
    PersonErased,
)
"""Config events the config service writes on operators' behalf."""

STATUS_EVENTS: tuple[type[ConfigChanged], ...] = (BotStatusChanged, ChatStatusChanged)
"""Config events the dispatcher writes about what Telegram told it."""

CONFIG_EVENTS: tuple[type[ConfigChanged], ...] = (*OPERATOR_EVENTS, *STATUS_EVENTS)

__all__ = [
    "CONFIG_EVENTS",
    "OPERATOR_EVENTS",
    "STATUS_EVENTS",
    "BotChanged",
    "BotStatusChanged",
    "ChatChanged",
    "ChatStatusChanged",
    "ConfigChanged",
    "ControlChanged",
    "ControlScope",
    "ControlState",
    "HoldingChanged",
    "LlmChoice",
    "PersonErased",
    "Position",
    "SettingsChanged",
    "StanceChanged",
    "TokenCheck",
]
