"""Telegram's objects, typed as the Bot API documents them (TELEGRAM.md section 2).

Frozen, and `extra="allow"`: a field Telegram adds later never breaks
parsing. Only the fields the dispatcher reads are declared.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TelegramObject(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)


class User(TelegramObject):
    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    # getMe only
    can_join_groups: bool | None = None
    can_read_all_group_messages: bool | None = None

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or (
            f"@{self.username}" if self.username else str(self.id)
        )


class Chat(TelegramObject):
    id: int
    type: str
    title: str | None = None
    username: str | None = None


class MessageEntity(TelegramObject):
    type: str
    offset: int
    length: int
    user: User | None = None
    url: str | None = None


class Message(TelegramObject):
    message_id: int
    from_: User | None = Field(None, alias="from")
    sender_chat: Chat | None = None
    chat: Chat
    date: int
    edit_date: int | None = None
    reply_to_message: Message | None = None
    text: str | None = None
    entities: list[MessageEntity] | None = None
    caption: str | None = None
    new_chat_members: list[User] | None = None
    left_chat_member: User | None = None
    migrate_to_chat_id: int | None = None
    migrate_from_chat_id: int | None = None
    via_bot: User | None = None


class MessageRef(TelegramObject):
    message_id: int


class SentMessage(TelegramObject):
    """sendMessage's answer, as far as the dispatcher reads it (parsing all of it is
    most of a send's CPU): its id and the message it really replied to."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    message_id: int
    reply_to_message: MessageRef | None = None


class ReactionType(TelegramObject):
    type: str
    emoji: str | None = None
    custom_emoji_id: str | None = None


class MessageReactionUpdated(TelegramObject):
    chat: Chat
    message_id: int
    user: User | None = None
    actor_chat: Chat | None = None
    date: int
    old_reaction: list[ReactionType] = Field(default_factory=list)
    new_reaction: list[ReactionType] = Field(default_factory=list)


class ChatMember(TelegramObject):
    status: str
    user: User


class ChatMemberUpdated(TelegramObject):
    chat: Chat
    from_: User = Field(alias="from")
    date: int
    old_chat_member: ChatMember
    new_chat_member: ChatMember


class Update(TelegramObject):
    """One update; at most one of the optional fields is set. Unknown kinds are kept."""

    update_id: int
    message: Message | None = None
    edited_message: Message | None = None
    message_reaction: MessageReactionUpdated | None = None
    my_chat_member: ChatMemberUpdated | None = None
    chat_member: ChatMemberUpdated | None = None


class UpdateHead(TelegramObject):
    """Just enough to know a body is an Update: an object with an integer `update_id`."""

    update_id: int = Field(strict=True)


class ReplyParameters(TelegramObject):
    message_id: int
    allow_sending_without_reply: bool = True
    quote: str | None = None


def dump(obj: TelegramObject) -> dict[str, Any]:
    """The object as the Bot API expects it in a request (by alias, no nulls)."""
    return obj.model_dump(by_alias=True, exclude_none=True)


ALLOWED_UPDATES: tuple[str, ...] = (
    "message",
    "edited_message",
    "message_reaction",
    "my_chat_member",
)
"""Always sent explicitly: omitted, Telegram keeps whatever was set before."""
