"""Telegram's objects as the sandbox sends them (TELEGRAM.md section 2).

Fields are declared in the order the reference server writes them, so
`dump()` (by alias, without the unset ones) reproduces Telegram's key order.
Only the fields a group bot fleet meets are modelled.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Chat",
    "ChatMember",
    "ChatMemberUpdated",
    "Me",
    "Message",
    "MessageEntity",
    "MessageReactionUpdated",
    "ReactionType",
    "TextQuote",
    "Update",
    "User",
    "WebhookInfo",
    "dump",
]


class TelegramObject(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


def dump(obj: TelegramObject) -> dict[str, Any]:
    """The JSON object Telegram would send: aliases (`from`), unset fields left out."""
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True)


class User(TelegramObject):
    id: int
    is_bot: bool
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: Literal[True] | None = None


class Me(User):
    """getMe's answer: a User with the bot-only capability fields."""

    can_join_groups: bool = True
    can_read_all_group_messages: bool = False
    supports_inline_queries: bool = False
    can_connect_to_business: bool = False
    has_main_web_app: bool = False


class Chat(TelegramObject):
    id: int
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    type: Literal["private", "group", "supergroup", "channel"]
    all_members_are_administrators: bool | None = None
    """Undocumented legacy field that basic groups still carry."""


class MessageEntity(TelegramObject):
    offset: int
    """In UTF-16 code units, like `length`."""
    length: int
    type: str
    url: str | None = None
    user: User | None = None
    language: str | None = None
    custom_emoji_id: str | None = None


class TextQuote(TelegramObject):
    text: str
    entities: list[MessageEntity] | None = None
    position: int
    is_manual: Literal[True] | None = None


class Message(TelegramObject):
    message_id: int
    from_: User | None = Field(None, alias="from")
    sender_chat: Chat | None = None
    chat: Chat
    date: int
    edit_date: int | None = None
    reply_to_message: Message | None = None
    quote: TextQuote | None = None
    text: str | None = None
    entities: list[MessageEntity] | None = None
    new_chat_participant: User | None = None
    new_chat_member: User | None = None
    new_chat_members: list[User] | None = None
    left_chat_participant: User | None = None
    left_chat_member: User | None = None
    group_chat_created: Literal[True] | None = None
    migrate_to_chat_id: int | None = None
    migrate_from_chat_id: int | None = None


class ReactionType(TelegramObject):
    type: Literal["emoji", "custom_emoji", "paid"]
    emoji: str | None = None
    custom_emoji_id: str | None = None


class MessageReactionUpdated(TelegramObject):
    chat: Chat
    message_id: int
    user: User | None = None
    actor_chat: Chat | None = None
    date: int
    old_reaction: list[ReactionType]
    new_reaction: list[ReactionType]


class ChatMember(TelegramObject):
    """One model for every status; the fields a status does not have stay unset."""

    user: User
    status: Literal["creator", "administrator", "member", "restricted", "left", "kicked"]
    until_date: int | None = None
    can_be_edited: bool | None = None
    is_anonymous: bool | None = None
    can_manage_chat: bool | None = None
    can_delete_messages: bool | None = None
    can_manage_video_chats: bool | None = None
    can_restrict_members: bool | None = None
    can_promote_members: bool | None = None
    can_change_info: bool | None = None
    can_invite_users: bool | None = None
    can_pin_messages: bool | None = None
    can_post_stories: bool | None = None
    can_edit_stories: bool | None = None
    can_delete_stories: bool | None = None
    is_member: bool | None = None
    can_send_messages: bool | None = None


class ChatMemberUpdated(TelegramObject):
    chat: Chat
    from_: User = Field(alias="from")
    date: int
    old_chat_member: ChatMember
    new_chat_member: ChatMember


class Update(TelegramObject):
    update_id: int
    message: Message | None = None
    edited_message: Message | None = None
    my_chat_member: ChatMemberUpdated | None = None
    chat_member: ChatMemberUpdated | None = None
    message_reaction: MessageReactionUpdated | None = None


class WebhookInfo(TelegramObject):
    url: str
    has_custom_certificate: bool = False
    pending_update_count: int
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    last_synchronization_error_date: int | None = None
    max_connections: int | None = None
    allowed_updates: list[str] | None = None
