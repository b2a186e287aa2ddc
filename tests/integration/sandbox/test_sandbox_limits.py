"""Flood limits answer 429 with `parameters.retry_after` and a `Retry-After` header."""

from __future__ import annotations

import httpx

from tests.integration.sandbox.sandbox_client import SandboxClient


def _assert_flood(response: httpx.Response, low: int, high: int) -> int:
    assert response.status_code == 429, response.text
    body = response.json()
    seconds = body["parameters"]["retry_after"]
    assert low <= seconds <= high
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }
    assert response.headers["retry-after"] == str(seconds)
    return int(seconds)


async def test_one_chat_allows_a_short_burst_then_429(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    chat = await tg.chat(members=[bot.id])
    limits = await tg.admin("GET", "/limits")
    assert limits["enabled"] is True and limits["chat_per_s"] == 1.0
    for i in range(limits["chat_burst"]):
        await tg.ok(bot, "sendMessage", chat_id=chat, text=f"mesaj {i}")
    _assert_flood(await tg.call(bot, "sendMessage", chat_id=chat, text="one too many"), 1, 1)
    # a refused send is not counted, and other chats are not affected
    other = await tg.chat(members=[bot.id])
    await tg.ok(bot, "sendMessage", chat_id=other, text="başka sohbet")
    view = await tg.admin("GET", f"/chats/{chat}")
    assert [m["text"] for m in view["messages"]] == [
        f"mesaj {i}" for i in range(limits["chat_burst"])
    ]


async def test_twenty_per_minute_per_group_per_bot(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    other_bot = await tg.bot("mehmet_bot")
    chat = await tg.chat(members=[bot.id, other_bot.id])
    await tg.limits(chat_per_s=1000, chat_burst=1000)
    for i in range(20):
        await tg.ok(bot, "sendMessage", chat_id=chat, text=f"{i}")
    _assert_flood(await tg.call(bot, "sendMessage", chat_id=chat, text="21st"), 55, 60)
    # the limit is per bot: another bot in the same group may still post
    await tg.ok(other_bot, "sendMessage", chat_id=chat, text="ben de")


async def test_overall_per_bot_limit_across_chats(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    chats = [await tg.chat(members=[bot.id]) for _ in range(4)]
    await tg.limits(bot_per_s=3)
    for chat in chats[:3]:
        await tg.ok(bot, "sendMessage", chat_id=chat, text="hi")
    _assert_flood(await tg.call(bot, "sendMessage", chat_id=chats[3], text="hi"), 1, 1)


async def test_limits_can_be_switched_off_and_typing_is_not_counted(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    chat = await tg.chat(members=[bot.id])
    for _ in range(10):
        assert await tg.ok(bot, "sendChatAction", chat_id=chat, action="typing") is True
    await tg.limits(enabled=False)
    for i in range(30):
        await tg.ok(bot, "sendMessage", chat_id=chat, text=f"{i}")
    view = await tg.admin("GET", f"/chats/{chat}")
    assert len(view["messages"]) == 30
    assert len(view["typing"]) == 10
    stamps = [m["at"] for m in view["messages"]]
    assert stamps == sorted(stamps)  # precise send times, for measuring pacing


async def test_set_webhook_with_a_new_url_at_most_once_per_second(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    await tg.ok(bot, "setWebhook", url="http://127.0.0.1:9/a")
    _assert_flood(await tg.call(bot, "setWebhook", url="http://127.0.0.1:9/b"), 1, 1)
    same = (await tg.call(bot, "setWebhook", url="http://127.0.0.1:9/a")).json()
    assert same == {"ok": True, "result": True, "description": "Webhook is already set"}
