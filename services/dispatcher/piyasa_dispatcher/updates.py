"""What an incoming Telegram update means for the fleet: a pure function of the update.

    observe(update, via_bot, fleet) -> [HumanMessage | HumanReaction | BotMembership | ChatMoved]

- A human's message or edit in a configured chat (bots never see other bots'
  messages; an anonymous admin speaks as the chat). An edit is its own
  observation: it carries its `edit_date`, so it is not its original.
- Reactions a human added (a removal is not an event).
- The receiving bot's own membership changing (kicked, left, promoted...).
- A basic group upgraded to a supergroup (its service message names the new id).

Everything else (unknown chats, stickers without a caption, update kinds
Telegram adds later) yields nothing and is acknowledged.

`dedup_keys` names an update twice: by (bot, update_id), which catches the
same delivery again, and by (chat, message id, kind, edit date), which
catches the same message reaching the fleet through another bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from piyasa_dispatcher.state import Fleet
from piyasa_dispatcher.telegram import Message, Update, User


@dataclass(frozen=True, slots=True)
class Sender:
    telegram_id: int
    name: str
    username: str | None


@dataclass(frozen=True, slots=True)
class HumanMessage:
    chat_id: str
    telegram_chat_id: int
    message_id: int
    kind: str
    """`message` or `edited_message`."""
    sender: Sender
    text: str
    reply_to_message_id: int | None
    mentioned_bot_ids: tuple[str, ...]
    date: datetime
    edit_date: datetime | None
    update_id: int

    @property
    def identity(self) -> str:
        edit = int(self.edit_date.timestamp()) if self.edit_date else 0
        return f"{self.telegram_chat_id}.{self.message_id}.{self.kind}.{edit}"


@dataclass(frozen=True, slots=True)
class HumanReaction:
    chat_id: str
    telegram_chat_id: int
    message_id: int
    sender: Sender
    emoji: str
    update_id: int


@dataclass(frozen=True, slots=True)
class BotMembership:
    chat_id: str
    bot_id: str
    status: str


@dataclass(frozen=True, slots=True)
class ChatMoved:
    chat_id: str
    telegram_chat_id: int
    """The supergroup's new id."""


Observation = HumanMessage | HumanReaction | BotMembership | ChatMoved


def observe(update: Update, via_bot: str, fleet: Fleet) -> list[Observation]:
    if update.message is not None:
        return _message(update.message, "message", update.update_id, fleet)
    if update.edited_message is not None:
        return _message(update.edited_message, "edited_message", update.update_id, fleet)
    if update.message_reaction is not None:
        r = update.message_reaction
        chat_id = fleet.chat_by_telegram_id(r.chat.id)
        sender = _sender(r.user) if r.user else None
        if r.actor_chat is not None and sender is None:
            sender = Sender(r.actor_chat.id, r.actor_chat.title or "", r.actor_chat.username)
        if chat_id is None or sender is None:
            return []
        old = {t.emoji for t in r.old_reaction if t.type == "emoji"}
        return [
            HumanReaction(chat_id, r.chat.id, r.message_id, sender, t.emoji, update.update_id)
            for t in r.new_reaction
            if t.type == "emoji" and t.emoji and t.emoji not in old and len(t.emoji) <= 16
        ]
    if update.my_chat_member is not None:
        m = update.my_chat_member
        chat_id = fleet.chat_by_telegram_id(m.chat.id)
        if chat_id is None:
            return []
        return [BotMembership(chat_id, via_bot, m.new_chat_member.status)]
    return []


def _message(message: Message, kind: str, update_id: int, fleet: Fleet) -> list[Observation]:
    chat_id = fleet.chat_by_telegram_id(message.chat.id)
    if chat_id is None:
        return []
    if message.migrate_to_chat_id is not None:
        return [ChatMoved(chat_id, message.migrate_to_chat_id)]
    text = message.text if message.text is not None else message.caption
    if not text:
        return []  # service messages, stickers, photos without a caption
    if message.sender_chat is not None:
        sender: Sender | None = Sender(
            message.sender_chat.id, message.sender_chat.title or "", message.sender_chat.username
        )
    else:
        sender = _sender(message.from_)
    if sender is None:
        return []
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    return [
        HumanMessage(
            chat_id=chat_id,
            telegram_chat_id=message.chat.id,
            message_id=message.message_id,
            kind=kind,
            sender=sender,
            text=text,
            reply_to_message_id=reply_to,
            mentioned_bot_ids=tuple(_mentioned(message, text, fleet)),
            date=datetime.fromtimestamp(message.date, UTC),
            edit_date=(
                datetime.fromtimestamp(message.edit_date, UTC) if message.edit_date else None
            ),
            update_id=update_id,
        )
    ]


def _sender(user: User | None) -> Sender | None:
    if user is None or user.is_bot:
        return None  # Telegram never shows one bot another's messages; skip the odd one
    return Sender(user.id, user.display_name, user.username)


def _mentioned(message: Message, text: str, fleet: Fleet) -> list[str]:
    found: list[str] = []
    units = text.encode("utf-16-le")
    for entity in message.entities or ():
        bot_id: str | None = None
        if entity.type == "mention":
            span = units[2 * entity.offset : 2 * (entity.offset + entity.length)]
            bot_id = fleet.bot_by_username(span.decode("utf-16-le", errors="replace"))
        elif entity.type == "text_mention" and entity.user is not None:
            bot_id = fleet.bot_by_telegram_id(entity.user.id)
        if bot_id is not None and bot_id not in found:
            found.append(bot_id)
    return found[:50]


def dedup_keys(update: Update, via_bot: str, observations: list[Observation]) -> list[str]:
    """KV keys that say this update (or the message it carries) was turned into events."""
    keys = [f"u.{via_bot}.{update.update_id}"]
    keys += [f"m.{o.identity}" for o in observations if isinstance(o, HumanMessage)]
    return keys
