"""The chats' shared history (CONVERSATION stream).

Telegram never shows one bot another bot's message, so sent events plus the
humans' incoming messages are the history every bot 'reads'. Turn outcomes
live here too: the scheduler folds them to close its turn ledger.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from piyasa_contracts.envelope import Payload
from piyasa_contracts.events._common import OpaqueId, SealedText
from piyasa_contracts.topology import StreamRole


class ConversationPayload(Payload):
    stream: ClassVar[StreamRole] = StreamRole.CONVERSATION
    kind: ClassVar[str]


class Sent(ConversationPayload):
    event_type: ClassVar[str] = "message.sent"
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "sent"

    turn_id: OpaqueId
    bot_id: OpaqueId
    telegram_chat_id: int
    telegram_message_id: int
    text: str = Field(max_length=4096)
    reply_to_message_id: int | None = None
    sent_at: AwareDatetime


class FailureAction(StrEnum):
    DISABLE_IN_CHAT = "disable_in_chat"
    DISABLE_BOT = "disable_bot"
    MIGRATE_CHAT = "migrate_chat"
    RETRY = "retry"
    DROP = "drop"


class DispatchFailed(ConversationPayload):
    event_type: ClassVar[str] = "dispatch.failed"
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "failed"

    turn_id: OpaqueId
    bot_id: OpaqueId
    action: FailureAction
    error_code: int | None = None
    description: str = Field("", max_length=500)
    migrate_to_chat_id: int | None = None


class TurnStage(StrEnum):
    SCHEDULER = "scheduler"
    GENERATOR = "generator"
    GUARD = "guard"
    DISPATCHER = "dispatcher"


class TurnExpired(ConversationPayload):
    event_type: ClassVar[str] = "turn.expired"
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "turn"

    turn_id: OpaqueId
    stage: TurnStage
    reason: str = Field(max_length=200)


class TurnDropped(ConversationPayload):
    event_type: ClassVar[str] = "turn.dropped"
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "turn"

    turn_id: OpaqueId
    stage: TurnStage
    reason: str = Field(max_length=200)


class IncomingMessage(ConversationPayload):
    """A human's message; name and text are sealed with the person's data key."""

    event_type: ClassVar[str] = "message.received"
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "incoming"

    person_id: OpaqueId
    via_bot_id: OpaqueId
    telegram_chat_id: int
    telegram_message_id: int
    update_id: int
    sender_name: SealedText
    text: SealedText
    sender_telegram_id: SealedText | None = Field(
        None,
        description="the sender's Telegram user id, sealed like the text: it lets a bot "
        "mention a person who has no username (a text_mention entity)",
    )
    username: str | None = Field(None, max_length=64)
    reply_to_message_id: int | None = None
    mentioned_bot_ids: list[OpaqueId] = Field(default_factory=list, max_length=50)
    date: AwareDatetime
    edit_date: AwareDatetime | None = None


class ReactionAdded(ConversationPayload):
    event_type: ClassVar[str] = "reaction.added"
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "reaction"

    telegram_chat_id: int
    telegram_message_id: int
    actor_id: OpaqueId
    actor_is_bot: bool
    emoji: str = Field(max_length=16)


CONVERSATION_EVENTS: tuple[type[ConversationPayload], ...] = (
    Sent,
    DispatchFailed,
    TurnExpired,
    TurnDropped,
    IncomingMessage,
    ReactionAdded,
)
