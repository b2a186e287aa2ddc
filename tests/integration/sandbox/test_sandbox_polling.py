"""getUpdates: long polling, offsets, one poller per token, allowed_updates."""

# ruff: noqa: RUF001 - Turkish letters (dotless i and friends) are what these tests are about

from __future__ import annotations

import asyncio
import time

from tests.integration.sandbox.sandbox_client import SandboxClient
from tests.support.waiting import eventually


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: SandboxClient) -> None:
    bot = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[bot.id, ali])

    started = time.monotonic()
    poll = asyncio.create_task(tg.updates(bot, timeout=30))
    await eventually(lambda: _poll_is_parked(tg, bot.id), message="poll parked")
    await tg.say(chat, ali, "Altın rekor kırdı!")
    updates = await asyncio.wait_for(poll, 10)
    assert time.monotonic() - started < 10
    assert [u["message"]["text"] for u in updates] == ["Altın rekor kırdı!"]


async def test_empty_poll_waits_for_its_timeout(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    started = time.monotonic()
    assert await tg.updates(bot, timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 5


async def test_offset_confirms_and_update_ids_increase(tg: SandboxClient) -> None:
    bot = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[bot.id, ali])
    for text in ("bir", "iki", "üç"):
        await tg.say(chat, ali, text)
    first = await tg.updates(bot, limit=2)
    ids = [u["update_id"] for u in first]
    assert ids == [ids[0], ids[0] + 1]
    again = await tg.updates(bot)  # nothing confirmed yet
    assert [u["update_id"] for u in again] == [ids[0], ids[0] + 1, ids[0] + 2]
    rest = await tg.updates(bot, offset=ids[1] + 1)
    assert [u["message"]["text"] for u in rest] == ["üç"]
    assert await tg.updates(bot, offset=rest[0]["update_id"] + 1) == []
    await tg.say(chat, ali, "dört")
    (latest,) = await tg.updates(bot)
    assert latest["update_id"] == ids[0] + 3


async def test_negative_offset_keeps_only_the_last_updates(tg: SandboxClient) -> None:
    bot = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[bot.id, ali])
    for i in range(5):
        await tg.say(chat, ali, f"m{i}")
    last_two = await tg.updates(bot, offset=-2)
    assert [u["message"]["text"] for u in last_two] == ["m3", "m4"]
    assert len(await tg.updates(bot)) == 2


async def test_a_newer_poll_ends_the_older_one_with_409(tg: SandboxClient) -> None:
    bot = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[bot.id, ali])
    older = asyncio.create_task(tg.call(bot, "getUpdates", timeout=30))
    await eventually(lambda: _poll_is_parked(tg, bot.id), message="older poll parked")
    newer = asyncio.create_task(tg.updates(bot, timeout=30))
    response = await asyncio.wait_for(older, 10)
    assert response.status_code == 409
    assert response.json() == {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates request; make sure that only "
        "one bot instance is running",
    }
    await tg.say(chat, ali, "hâlâ buradayım")
    assert [u["message"]["text"] for u in await asyncio.wait_for(newer, 10)] == ["hâlâ buradayım"]


async def _poll_is_parked(tg: SandboxClient, bot_id: int) -> bool:
    info = await tg.admin("GET", f"/bots/{bot_id}")
    return bool(info["polling"])


async def test_allowed_updates_filters_and_persists(tg: SandboxClient) -> None:
    bot = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[bot.id, ali])
    assert await tg.updates(bot, allowed_updates=["edited_message"]) == []
    said = await tg.say(chat, ali, "ilk hali")
    await tg.admin(
        "POST", f"/chats/{chat}/messages/{said['message_id']}/edit", json={"text": "son hali"}
    )
    (update,) = await tg.updates(bot)  # the setting stays when omitted
    assert update["edited_message"]["text"] == "son hali"
    assert update["edited_message"]["edit_date"] >= update["edited_message"]["date"]
    await tg.updates(bot, offset=update["update_id"] + 1, allowed_updates=[])
    await tg.say(chat, ali, "yeni")
    (plain,) = await tg.updates(bot)
    assert plain["message"]["text"] == "yeni"
