"""Who receives what: Telegram's delivery rules for group bots (TELEGRAM.md section 3).

- A bot never receives a message sent by a bot (itself included).
- Service messages reach every bot in the chat.
- Admin bots and bots with privacy mode off receive every human message.
- A privacy-mode bot receives a human message only when it is meant for it,
  and each message reaches at most one privacy-mode bot, in this priority:
  a reply to one of its messages; `/command@its_name`; a general `/command`
  when it was the last bot to post in the chat; a mention of its username
  (BotFather's wording; the official pages do not list mentions).
- `message_reaction` reaches only admin bots that named it in allowed_updates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from .records import BotRecord, ChatRecord, MessageRecord, UserRecord
from .text import commands, mentioned_usernames

__all__ = ["KNOWN_UPDATE_TYPES", "message_recipients", "reaction_recipients", "wants"]

KNOWN_UPDATE_TYPES: Final = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
        "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
OPT_IN_ONLY: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def normalize_allowed(allowed: Iterable[str] | None) -> list[str] | None:
    """The known names of `allowed`; None (Telegram's default) when none is known."""
    if allowed is None:
        return None
    known = [name for name in allowed if name in KNOWN_UPDATE_TYPES]
    return list(dict.fromkeys(known)) or None


def wants(bot: BotRecord, kind: str) -> bool:
    """Whether `bot`'s allowed_updates let an update of `kind` through."""
    if bot.allowed_updates is None:
        return kind not in OPT_IN_ONLY
    return kind in bot.allowed_updates


def message_recipients(
    chat: ChatRecord,
    message: MessageRecord,
    bots: Mapping[int, BotRecord],
    users: Mapping[int, UserRecord],
) -> list[int]:
    """Ids of the bots that get `message` (new or edited) as an update."""
    present = [bot_id for bot_id in bots if chat.is_present(bot_id)]
    if message.is_service:
        return present
    sender = users.get(message.from_id) if message.from_id is not None else None
    if sender is None or sender.is_bot:
        return []
    listeners = [b for b in present if not bots[b].privacy_mode or chat.is_admin(b)]
    private = [b for b in present if b not in listeners]
    chosen = _privacy_recipient(chat, message, private, users)
    return [*listeners, chosen] if chosen is not None else listeners


def _privacy_recipient(
    chat: ChatRecord,
    message: MessageRecord,
    candidates: list[int],
    users: Mapping[int, UserRecord],
) -> int | None:
    if not candidates:
        return None
    if message.reply_to is not None:
        target = chat.messages.get(message.reply_to)
        if target is not None and target.from_id in candidates:
            return target.from_id
    by_name = {
        (users[b].username or "").lower(): b for b in candidates if users[b].username is not None
    }
    text = message.text or ""
    found = commands(text, message.entities)
    for _, target_name in found:
        if target_name is not None and target_name in by_name:
            return by_name[target_name]
    if any(target is None for _, target in found) and chat.last_bot_id in candidates:
        return chat.last_bot_id
    for name in mentioned_usernames(text, message.entities):
        if name in by_name:
            return by_name[name]
    for entity in message.entities:
        if entity.type == "text_mention" and entity.user and entity.user.id in candidates:
            return entity.user.id
    return None


def reaction_recipients(chat: ChatRecord, bots: Mapping[int, BotRecord]) -> list[int]:
    """Ids of the bots that get a human's reaction change in `chat`."""
    return [
        bot_id
        for bot_id, bot in bots.items()
        if chat.is_admin(bot_id) and wants(bot, "message_reaction")
    ]
