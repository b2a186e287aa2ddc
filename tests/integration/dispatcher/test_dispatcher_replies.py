"""Replies, quotes, mentions and reactions, as the sandbox shows them."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike

from __future__ import annotations

import pytest

from piyasa_contracts.events.work import MentionEntity
from piyasa_dispatcher.compose import utf16_len
from tests.integration.dispatcher.rig import Rig, line_of
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_a_reply_with_an_exact_quote_keeps_it_and_a_wrong_quote_is_left_out(
    rig: Rig,
) -> None:
    bot = await rig.bot("replier")
    human = await rig.tg.human("Mert", "mert_trader")
    chat = await rig.chat([bot], humans=[human])
    said = await rig.tg.say(chat.telegram_chat_id, human, "altın bu hafta 2500 olur mu?")
    target = line_of(
        said["text"], ref="ev1", author="p_mert", message_id=said["message_id"], human=True
    )
    await rig.start()

    await rig.approve(bot, chat, "olmaz bence", reply_to=target, quote="2500 olur")
    await rig.wait_events("message.sent", 1)
    await rig.approve(bot, chat, "yine de bakalım", reply_to=target, quote="3000 olur")
    await rig.wait_events("message.sent", 2)

    first, second = await rig.posted(chat)
    assert first["reply_to_message_id"] == said["message_id"]
    assert first["quote"]["text"] == "2500 olur"
    assert second["reply_to_message_id"] == said["message_id"]
    assert second["quote"] is None  # not a substring: Telegram would answer QUOTE_TEXT_INVALID


async def test_a_reply_to_a_bot_message_still_in_flight_waits_for_its_message_id(
    rig: Rig,
) -> None:
    a, b = await rig.bot("first"), await rig.bot("second")
    chat = await rig.chat([a, b], typing=True)
    await rig.fleet_settings(typing_chars_per_second=40.0, typing_max_s=1.0)
    await rig.start()

    first = await rig.approve(a, chat, "faiz kararı bugün açıklanıyor" * 2)
    # Generated while the first was still typing: no Telegram id yet, only its turn.
    target = line_of("faiz...", ref=first.keys.turn_id or "", author=a.bot_id, message_id=None)
    await rig.approve(b, chat, "evet, beklenti sabit", reply_to=target, typing=False)

    await rig.wait_events("message.sent", 2)
    one, two = await rig.posted(chat)
    assert two["reply_to_message_id"] == one["message_id"]


async def test_a_person_without_a_username_is_mentioned_by_text_mention(rig: Rig) -> None:
    listener = await rig.bot("ear", privacy_mode=False)
    human = await rig.tg.human("Ayşe Nur")  # no username
    chat = await rig.chat([listener], listener=listener, humans=[human])
    await rig.start()
    await rig.tg.say(chat.telegram_chat_id, human, "selam, altın ne olur?")
    [incoming] = await rig.wait_events("message.received", 1)
    person = incoming.payload["person_id"]

    text = "Ayşe Nur, bence yükselir 📈"
    mention = MentionEntity(member_id=person, offset=0, length=utf16_len("Ayşe Nur"))
    await rig.approve(listener, chat, text, mentions=[mention])

    await rig.wait_events("message.sent", 1)
    [message] = await rig.posted(chat)
    [entity] = [e for e in message["entities"] if e["type"] == "text_mention"]
    assert (entity["offset"], entity["length"], entity["user"]["id"]) == (0, 8, human)


async def test_a_reaction_is_set_once_per_bot_and_message_and_recorded_by_the_dispatcher(
    rig: Rig,
) -> None:
    bot = await rig.bot("fan")
    human = await rig.tg.human("Can", "can_k")
    chat = await rig.chat([bot], humans=[human])
    said = await rig.tg.say(chat.telegram_chat_id, human, "rekor geldi!")
    target = line_of(
        said["text"], ref="ev2", author="p_can", message_id=said["message_id"], human=True
    )
    await rig.start()

    await rig.react(bot, chat, target, "🔥")
    [added] = await rig.wait_events("reaction.added", 1)
    second = await rig.react(bot, chat, target, "👍")

    async def dropped() -> bool:
        failed = await rig.events("dispatch.failed")
        return any(e.keys.turn_id == second.keys.turn_id for e in failed)

    await eventually(dropped, timeout=10)
    view = await rig.tg.admin("GET", f"/chats/{chat.telegram_chat_id}")
    message = next(m for m in view["messages"] if m["message_id"] == said["message_id"])
    assert message["reactions"] == [
        {"user_id": bot.telegram_id, "reaction": [{"type": "emoji", "emoji": "🔥"}]}
    ]
    assert added.payload == {
        "telegram_chat_id": chat.telegram_chat_id,
        "telegram_message_id": said["message_id"],
        "actor_id": bot.bot_id,
        "actor_is_bot": True,
        "emoji": "🔥",
    }
