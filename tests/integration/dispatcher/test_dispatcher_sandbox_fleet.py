"""`piyasa up`: bots and chats registered through the config API appear in the sandbox."""

from __future__ import annotations

import uuid

import pytest

from piyasa_contracts import StreamRole
from piyasa_contracts.events.config import BotChanged, ChatChanged
from tests.integration.dispatcher.rig import Bot, Chat, Rig
from tests.integration.sandbox.sandbox_client import BotHandle
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_a_fleet_unknown_to_the_sandbox_is_created_there_and_posts(rig: Rig) -> None:
    # What an operator does through the config API: a bot with a token of its own shape,
    # a chat with a Telegram id the sandbox has never seen.
    bot_id, chat_id = f"b{uuid.uuid4().hex[:12]}", f"c{uuid.uuid4().hex[:12]}"
    token = f"8100000{uuid.uuid4().int % 1000:03d}:AA{uuid.uuid4().hex}"
    ref = await rig.store_token(bot_id, token)
    await rig.publish(
        BotChanged(id=bot_id, name="Ayşe", username=f"ayse_{bot_id[:6]}_bot", token_ref=ref),
        bot_id=bot_id,
    )
    await rig.publish(
        ChatChanged(
            id=chat_id,
            telegram_chat_id=-1009999000001,
            title="Borsa sohbet",
            bot_ids=[bot_id],
            listener_bot_id=bot_id,
        ),
        chat_id=chat_id,
    )
    await rig.start(telegram_sandbox_admin=f"{rig.sandbox_url}/sandbox/api")

    async def moved() -> int | None:
        events = await rig.events("chat_status.changed", StreamRole.CONFIG)
        mine = [e.payload for e in events if e.payload["id"] == chat_id]
        return mine[-1].get("migrated_to_chat_id") if mine else None

    sandbox_chat = await eventually(moved, timeout=15, message="the chat created in the sandbox")
    assert isinstance(sandbox_chat, int)
    view = await rig.tg.admin("GET", f"/chats/{sandbox_chat}")
    telegram_id = int(token.split(":")[0])
    [member] = [m for m in view["members"] if m["id"] == telegram_id]
    assert member["status"] == "administrator" and member["privacy_mode"] is False

    handle = BotHandle(id=telegram_id, token=token, username="ayse")
    chat = Chat(chat_id, sandbox_chat, (Bot(bot_id, handle),), None)
    await rig.approve(Bot(bot_id, handle), chat, "merhaba sandbox")
    await rig.wait_events("message.sent", 1)
    assert [m["text"] for m in await rig.posted(sandbox_chat)] == ["merhaba sandbox"]
