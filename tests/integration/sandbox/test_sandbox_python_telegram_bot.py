"""A third-party client, python-telegram-bot, driven against the sandbox unchanged.

Every answer must parse into PTB's objects, and every failure must map to the
exception TELEGRAM.md section 5 names.
"""

# ruff: noqa: RUF001 - Turkish letters (dotless i and friends) are what these tests are about

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import Bot, ReactionTypeEmoji, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter

from tests.integration.sandbox.sandbox_client import BotHandle, SandboxClient

# PTB 22 warns that RetryAfter.retry_after becomes a timedelta in its next major version.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest_asyncio.fixture
async def handle(tg: SandboxClient) -> BotHandle:
    return await tg.bot("ptb_bot")


@pytest_asyncio.fixture
async def ptb(tg: SandboxClient, handle: BotHandle) -> AsyncIterator[Bot]:
    bot = Bot(handle.token, base_url=f"{tg.url}/bot")
    async with bot:
        yield bot


async def test_get_me(ptb: Bot, handle: BotHandle) -> None:
    me = await ptb.get_me()
    assert (me.id, me.username, me.is_bot) == (handle.id, "ptb_bot", True)
    assert me.can_read_all_group_messages is False
    assert me.api_kwargs == {}  # nothing PTB does not know


async def test_send_reply_with_quote_and_react(
    tg: SandboxClient, ptb: Bot, handle: BotHandle
) -> None:
    ali = await tg.human("Ali", "ali_k")
    chat = await tg.chat(members=[handle.id, ali])
    question = await tg.say(chat, ali, "Gram altın 4.000 TL'yi geçer mi? 🤔")

    plain = await ptb.send_message(chat, "Merhaba @ali_k 👋")
    assert plain.text == "Merhaba @ali_k 👋"
    assert plain.parse_entity(plain.entities[0]) == "@ali_k"

    reply = await ptb.send_message(
        chat,
        "Bence geçer",
        reply_parameters=ReplyParameters(question["message_id"], quote="4.000 TL'yi geçer"),
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == question["message_id"]
    assert reply.quote is not None and reply.quote.text == "4.000 TL'yi geçer"
    assert reply.quote.is_manual is True

    assert await ptb.set_message_reaction(chat, question["message_id"], ReactionTypeEmoji("👍"))
    assert await ptb.send_chat_action(chat, "typing")
    member = await ptb.get_chat_member(chat, ali)
    assert member.status == "member" and member.user.id == ali


async def test_get_updates(tg: SandboxClient, ptb: Bot, handle: BotHandle) -> None:
    ali = await tg.human("Ali", "ali_k")
    chat = await tg.chat(members=[handle.id, ali])
    await tg.say(chat, ali, "@ptb_bot selam")
    await tg.say(chat, ali, "görmemesi gereken mesaj")
    (update,) = await ptb.get_updates(timeout=5)
    assert update.message is not None
    assert update.message.text == "@ptb_bot selam"
    assert update.message.from_user is not None and update.message.from_user.id == ali
    assert update.message.chat.type == "supergroup"
    assert await ptb.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_flood_limit_is_retry_after(tg: SandboxClient, ptb: Bot, handle: BotHandle) -> None:
    chat = await tg.chat(members=[handle.id])
    await tg.limits(chat_burst=1)
    await ptb.send_message(chat, "bir")
    with pytest.raises(RetryAfter) as caught:
        await ptb.send_message(chat, "iki")
    assert caught.value.retry_after == 1


async def test_errors_map_to_ptb_exceptions(tg: SandboxClient, ptb: Bot, handle: BotHandle) -> None:
    group = await tg.chat(members=[handle.id], kind="group")
    supergroup = await tg.chat(members=[handle.id])
    ali = await tg.human("Ali")

    with pytest.raises(BadRequest, match=r"^Message text is empty$"):
        await ptb.send_message(supergroup, " ")
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await ptb.send_message(-1001, "x")
    target = await tg.say(supergroup, ali, "altın")
    with pytest.raises(BadRequest, match=r"^Quote_text_invalid$"):
        await ptb.send_message(
            supergroup,
            "x",
            reply_parameters=ReplyParameters(target["message_id"], quote="gümüş"),
        )

    moved = await tg.admin("POST", f"/chats/{group}/migrate")
    with pytest.raises(ChatMigrated) as migrated:
        await ptb.send_message(group, "x")
    assert migrated.value.new_chat_id == moved["chat"]["chat"]["id"]

    await tg.http.delete(
        f"/sandbox/api/chats/{supergroup}/members/{handle.id}", params={"ban": "1"}
    )
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await ptb.send_message(supergroup, "x")

    await tg.admin(
        "POST",
        "/faults",
        json={"bot": handle.id, "method": "sendMessage", "error_code": 429, "retry_after": 3},
    )
    with pytest.raises(RetryAfter):
        await ptb.send_message(moved["chat"]["chat"]["id"], "x")


async def test_revoked_token_is_invalid_token(tg: SandboxClient, handle: BotHandle) -> None:
    await tg.admin("POST", f"/bots/{handle.id}/revoke")
    bot = Bot(handle.token, base_url=f"{tg.url}/bot")
    with pytest.raises(InvalidToken):
        await bot.initialize()
    await bot.shutdown()
