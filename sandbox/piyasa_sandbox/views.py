"""What the admin API and the page read back: plain JSON views of users, bots and chats.

Unlike the Bot API's objects these carry what only an observer sees: precise
send times (`at`), every reaction by user, typing events, member statuses.
"""

from __future__ import annotations

from typing import Any

from . import render
from .models import dump
from .records import BotRecord, ChatRecord, MessageRecord, UserRecord
from .text import entity_text
from .world import World

__all__ = ["bot_view", "chat_summary", "chat_view", "message_view", "user_view"]

_EXCERPT = 160


def user_view(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.id,
        "is_bot": user.is_bot,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "username": user.username,
        "name": user.display_name,
    }


def bot_view(world: World, bot: BotRecord) -> dict[str, Any]:
    user = world.user(bot.user_id)
    assert user is not None
    return {
        **user_view(user),
        "privacy_mode": bot.privacy_mode,
        "can_read_all_group_messages": not bot.privacy_mode,
        "allowed_updates": bot.allowed_updates,
        "webhook_url": bot.webhook.url if bot.webhook else None,
        "pending_updates": len(bot.pending),
        "polling": world.mailboxes[bot.user_id].polling,
        "next_update_id": bot.next_update_id,
    }


def _sender(world: World, user_id: int | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    user = world.user(user_id)
    if user is None:
        return {"id": user_id, "is_bot": False, "name": "Deleted Account", "username": None}
    return {
        "id": user.id,
        "is_bot": user.is_bot,
        "name": user.display_name,
        "username": user.username,
    }


def _service_text(world: World, record: MessageRecord) -> str | None:
    def name(user_id: int) -> str:
        user = world.user(user_id)
        return user.display_name if user else str(user_id)

    actor = name(record.from_id) if record.from_id is not None else "Someone"
    if record.new_chat_members:
        joined = ", ".join(name(uid) for uid in record.new_chat_members)
        return (
            f"{joined} joined the group"
            if record.new_chat_members == [record.from_id]
            else (f"{actor} added {joined}")
        )
    if record.left_chat_member is not None:
        if record.left_chat_member == record.from_id:
            return f"{name(record.left_chat_member)} left the group"
        return f"{actor} removed {name(record.left_chat_member)}"
    if record.migrate_to_chat_id is not None:
        return f"Group upgraded to a supergroup ({record.migrate_to_chat_id})"
    if record.migrate_from_chat_id is not None:
        return f"Upgraded from the group {record.migrate_from_chat_id}"
    if record.group_chat_created:
        return f"{actor} created the group"
    return None


def message_view(world: World, chat: ChatRecord, record: MessageRecord) -> dict[str, Any]:
    """One message with its reply target, quote, entities and reactions."""
    reply: dict[str, Any] | None = None
    if record.reply_to is not None:
        target = chat.messages.get(record.reply_to)
        reply = {
            "message_id": record.reply_to,
            "from": _sender(world, target.from_id) if target else None,
            "text": (target.text or "")[:_EXCERPT] if target else None,
        }
    entities = [dump(e) for e in record.entities]
    for entity, raw in zip(record.entities, entities, strict=True):
        raw["text"] = entity_text(record.text or "", entity.offset, entity.length)
    counts: dict[str, int] = {}
    for reactions in record.reactions.values():
        for reaction in reactions:
            key = reaction.emoji or reaction.custom_emoji_id or reaction.type
            counts[key] = counts.get(key, 0) + 1
    return {
        "message_id": record.message_id,
        "from": _sender(world, record.from_id),
        "date": record.date,
        "at": record.at,
        "edit_date": record.edit_date,
        "text": record.text,
        "service": _service_text(world, record) if record.is_service else None,
        "entities": entities,
        "reply_to_message_id": record.reply_to,
        "reply_to": reply,
        "quote": dump(record.quote) if record.quote else None,
        "reactions": [
            {"user_id": uid, "reaction": [dump(r) for r in reactions]}
            for uid, reactions in record.reactions.items()
        ],
        "reaction_counts": [{"reaction": k, "count": v} for k, v in counts.items()],
    }


def chat_summary(world: World, chat: ChatRecord) -> dict[str, Any]:
    last = next(reversed(chat.messages.values()), None) if chat.messages else None
    return {
        "id": chat.id,
        "type": chat.type,
        "title": chat.title,
        "username": chat.username,
        "members": sum(1 for uid in chat.members if chat.is_present(uid)),
        "messages": len(chat.messages),
        "migrated_to": chat.migrated_to,
        "migrated_from": chat.migrated_from,
        "last_message": message_view(world, chat, last) if last else None,
    }


def chat_view(
    world: World, chat: ChatRecord, *, after: int = 0, limit: int = 300
) -> dict[str, Any]:
    """The chat as a member sees it, plus what observers need (statuses, typing)."""
    members = []
    for user_id, member in chat.members.items():
        user = world.user(user_id)
        if user is None:
            continue
        entry = {**user_view(user), "status": member.status}
        bot = world.state.bots.get(user_id)
        if bot is not None:
            entry["privacy_mode"] = bot.privacy_mode
        members.append(entry)
    records = [m for m in chat.messages.values() if m.message_id > after]
    records = records[-limit:] if limit else []
    now = world.now()
    duration = world.settings.typing_duration_s
    typing = [
        {**_typing_who(world, t.user_id), "action": t.action, "at": t.at} for t in chat.typing
    ]
    latest: dict[int, float] = {}
    for t in chat.typing:
        latest[t.user_id] = t.at
    recent = list(chat.messages.values())[-50:]
    typing_now = [
        {**_typing_who(world, uid), "until": at + duration}
        for uid, at in latest.items()
        if at + duration > now and not any(m.from_id == uid and m.at >= at for m in recent)
    ]
    return {
        "chat": {
            **dump(render.chat(chat)),
            "migrated_to": chat.migrated_to,
            "migrated_from": chat.migrated_from,
        },
        "members": members,
        "messages": [message_view(world, chat, m) for m in records],
        "typing": typing,
        "typing_now": typing_now,
    }


def _typing_who(world: World, user_id: int) -> dict[str, Any]:
    user = world.user(user_id)
    return {"user_id": user_id, "name": user.display_name if user else str(user_id)}
