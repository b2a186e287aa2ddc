"""The Telegram Bot API as the dispatcher uses it: a typed client on httpx, its errors
and Telegram's objects."""

from piyasa_dispatcher.telegram._client import BotApi
from piyasa_dispatcher.telegram._errors import (
    TelegramApiError,
    TelegramError,
    TelegramNetworkError,
)
from piyasa_dispatcher.telegram._types import (
    ALLOWED_UPDATES,
    Chat,
    ChatMember,
    ChatMemberUpdated,
    Message,
    MessageEntity,
    MessageReactionUpdated,
    ReactionType,
    ReplyParameters,
    SentMessage,
    Update,
    UpdateHead,
    User,
)

__all__ = [
    "ALLOWED_UPDATES",
    "BotApi",
    "Chat",
    "ChatMember",
    "ChatMemberUpdated",
    "Message",
    "MessageEntity",
    "MessageReactionUpdated",
    "ReactionType",
    "ReplyParameters",
    "SentMessage",
    "TelegramApiError",
    "TelegramError",
    "TelegramNetworkError",
    "Update",
    "UpdateHead",
    "User",
]
