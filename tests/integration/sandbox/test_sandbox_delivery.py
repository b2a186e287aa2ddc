"""Who hears what: privacy mode, bots never hearing bots, reactions, members, edits."""

# ruff: noqa: RUF001 - Turkish letters (dotless i and friends) are what these tests are about

from __future__ import annotations

from typing import Any

from tests.integration.sandbox.sandbox_client import BotHandle, SandboxClient


async def _texts(tg: SandboxClient, bot: BotHandle) -> list[str]:
    updates = await tg.updates(bot)
    return [u["message"].get("text", "<service>") for u in updates if "message" in u]


async def _arrange(tg: SandboxClient) -> tuple[BotHandle, BotHandle, BotHandle, int, int]:
    private = await tg.bot("ayse_bot")  # privacy mode on (the default)
    other = await tg.bot("mehmet_bot")
    listener = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali", "ali_k")
    chat = await tg.chat(members=[private.id, other.id, listener.id, ali])
    return private, other, listener, ali, chat


async def test_privacy_on_bot_hears_only_what_is_meant_for_it(tg: SandboxClient) -> None:
    private, other, listener, ali, chat = await _arrange(tg)
    mine = await tg.ok(private, "sendMessage", chat_id=chat, text="Bugün altın alınır mı?")

    await tg.say(chat, ali, "sadece sohbet ediyorum")
    await tg.say(chat, ali, "@ayse_bot sen ne dersin?")
    await tg.say(chat, ali, "/fiyat@ayse_bot BTC")
    await tg.say(chat, ali, "katılmıyorum", reply_to_message_id=mine["message_id"])
    await tg.say(chat, ali, "/start")  # a general command: the last bot that posted hears it

    assert await _texts(tg, private) == [
        "@ayse_bot sen ne dersin?",
        "/fiyat@ayse_bot BTC",
        "katılmıyorum",
        "/start",
    ]
    assert await _texts(tg, other) == []
    assert await _texts(tg, listener) == [
        "sadece sohbet ediyorum",
        "@ayse_bot sen ne dersin?",
        "/fiyat@ayse_bot BTC",
        "katılmıyorum",
        "/start",
    ]


async def test_a_message_reaches_one_privacy_bot_and_replies_win(tg: SandboxClient) -> None:
    private, other, _, ali, chat = await _arrange(tg)
    mine = await tg.ok(private, "sendMessage", chat_id=chat, text="Dolar yükselecek")
    await tg.say(chat, ali, "@mehmet_bot buna ne diyorsun?", reply_to_message_id=mine["message_id"])
    assert await _texts(tg, private) == ["@mehmet_bot buna ne diyorsun?"]
    assert await _texts(tg, other) == []


async def test_bots_never_hear_bots(tg: SandboxClient) -> None:
    private, other, listener, _, chat = await _arrange(tg)
    said = await tg.ok(listener, "sendMessage", chat_id=chat, text="@ayse_bot /start@ayse_bot")
    await tg.ok(
        other,
        "sendMessage",
        chat_id=chat,
        text="@dinleyici_bot",
        reply_parameters={"message_id": said["message_id"]},
    )
    for bot in (private, other, listener):
        assert await tg.updates(bot) == []


async def test_admin_bot_hears_everything_even_with_privacy_on(tg: SandboxClient) -> None:
    admin = await tg.bot("yonetici_bot")
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[ali], admins=[admin.id])
    await tg.say(chat, ali, "selam")
    assert await _texts(tg, admin) == ["selam"]
    me = await tg.ok(admin, "getChatMember", chat_id=chat, user_id=admin.id)
    assert me["status"] == "administrator" and me["user"]["id"] == admin.id


async def test_reactions_reach_only_admin_bots_that_asked(tg: SandboxClient) -> None:
    asked = await tg.bot("yonetici_bot")
    did_not_ask = await tg.bot("ikinci_yonetici_bot")
    member = await tg.bot("uye_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[ali, member.id], admins=[asked.id, did_not_ask.id])
    for bot in (asked, member):
        await tg.updates(bot, allowed_updates=["message", "message_reaction"])
    sent = await tg.ok(asked, "sendMessage", chat_id=chat, text="Faiz indirimi geliyor")
    mid = sent["message_id"]

    await tg.admin(
        "POST", f"/chats/{chat}/messages/{mid}/reactions", json={"user": ali, "emoji": "🔥"}
    )
    # a bot's own reaction produces no update at all
    await tg.ok(
        member,
        "setMessageReaction",
        chat_id=chat,
        message_id=mid,
        reaction=[{"type": "emoji", "emoji": "👍"}],
    )

    (update,) = await tg.updates(asked)
    reaction: dict[str, Any] = update["message_reaction"]
    assert list(reaction) == ["chat", "message_id", "user", "date", "old_reaction", "new_reaction"]
    assert reaction["message_id"] == mid and reaction["user"]["id"] == ali
    assert reaction["old_reaction"] == []
    assert reaction["new_reaction"] == [{"type": "emoji", "emoji": "🔥"}]
    assert await tg.updates(did_not_ask) == []
    assert await tg.updates(member) == []

    view = await tg.admin("GET", f"/chats/{chat}")
    (message,) = view["messages"]
    assert sorted(r["reaction"][0]["emoji"] for r in message["reactions"]) == ["👍", "🔥"]


async def test_members_joining_and_bots_being_removed(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[ali])
    await tg.admin("POST", f"/chats/{chat}/members", json={"user": bot.id, "actor": ali})
    updates = await tg.updates(bot)
    assert [next(k for k in u if k != "update_id") for u in updates] == [
        "my_chat_member",
        "message",
    ]
    joined = updates[0]["my_chat_member"]
    assert joined["old_chat_member"]["status"] == "left"
    assert joined["new_chat_member"]["status"] == "member"
    assert updates[1]["message"]["new_chat_members"][0]["id"] == bot.id

    await tg.updates(bot, offset=updates[-1]["update_id"] + 1)
    await tg.http.delete(f"/sandbox/api/chats/{chat}/members/{bot.id}", params={"ban": "true"})
    (removed,) = await tg.updates(bot)
    kicked = removed["my_chat_member"]["new_chat_member"]
    assert kicked == {"user": kicked["user"], "status": "kicked", "until_date": 0}


async def test_update_ids_are_per_bot(tg: SandboxClient) -> None:
    a = await tg.bot("ayse_bot", privacy_mode=False)
    b = await tg.bot("mehmet_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[a.id, b.id, ali])
    for text in ("1", "2", "3"):
        await tg.say(chat, ali, text)
    ids_a = [u["update_id"] for u in await tg.updates(a)]
    ids_b = [u["update_id"] for u in await tg.updates(b)]
    assert ids_a == sorted(ids_a) and len(set(ids_a)) == 3
    assert ids_b == sorted(ids_b) and len(set(ids_b)) == 3
    assert ids_a != ids_b
