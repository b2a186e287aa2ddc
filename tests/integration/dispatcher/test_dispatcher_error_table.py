"""The error table against the sandbox, row by row.

Each row gets a bot and a chat of its own on one running dispatcher: either
the situation itself (a revoked token, a kicked bot, an upgraded group) or,
for answers the sandbox cannot cause, an injected fault with Telegram's exact
description. Each row checks the action as the events show it, and what the
sandbox holds.
"""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from piyasa_sandbox import SandboxServer

from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_contracts import Envelope, StreamRole
from tests.integration.dispatcher.rig import SANDBOX_LIMITS, Bot, Chat, Rig
from tests.integration.sandbox.sandbox_client import SandboxClient, compressed_settings
from tests.support.backbone import settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module")
async def shared(nats_url: str) -> AsyncIterator[Rig]:
    """One dispatcher for every row (each row has its own bot and chat)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    server = SandboxServer(compressed_settings())
    await server.start("127.0.0.1", 0)
    http = httpx.AsyncClient(base_url=server.url, timeout=30)
    tg = SandboxClient(server.url, http)
    await tg.limits(**SANDBOX_LIMITS)
    config = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "dispatcher-errors")
    js = jetstream(nc)
    await provision(js, config)
    topology = config.topology()
    rig = Rig(nats_url, prefix, server.url, tg, js, topology, Publisher(js, topology))
    await rig.start(telegram_timeout_s=1.0)
    try:
        yield rig
    finally:
        await rig.stop_all()
        await nc.close()
        await http.aclose()
        await server.stop()


@dataclass
class Outcome:
    failures: list[Envelope]
    sent: list[Envelope]
    posted: list[dict[str, Any]]


async def outcome_of(rig: Rig, turn: Envelope, chat: Chat | int, *, final: str) -> Outcome:
    """Wait for the turn's final event (`sent` or a non-retry failure), then read everything."""
    turn_id = turn.keys.turn_id

    async def finished() -> bool:
        events = await rig.events("message.sent") + await rig.events("dispatch.failed")
        mine = [e for e in events if e.keys.turn_id == turn_id]
        if final == "sent":
            return any(e.type == "message.sent" for e in mine)
        return any(e.type == "dispatch.failed" and e.payload["action"] == final for e in mine)

    await eventually(finished, timeout=20, message=f"turn {turn_id} to end with {final}")
    failures = [e for e in await rig.events("dispatch.failed") if e.keys.turn_id == turn_id]
    sent = [e for e in await rig.events("message.sent") if e.keys.turn_id == turn_id]
    return Outcome(failures, sent, await rig.posted(chat))


async def bot_status(rig: Rig, bot: Bot) -> dict[str, Any]:
    events = await rig.events("bot_status.changed", StreamRole.CONFIG)
    mine = [e for e in events if e.payload["id"] == bot.bot_id]
    assert mine, "no bot_status.changed for the bot"
    return mine[-1].payload


async def wait_bot_status(rig: Rig, bot: Bot, key: str, predicate: Any) -> dict[str, Any]:
    async def matches() -> dict[str, Any] | None:
        events = await rig.events("bot_status.changed", StreamRole.CONFIG)
        mine = [e.payload for e in events if e.payload["id"] == bot.bot_id]
        return mine[-1] if mine and predicate(mine[-1].get(key)) else None

    found = await eventually(matches, timeout=10, message=f"bot status {key}")
    assert found is not None
    return found


INJECTED = [
    pytest.param(403, "Forbidden: the group chat was deleted", "disable_in_chat", id="403-deleted"),
    pytest.param(
        403, "Forbidden: bot was blocked by the user", "disable_in_chat", id="403-blocked"
    ),
    pytest.param(403, "Forbidden: user is deactivated", "disable_in_chat", id="403-deactivated"),
    pytest.param(
        403,
        "Forbidden: bot can't initiate conversation with a user",
        "disable_in_chat",
        id="403-cant-initiate",
    ),
    pytest.param(403, "Forbidden: something Telegram adds later", "disable_in_chat", id="403-any"),
    pytest.param(400, "Bad Request: CHAT_WRITE_FORBIDDEN", "disable_in_chat", id="400-write"),
    pytest.param(
        400, "Bad Request: have no rights to send a message", "disable_in_chat", id="400-no-rights"
    ),
    pytest.param(400, "Bad Request: CHAT_RESTRICTED", "disable_in_chat", id="400-restricted"),
    pytest.param(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        "disable_in_chat",
        id="400-upgraded-no-id",
    ),
    pytest.param(404, "Not Found", "disable_bot", id="404-malformed-token"),
    pytest.param(400, "Bad Request: QUOTE_TEXT_INVALID", "drop", id="400-other-quote"),
    pytest.param(400, "Bad Request: message to be replied not found", "drop", id="400-other"),
    pytest.param(404, "Not Found: method not found", "drop", id="404-method"),
    pytest.param(409, "Conflict: terminated by other getUpdates request", "drop", id="409-other"),
]


@pytest.mark.parametrize(("code", "description", "action"), INJECTED)
async def test_injected_answer_maps_to_its_action(
    shared: Rig, code: int, description: str, action: str
) -> None:
    bot = await shared.bot("row")
    chat = await shared.chat([bot])
    await shared.fault(bot, "sendMessage", code, description=description)

    turn = await shared.approve(bot, chat, "bu mesaj gitmemeli")

    result = await outcome_of(shared, turn, chat, final=action)
    assert result.posted == [] and result.sent == []
    [failure] = result.failures
    assert failure.payload["error_code"] == code
    assert failure.payload["description"] == description  # Telegram's text, kept
    if action == "disable_in_chat":
        status = await wait_bot_status(shared, bot, "disabled_in_chats", lambda v: v)
        assert status["disabled_in_chats"] == [chat.chat_id]
    if action == "disable_bot":
        status = await wait_bot_status(shared, bot, "disabled_everywhere", bool)
        assert status["token_check"] == "invalid"


@pytest.mark.parametrize("code", [500, 502], ids=["500", "502"])
async def test_server_errors_are_retried_with_backoff_until_posted(shared: Rig, code: int) -> None:
    bot = await shared.bot("retry")
    chat = await shared.chat([bot])
    await shared.fault(bot, "sendMessage", code, count=2)

    turn = await shared.approve(bot, chat, "sonunda gitti")

    result = await outcome_of(shared, turn, chat, final="sent")
    assert [m["text"] for m in result.posted] == ["sonunda gitti"]
    assert [f.payload["action"] for f in result.failures] == ["retry", "retry"]
    assert {f.payload["error_code"] for f in result.failures} == {code}


async def test_no_answer_after_sending_is_ambiguous_and_never_resent(shared: Rig) -> None:
    bot = await shared.bot("timeout")
    chat = await shared.chat([bot])
    # The answer comes after the client's 1 s timeout: the request may have been posted.
    await shared.fault(bot, "sendMessage", 500, delay_s=2.0)

    turn = await shared.approve(bot, chat, "belki gitti")

    result = await outcome_of(shared, turn, chat, final="drop")
    [failure] = result.failures
    assert failure.payload["error_code"] is None
    assert "it may have posted the message" in failure.payload["description"]
    assert result.posted == []  # the sandbox answered 500 late; the turn was not resent


async def test_429_waits_retry_after_then_posts(shared: Rig) -> None:
    bot = await shared.bot("flood")
    chat = await shared.chat([bot])
    await shared.fault(bot, "sendMessage", 429, retry_after=1)

    turn = await shared.approve(bot, chat, "sabır")

    result = await outcome_of(shared, turn, chat, final="sent")
    [failure] = result.failures
    assert (failure.payload["action"], failure.payload["error_code"]) == ("retry", 429)
    refused_at = failure.occurred_at.timestamp()
    assert result.posted[0]["at"] >= refused_at + 1.0


async def test_revoked_token_disables_the_bot_everywhere(shared: Rig) -> None:
    bot = await shared.bot("revoked")
    chat = await shared.chat([bot])
    await shared.tg.admin("POST", f"/bots/{bot.telegram_id}/revoke")

    first = await shared.approve(bot, chat, "401 gelecek")
    result = await outcome_of(shared, first, chat, final="disable_bot")
    assert result.failures[0].payload["description"] == "Unauthorized"
    status = await wait_bot_status(shared, bot, "disabled_everywhere", bool)
    assert status["token_check"] == "invalid"

    # Later turns fail at once: no call with a token Telegram refused.
    second = await shared.approve(bot, chat, "bu da")
    again = await outcome_of(shared, second, chat, final="disable_bot")
    assert again.failures[0].payload["error_code"] is None and again.posted == []


@pytest.mark.parametrize("how", ["left", "kicked"])
async def test_a_bot_removed_from_the_chat_is_disabled_there(shared: Rig, how: str) -> None:
    bot = await shared.bot("gone")
    chat = await shared.chat([bot])
    ban = "?ban=1" if how == "kicked" else ""
    await shared.tg.admin(
        "DELETE", f"/chats/{chat.telegram_chat_id}/members/{bot.telegram_id}{ban}"
    )

    turn = await shared.approve(bot, chat, "kimse duymaz")

    result = await outcome_of(shared, turn, chat, final="disable_in_chat")
    expected = {
        "left": "Forbidden: bot is not a member of the supergroup chat",
        "kicked": "Forbidden: bot was kicked from the supergroup chat",
    }[how]
    assert result.failures[0].payload["description"] == expected
    status = await wait_bot_status(shared, bot, "disabled_in_chats", lambda v: v)
    assert chat.chat_id in status["disabled_in_chats"]


async def test_a_restricted_bot_is_disabled_in_the_chat(shared: Rig) -> None:
    bot = await shared.bot("muted")
    chat = await shared.chat([bot])
    await shared.tg.admin(
        "POST",
        f"/chats/{chat.telegram_chat_id}/members",
        json={"user": bot.telegram_id, "status": "restricted"},
    )

    turn = await shared.approve(bot, chat, "susturuldum")

    result = await outcome_of(shared, turn, chat, final="disable_in_chat")
    assert result.failures[0].payload["description"] == (
        "Bad Request: not enough rights to send text messages to the chat"
    )


async def test_a_chat_the_bot_is_not_in_is_chat_not_found_and_disables_it_there(
    shared: Rig,
) -> None:
    bot, other = await shared.bot("outsider"), await shared.bot("insider")
    chat = await shared.chat([other])
    config_chat = Chat(chat.chat_id, chat.telegram_chat_id, (bot, other), None)

    turn = await shared.approve(bot, config_chat, "neredeyim")

    result = await outcome_of(shared, turn, chat, final="disable_in_chat")
    assert result.failures[0].payload["description"] == "Bad Request: chat not found"


async def test_an_upgraded_group_moves_the_chat_everywhere_and_the_turn_follows(
    shared: Rig,
) -> None:
    bot = await shared.bot("mover")
    chat = await shared.chat([bot], kind="group")
    migrated = await shared.tg.admin("POST", f"/chats/{chat.telegram_chat_id}/migrate")
    new_id = int(migrated["chat"]["chat"]["id"])

    turn = await shared.approve(bot, chat, "süper gruptayız")

    result = await outcome_of(shared, turn, new_id, final="sent")
    assert [m["text"] for m in result.posted] == ["süper gruptayız"]
    assert result.sent[0].payload["telegram_chat_id"] == new_id
    statuses = await shared.events("chat_status.changed", StreamRole.CONFIG)
    moved = [e.payload for e in statuses if e.payload["id"] == chat.chat_id]
    assert moved and moved[-1]["migrated_to_chat_id"] == new_id

    # The next turn goes straight to the new id.
    second = await shared.approve(bot, chat, "yine buradayız")
    again = await outcome_of(shared, second, new_id, final="sent")
    assert again.failures == []
