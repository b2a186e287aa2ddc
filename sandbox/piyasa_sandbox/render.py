"""Records -> the Telegram objects a bot sees (`models.py`)."""

from __future__ import annotations

from collections.abc import Mapping

from . import models
from .records import BotRecord, ChatRecord, MemberRecord, MessageRecord, UserRecord
from .text import with_users

__all__ = ["chat", "me", "member", "message", "user"]

_ADMIN_RIGHTS: dict[str, bool] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_pin_messages": True,
    "can_post_stories": True,
    "can_edit_stories": True,
    "can_delete_stories": True,
}


def user(record: UserRecord) -> models.User:
    return models.User(
        id=record.id,
        is_bot=record.is_bot,
        first_name=record.first_name,
        last_name=record.last_name,
        username=record.username,
        language_code=record.language_code,
    )


def me(bot: BotRecord, record: UserRecord) -> models.Me:
    return models.Me(
        id=record.id,
        is_bot=True,
        first_name=record.first_name,
        last_name=record.last_name,
        username=record.username,
        can_join_groups=bot.can_join_groups,
        can_read_all_group_messages=not bot.privacy_mode,
    )


def chat(record: ChatRecord) -> models.Chat:
    return models.Chat(
        id=record.id,
        title=record.title,
        username=record.username,
        type=record.type,
        all_members_are_administrators=True if record.type == "group" else None,
    )


def _user_or_placeholder(users: Mapping[int, UserRecord], user_id: int) -> models.User:
    record = users.get(user_id)
    if record is None:
        return models.User(id=user_id, is_bot=False, first_name="Deleted Account")
    return user(record)


def message(
    chat_record: ChatRecord,
    record: MessageRecord,
    users: Mapping[int, UserRecord],
    *,
    with_reply: bool = True,
) -> models.Message:
    """`record` as a Message; its reply target is inlined one level deep, as Telegram does."""
    reply: models.Message | None = None
    if with_reply and record.reply_to is not None:
        target = chat_record.messages.get(record.reply_to)
        if target is not None:
            reply = message(chat_record, target, users, with_reply=False)

    def lookup(user_id: int) -> models.User | None:
        found = users.get(user_id)
        return user(found) if found else None

    joined = (
        [_user_or_placeholder(users, uid) for uid in record.new_chat_members]
        if record.new_chat_members
        else None
    )
    left = (
        _user_or_placeholder(users, record.left_chat_member)
        if record.left_chat_member is not None
        else None
    )
    return models.Message(
        message_id=record.message_id,
        from_=_user_or_placeholder(users, record.from_id) if record.from_id is not None else None,
        chat=chat(chat_record),
        date=record.date,
        edit_date=record.edit_date,
        reply_to_message=reply,
        quote=record.quote if reply is not None else None,
        text=record.text,
        entities=with_users(record.entities, lookup) or None,
        new_chat_participant=joined[0] if joined else None,
        new_chat_member=joined[0] if joined else None,
        new_chat_members=joined,
        left_chat_participant=left,
        left_chat_member=left,
        group_chat_created=True if record.group_chat_created else None,
        migrate_to_chat_id=record.migrate_to_chat_id,
        migrate_from_chat_id=record.migrate_from_chat_id,
    )


def member(
    chat_record: ChatRecord, user_record: UserRecord, record: MemberRecord | None
) -> models.ChatMember:
    """The ChatMember object for `user_record` in `chat_record` (`left` when absent)."""
    status = record.status if record else "left"
    who = user(user_record)
    if status == "administrator":
        return models.ChatMember(user=who, status=status, **_ADMIN_RIGHTS)
    if status == "creator":
        return models.ChatMember(user=who, status=status, is_anonymous=False)
    if status == "kicked":
        until = record.until_date if record and record.until_date else 0
        return models.ChatMember(user=who, status=status, until_date=until)
    if status == "restricted":
        return models.ChatMember(
            user=who, status=status, is_member=True, can_send_messages=False, until_date=0
        )
    return models.ChatMember(user=who, status=status)
