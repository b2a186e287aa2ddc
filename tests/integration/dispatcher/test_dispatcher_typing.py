"""Typing: from the scheduled send, repeated, for a time from the text's length; per chat;
budgeted. Read back from the sandbox's typing events."""

from __future__ import annotations

from itertools import pairwise

import pytest

from tests.integration.dispatcher.rig import Rig

pytestmark = pytest.mark.integration


async def typing_of(rig: Rig, telegram_chat_id: int, user_id: int) -> list[float]:
    events = await rig.tg.admin("GET", f"/chats/{telegram_chat_id}/typing")
    return [e["at"] for e in events if e["user_id"] == user_id and e["action"] == "typing"]


async def test_a_bot_types_for_a_while_repeating_the_action_then_posts(rig: Rig) -> None:
    bot = await rig.bot("typist")
    chat = await rig.chat([bot], typing=True)
    await rig.fleet_settings(typing_chars_per_second=50.0, typing_max_s=5.0)
    await rig.start(dispatcher_typing_repeat_s=0.2, dispatcher_typing_jitter=0.0)

    approved = await rig.approve(bot, chat, "z" * 50)  # ~1 s at 50 chars/s (0.8x-1.25x)

    await rig.wait_events("message.sent", 1)
    [message] = await rig.posted(chat)
    typing = await typing_of(rig, chat.telegram_chat_id, bot.telegram_id)
    approved_at = approved.occurred_at.timestamp()
    assert len(typing) >= 3, typing
    assert typing[0] >= approved_at - 0.05
    assert all(0.15 <= b - a <= 0.5 for a, b in pairwise(typing))
    assert typing[-1] < message["at"]
    assert 0.7 <= message["at"] - approved_at <= 2.5


async def test_typing_off_for_a_chat_posts_at_once_without_any_action(rig: Rig) -> None:
    bot = await rig.bot("quiet")
    chat = await rig.chat([bot], typing=False)
    await rig.fleet_settings(typing_chars_per_second=5.0, typing_max_s=10.0)
    await rig.start()

    approved = await rig.approve(bot, chat, "hemen " * 10)

    await rig.wait_events("message.sent", 1)
    [message] = await rig.posted(chat)
    assert await typing_of(rig, chat.telegram_chat_id, bot.telegram_id) == []
    assert message["at"] - approved.occurred_at.timestamp() < 1.0


async def test_typing_actions_stay_within_the_chats_budget(rig: Rig) -> None:
    bot = await rig.bot("frugal")
    chat = await rig.chat([bot], typing=True)
    await rig.fleet_settings(
        typing_chars_per_second=20.0, typing_max_s=2.0, typing_actions_per_minute=3
    )
    await rig.start(dispatcher_typing_repeat_s=0.1, dispatcher_typing_jitter=0.0)

    await rig.approve(bot, chat, "q" * 30)  # ~1.5 s of typing: ~15 actions wanted

    await rig.wait_events("message.sent", 1)
    assert len(await typing_of(rig, chat.telegram_chat_id, bot.telegram_id)) == 3
