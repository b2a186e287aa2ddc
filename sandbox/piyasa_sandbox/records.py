"""What the sandbox remembers: users, bots, chats and their messages.

Plain mutable records, persisted as one JSON document (`WorldSnapshot`).
What Telegram sends is rendered from them (`render.py`); pending updates are
kept already rendered, as Telegram fixes an update's content when it happens.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .models import MessageEntity, ReactionType, TextQuote

__all__ = [
    "BotRecord",
    "ChatRecord",
    "MemberRecord",
    "MemberStatus",
    "MessageRecord",
    "PendingUpdate",
    "TypingRecord",
    "UserRecord",
    "WebhookRecord",
    "WorldSnapshot",
]

ChatType = Literal["group", "supergroup"]
MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]
PRESENT: frozenset[str] = frozenset({"creator", "administrator", "member", "restricted"})
ADMIN: frozenset[str] = frozenset({"creator", "administrator"})


class UserRecord(BaseModel):
    """A Telegram account: a human or a bot (one id space, as in Telegram)."""

    id: int
    is_bot: bool
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


class WebhookRecord(BaseModel):
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class PendingUpdate(BaseModel):
    """An update waiting for its bot: `payload` is the Update object as JSON."""

    update_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int = 0


class BotRecord(BaseModel):
    user_id: int
    token: str
    privacy_mode: bool = True
    """On: only commands, replies to the bot and mentions reach it in groups."""
    can_join_groups: bool = True
    next_update_id: int
    allowed_updates: list[str] | None = None
    """None or empty: Telegram's default (everything but chat_member and reactions)."""
    webhook: WebhookRecord | None = None
    pending: list[PendingUpdate] = Field(default_factory=list)


class MemberRecord(BaseModel):
    user_id: int
    status: MemberStatus
    until_date: int | None = None


class MessageRecord(BaseModel):
    message_id: int
    from_id: int | None
    date: int
    at: float
    """Unix time with sub-second precision: what tests measure limits with."""
    text: str | None = None
    entities: list[MessageEntity] = Field(default_factory=list)
    reply_to: int | None = None
    quote: TextQuote | None = None
    edit_date: int | None = None
    reactions: dict[int, list[ReactionType]] = Field(default_factory=dict)
    """Each user's current reactions (a bot has at most one)."""
    new_chat_members: list[int] | None = None
    left_chat_member: int | None = None
    group_chat_created: bool = False
    migrate_to_chat_id: int | None = None
    migrate_from_chat_id: int | None = None

    @property
    def is_service(self) -> bool:
        return self.text is None


class TypingRecord(BaseModel):
    user_id: int
    action: str
    at: float


class ChatRecord(BaseModel):
    id: int
    type: ChatType
    title: str
    username: str | None = None
    members: dict[int, MemberRecord] = Field(default_factory=dict)
    messages: dict[int, MessageRecord] = Field(default_factory=dict)
    """Insertion-ordered by message id; the oldest are dropped past the cap."""
    next_message_id: int = 1
    typing: list[TypingRecord] = Field(default_factory=list)
    migrated_to: int | None = None
    migrated_from: int | None = None
    last_bot_id: int | None = None
    """The last bot that sent a message here: it alone hears general /commands."""

    def status_of(self, user_id: int) -> MemberStatus:
        member = self.members.get(user_id)
        return member.status if member else "left"

    def is_present(self, user_id: int) -> bool:
        return self.status_of(user_id) in PRESENT

    def is_admin(self, user_id: int) -> bool:
        return self.status_of(user_id) in ADMIN


class WorldSnapshot(BaseModel):
    """Everything, as saved to the state file."""

    version: Literal[1] = 1
    users: dict[int, UserRecord] = Field(default_factory=dict)
    bots: dict[int, BotRecord] = Field(default_factory=dict)
    chats: dict[int, ChatRecord] = Field(default_factory=dict)
    next_human_id: int = 100_000_001
    next_group_id: int = 4_000_000_001
