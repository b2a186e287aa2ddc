"""Delivery rules as pure functions over records."""

from __future__ import annotations

from piyasa_sandbox.records import BotRecord, ChatRecord, MemberRecord, MessageRecord, UserRecord
from piyasa_sandbox.text import find_entities
from piyasa_sandbox.updates import message_recipients, normalize_allowed, reaction_recipients, wants

HUMAN = 1
PRIVATE, LISTENER, ADMIN = 10, 11, 12


def _world() -> tuple[ChatRecord, dict[int, BotRecord], dict[int, UserRecord]]:
    users = {
        HUMAN: UserRecord(id=HUMAN, is_bot=False, first_name="Ali"),
        PRIVATE: UserRecord(id=PRIVATE, is_bot=True, first_name="A", username="ayse_bot"),
        LISTENER: UserRecord(id=LISTENER, is_bot=True, first_name="D", username="dinle_bot"),
        ADMIN: UserRecord(id=ADMIN, is_bot=True, first_name="Y", username="yonet_bot"),
    }
    bots = {
        PRIVATE: BotRecord(user_id=PRIVATE, token="10:x", next_update_id=1),
        LISTENER: BotRecord(user_id=LISTENER, token="11:x", privacy_mode=False, next_update_id=1),
        ADMIN: BotRecord(user_id=ADMIN, token="12:x", next_update_id=1),
    }
    chat = ChatRecord(id=-100, type="supergroup", title="t")
    for uid, status in (
        (HUMAN, "member"),
        (PRIVATE, "member"),
        (LISTENER, "member"),
        (ADMIN, "administrator"),
    ):
        chat.members[uid] = MemberRecord(user_id=uid, status=status)  # type: ignore[arg-type]
    return chat, bots, users


def _message(sender: int, text: str, reply_to: int | None = None) -> MessageRecord:
    return MessageRecord(
        message_id=99, from_id=sender, date=0, at=0.0, text=text,
        entities=find_entities(text), reply_to=reply_to,
    )  # fmt: skip


def test_plain_human_message_reaches_listeners_and_admins_only() -> None:
    chat, bots, users = _world()
    assert message_recipients(chat, _message(HUMAN, "selam"), bots, users) == [LISTENER, ADMIN]


def test_mention_adds_the_privacy_bot() -> None:
    chat, bots, users = _world()
    got = message_recipients(chat, _message(HUMAN, "@AYSE_bot selam"), bots, users)
    assert got == [LISTENER, ADMIN, PRIVATE]


def test_bot_messages_reach_nobody_and_left_bots_hear_nothing() -> None:
    chat, bots, users = _world()
    assert message_recipients(chat, _message(LISTENER, "@ayse_bot"), bots, users) == []
    chat.members[LISTENER].status = "left"
    assert message_recipients(chat, _message(HUMAN, "selam"), bots, users) == [ADMIN]


def test_reactions_need_admin_and_explicit_opt_in() -> None:
    chat, bots, _ = _world()
    assert reaction_recipients(chat, bots) == []
    bots[ADMIN].allowed_updates = normalize_allowed(["message_reaction", "bogus"])
    bots[LISTENER].allowed_updates = normalize_allowed(["message_reaction"])
    assert reaction_recipients(chat, bots) == [ADMIN]


def test_allowed_updates_defaults() -> None:
    bot = BotRecord(user_id=1, token="1:x", next_update_id=1)
    assert wants(bot, "message") and wants(bot, "my_chat_member")
    assert not wants(bot, "message_reaction") and not wants(bot, "chat_member")
    assert normalize_allowed(["nope"]) is None and normalize_allowed([]) is None
