"""What an update means: humans' messages, edits, reactions, the bot's membership, a move."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piyasa_contracts import EventKeys, make_event
from piyasa_contracts.events.config import BotChanged, BotStatusChanged, ChatChanged
from piyasa_contracts.registry import Event
from piyasa_dispatcher.state import Fleet
from piyasa_dispatcher.telegram import Update
from piyasa_dispatcher.updates import (
    BotMembership,
    ChatMoved,
    HumanMessage,
    HumanReaction,
    dedup_keys,
    observe,
)

CHAT = -1001


def fleet() -> Fleet:
    f = Fleet()
    seq = iter(range(1, 100))
    for payload in (
        BotChanged(id="ear", name="Ear", username="ear_bot"),
        BotChanged(id="mouth", name="Mouth", username="mouth_bot"),
        BotStatusChanged(id="mouth", telegram_user_id=77, telegram_username="mouth_bot"),
        ChatChanged(
            id="c1",
            telegram_chat_id=CHAT,
            title="P",
            bot_ids=["ear", "mouth"],
            listener_bot_id="ear",
        ),
    ):
        env = make_event(payload, occurred_at=datetime.now(UTC), keys=EventKeys())
        f.apply(Event(env, payload), next(seq))
    return f


def message(**extra: Any) -> dict[str, Any]:
    return {
        "message_id": 9,
        "from": {"id": 5, "is_bot": False, "first_name": "Mert", "username": "mert"},
        "chat": {"id": CHAT, "type": "supergroup", "title": "P"},
        "date": 1_700_000_000,
        "text": "@mouth_bot ne dersin?",
        "entities": [{"type": "mention", "offset": 0, "length": 10}],
        **extra,
    }


def test_a_humans_message_names_the_bots_it_mentions() -> None:
    update = Update.model_validate({"update_id": 1, "message": message()})

    [seen] = observe(update, "ear", fleet())

    assert isinstance(seen, HumanMessage)
    assert (seen.chat_id, seen.kind, seen.mentioned_bot_ids) == ("c1", "message", ("mouth",))
    assert seen.sender.telegram_id == 5 and seen.sender.username == "mert"


def test_an_edit_is_not_its_original() -> None:
    f = fleet()
    original = Update.model_validate({"update_id": 1, "message": message()})
    edit = Update.model_validate(
        {"update_id": 2, "edited_message": message(edit_date=1_700_000_060, text="değişti")}
    )

    [a], [b] = observe(original, "ear", f), observe(edit, "ear", f)

    assert isinstance(a, HumanMessage) and isinstance(b, HumanMessage)
    assert a.identity != b.identity and b.kind == "edited_message"
    assert dedup_keys(original, "ear", [a]) == ["u.ear.1", f"m.{CHAT}.9.message.0"]


def test_unknown_chats_bots_and_textless_messages_mean_nothing() -> None:
    f = fleet()
    elsewhere = message(chat={"id": -5, "type": "group", "title": "x"})
    from_bot = message(**{"from": {"id": 8, "is_bot": True, "first_name": "B"}})
    sticker = {k: v for k, v in message().items() if k not in ("text", "entities")}

    for body in (elsewhere, from_bot, sticker):
        assert observe(Update.model_validate({"update_id": 3, "message": body}), "ear", f) == []
    assert observe(Update.model_validate({"update_id": 4, "poll": {"id": "x"}}), "ear", f) == []


def test_reactions_added_by_a_human_one_event_per_new_emoji() -> None:
    update = Update.model_validate(
        {
            "update_id": 5,
            "message_reaction": {
                "chat": {"id": CHAT, "type": "supergroup"},
                "message_id": 9,
                "user": {"id": 5, "is_bot": False, "first_name": "Mert"},
                "date": 1,
                "old_reaction": [{"type": "emoji", "emoji": "👍"}],
                "new_reaction": [
                    {"type": "emoji", "emoji": "👍"},
                    {"type": "emoji", "emoji": "🔥"},
                ],
            },
        }
    )

    [reaction] = observe(update, "ear", fleet())

    assert isinstance(reaction, HumanReaction) and reaction.emoji == "🔥"


def test_the_bots_own_membership_and_a_group_upgrade() -> None:
    kicked = Update.model_validate(
        {
            "update_id": 6,
            "my_chat_member": {
                "chat": {"id": CHAT, "type": "supergroup"},
                "from": {"id": 1, "is_bot": False, "first_name": "Admin"},
                "date": 1,
                "old_chat_member": {
                    "status": "member",
                    "user": {"id": 2, "is_bot": True, "first_name": "E"},
                },
                "new_chat_member": {
                    "status": "kicked",
                    "user": {"id": 2, "is_bot": True, "first_name": "E"},
                    "until_date": 0,
                },
            },
        }
    )
    upgraded = Update.model_validate(
        {"update_id": 7, "message": {**message(), "text": None, "migrate_to_chat_id": -1009}}
    )

    assert observe(kicked, "ear", fleet()) == [BotMembership("c1", "ear", "kicked")]
    assert observe(upgraded, "ear", fleet()) == [ChatMoved("c1", -1009)]
