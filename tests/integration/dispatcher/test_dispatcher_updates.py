"""Incoming updates by long polling, and the token checks at registration."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike

from __future__ import annotations

from typing import Any

import pytest

from piyasa_common.sealing import DataKeys
from piyasa_contracts import StreamRole
from piyasa_contracts.events._common import SealedText
from tests.integration.dispatcher.rig import Bot, Rig
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def status_of(rig: Rig, aggregate: str, aggregate_id: str) -> dict[str, Any] | None:
    events = await rig.events(f"{aggregate}.changed", StreamRole.CONFIG)
    mine = [e.payload for e in events if e.payload["id"] == aggregate_id]
    return mine[-1] if mine else None


async def wait_status(rig: Rig, aggregate: str, aggregate_id: str, **wanted: Any) -> dict[str, Any]:
    async def matches() -> dict[str, Any] | None:
        status = await status_of(rig, aggregate, aggregate_id)
        ok = status is not None and all(status.get(k) == v for k, v in wanted.items())
        return status if ok else None

    found = await eventually(matches, timeout=15, message=f"{aggregate} {wanted}")
    assert found is not None
    return found


async def test_humans_messages_and_edits_become_sealed_events_once(rig: Rig) -> None:
    listener = await rig.bot("ear", privacy_mode=False)
    other = await rig.bot("mouth")
    human = await rig.tg.human("Mert", "mert_trader")
    chat = await rig.chat([listener, other], listener=listener, humans=[human])
    await rig.start()

    said = await rig.tg.say(chat.telegram_chat_id, human, f"@{other.username} dolar ne olur?")
    await rig.tg.admin(
        "POST",
        f"/chats/{chat.telegram_chat_id}/messages/{said['message_id']}/edit",
        json={"text": f"@{other.username} dolar bu hafta ne olur?"},
    )

    original, edit = await rig.wait_events("message.received", 2)
    keys = DataKeys(rig.js, rig.topology)
    assert original.keys.chat_id == chat.chat_id
    assert original.payload["via_bot_id"] == listener.bot_id
    assert original.payload["username"] == "mert_trader"
    assert original.payload["mentioned_bot_ids"] == [other.bot_id]
    text = await keys.open(SealedText.model_validate(original.payload["text"]))
    assert text == f"@{other.username} dolar ne olur?"
    sender = await keys.open(SealedText.model_validate(original.payload["sender_telegram_id"]))
    assert sender == str(human)
    assert original.payload["edit_date"] is None and edit.payload["edit_date"]
    assert edit.payload["telegram_message_id"] == said["message_id"]
    assert edit.id != original.id


async def test_only_each_chats_listener_bot_is_polled(rig: Rig) -> None:
    listener = await rig.bot("ear", privacy_mode=False)
    deaf = await rig.bot("deaf", privacy_mode=False)
    human = await rig.tg.human("Zeynep")
    chat = await rig.chat([listener, deaf], listener=listener, humans=[human])
    await rig.start()
    await rig.tg.say(chat.telegram_chat_id, human, "günaydın")
    await rig.wait_events("message.received", 1)

    views = {b["id"]: b for b in await rig.tg.admin("GET", "/bots")}
    assert views[deaf.telegram_id]["polling"] is False
    assert views[deaf.telegram_id]["pending_updates"] == 1  # never fetched by anyone
    assert views[listener.telegram_id]["allowed_updates"] == [
        "message",
        "edited_message",
        "message_reaction",
        "my_chat_member",
    ]


async def test_a_humans_reaction_reaches_an_admin_listener_as_an_event(rig: Rig) -> None:
    listener = await rig.bot("admin")
    human = await rig.tg.human("Efe")
    chat = await rig.chat([listener], listener=listener, admin_listener=True, humans=[human])
    await rig.start()
    said = await rig.tg.say(chat.telegram_chat_id, human, "bitcoin 100k!")
    await rig.wait_events("message.received", 1)

    await rig.tg.admin(
        "POST",
        f"/chats/{chat.telegram_chat_id}/messages/{said['message_id']}/reactions",
        json={"user": human, "emoji": "🔥"},
    )

    [reaction] = await rig.wait_events("reaction.added", 1)
    assert reaction.payload["telegram_message_id"] == said["message_id"]
    assert reaction.payload["emoji"] == "🔥"
    assert reaction.payload["actor_is_bot"] is False


async def test_a_registered_bot_is_verified_and_a_deaf_chat_is_flagged(rig: Rig) -> None:
    hears = await rig.bot("hears", privacy_mode=False)
    deaf = await rig.bot("private")  # privacy mode on, not an admin
    good = await rig.chat([hears], listener=hears)
    bad = await rig.chat([deaf], listener=deaf)
    await rig.start()

    verified = await wait_status(rig, "bot_status", hears.bot_id, token_check="verified")
    assert verified["telegram_user_id"] == hears.telegram_id
    assert verified["telegram_username"] == hears.username
    assert verified["can_read_all_group_messages"] is True
    await wait_status(rig, "chat_status", good.chat_id, can_hear_humans=True)
    flagged = await wait_status(rig, "chat_status", bad.chat_id, can_hear_humans=False)
    assert "privacy mode" in flagged["detail"]

    # Promoting the listener to admin and re-registering it makes the chat hear.
    await rig.tg.admin(
        "POST",
        f"/chats/{bad.telegram_chat_id}/members",
        json={"user": deaf.telegram_id, "status": "administrator"},
    )
    await reregister(rig, deaf)
    await wait_status(rig, "chat_status", bad.chat_id, can_hear_humans=True)


async def test_a_token_telegram_refuses_is_marked_invalid(rig: Rig) -> None:
    bot = await rig.bot("forged")
    await rig.tg.admin("POST", f"/bots/{bot.telegram_id}/revoke")
    await rig.start()

    status = await wait_status(rig, "bot_status", bot.bot_id, token_check="invalid")
    assert status["detail"] == "Unauthorized"


async def reregister(rig: Rig, bot: Bot) -> None:
    """The operator saves the bot with a new token reference (same token)."""
    from piyasa_contracts.events.config import BotChanged

    ref = await rig.store_token(bot.bot_id, bot.handle.token, ref=f"ref2-{bot.bot_id}")
    await rig.publish(
        BotChanged(id=bot.bot_id, name=bot.username, username=bot.username, token_ref=ref),
        bot_id=bot.bot_id,
    )
