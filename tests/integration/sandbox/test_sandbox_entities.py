"""Entity offsets in UTF-16 code units, with emoji and Turkish text."""

# ruff: noqa: RUF001 - Turkish letters (dotless i and friends) are what these tests are about

from __future__ import annotations

from tests.integration.sandbox.sandbox_client import SandboxClient


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def test_text_mention_offsets_survive_emoji_and_turkish(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    listener = await tg.bot("dinleyici_bot", privacy_mode=False)
    şule = await tg.human("Şule")  # no username: mentioned with text_mention
    chat = await tg.chat(members=[bot.id, listener.id, şule])
    prefix = "📈🚀 Güzel çıkış "
    text = f"{prefix}Şule, sence ÇEŞTŞ'de kâr alınır mı? 🤔"
    entity = {
        "type": "text_mention",
        "offset": _utf16(prefix),
        "length": _utf16("Şule"),
        "user": {"id": şule, "is_bot": False, "first_name": "Şule"},
    }
    assert entity["offset"] == 17  # two astral emoji count 2 each
    sent = await tg.ok(bot, "sendMessage", chat_id=chat, text=text, entities=[entity])
    (mention,) = sent["entities"]
    assert mention == {
        "offset": 17,
        "length": 4,
        "type": "text_mention",
        "user": {"id": şule, "is_bot": False, "first_name": "Şule"},
    }
    view = await tg.admin("GET", f"/chats/{chat}")
    assert view["messages"][0]["entities"][0]["text"] == "Şule"


async def test_detected_mentions_and_commands_count_utf16(tg: SandboxClient) -> None:
    listener = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali", "ali_k")
    chat = await tg.chat(members=[listener.id, ali])
    text = "🇹🇷 Işıl & Öykü: @dinleyici_bot #altın $XAU"
    await tg.say(chat, ali, text)
    (update,) = await tg.updates(listener)
    entities = update["message"]["entities"]
    start = text.index("@")
    assert entities[0] == {
        "offset": _utf16(text[:start]),
        "length": len("@dinleyici_bot"),
        "type": "mention",
    }
    assert [e["type"] for e in entities] == ["mention", "hashtag", "cashtag"]
    hashtag = entities[1]
    encoded = text.encode("utf-16-le")
    covered = encoded[hashtag["offset"] * 2 : (hashtag["offset"] + hashtag["length"]) * 2]
    assert covered.decode("utf-16-le") == "#altın"


async def test_quote_position_is_in_utf16(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[bot.id, ali])
    target = await tg.say(chat, ali, "🙂🙂 Borsa çöktü mü?")
    sent = await tg.ok(
        bot,
        "sendMessage",
        chat_id=chat,
        text="Hayır",
        reply_parameters={"message_id": target["message_id"], "quote": "çöktü"},
    )
    assert sent["quote"]["position"] == _utf16("🙂🙂 Borsa ")


async def test_html_parse_mode_gives_entities(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    chat = await tg.chat(members=[bot.id])
    sent = await tg.ok(
        bot, "sendMessage", chat_id=chat, text="<b>Güçlü</b> 📈 <i>alım</i>", parse_mode="HTML"
    )
    assert sent["text"] == "Güçlü 📈 alım"
    assert sent["entities"] == [
        {"offset": 0, "length": 5, "type": "bold"},
        {"offset": 9, "length": 4, "type": "italic"},
    ]
    bad = await tg.call(
        bot, "sendMessage", chat_id=chat, text="<blink>x</blink>", parse_mode="HTML"
    )
    assert bad.json()["description"].startswith("Bad Request: can't parse entities: ")
