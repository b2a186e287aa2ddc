"""Webhooks: the production way in. Telegram retries every non-2xx for a day, so only a
body that is not an Update gets 400; a wrong secret gets 401; anything parsed gets 200."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from piyasa_contracts import StreamRole
from piyasa_dispatcher.webhook import SECRET_HEADER, webhook_secret
from tests.integration.dispatcher.rig import Bot, Chat, Rig
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SECRET = "webhook-secret-for-tests"


@dataclass
class Hooked:
    rig: Rig
    bot: Bot
    chat: Chat
    human: int
    http: httpx.AsyncClient

    async def post(self, body: Any, *, secret: str | None = None, raw: bytes | None = None) -> int:
        headers = {
            SECRET_HEADER: secret if secret is not None else webhook_secret(SECRET, self.bot.bot_id)
        }
        response = await self.http.post(
            f"/telegram/webhook/{self.bot.bot_id}",
            content=raw if raw is not None else None,
            json=body if raw is None else None,
            headers=headers,
        )
        return response.status_code

    def update(self, update_id: int, text: str, **message_extra: Any) -> dict[str, Any]:
        return {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": self.human, "is_bot": False, "first_name": "Deniz"},
                "chat": {"id": self.chat.telegram_chat_id, "type": "supergroup", "title": "P"},
                "date": int(time.time()),
                "text": text,
                **message_extra,
            },
        }


@pytest.fixture
async def hooked(rig: Rig) -> AsyncIterator[Hooked]:
    bot = await rig.bot("hook", privacy_mode=False)
    human = await rig.tg.human("Deniz")
    chat = await rig.chat([bot], listener=bot, humans=[human])
    service = await rig.start(
        dispatcher_webhook_url="http://127.0.0.1:{port}", dispatcher_webhook_secret=SECRET
    )
    assert service.context is not None
    port = service.context.health.port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        yield Hooked(rig, bot, chat, human, http)


async def test_updates_arrive_by_webhook_set_with_the_bots_secret(hooked: Hooked) -> None:
    rig = hooked.rig

    async def webhook_set() -> bool:
        view = await rig.tg.admin("GET", f"/bots/{hooked.bot.telegram_id}")
        return bool(view["webhook_url"])

    await eventually(webhook_set, timeout=10, message="setWebhook")
    await rig.tg.say(hooked.chat.telegram_chat_id, hooked.human, "webhook ile geldim")

    [incoming] = await rig.wait_events("message.received", 1)
    assert incoming.payload["via_bot_id"] == hooked.bot.bot_id


async def test_a_wrong_secret_is_401_and_makes_no_event(hooked: Hooked) -> None:
    assert await hooked.post(hooked.update(11, "sahte"), secret="wrong") == 401
    assert await hooked.post(hooked.update(12, "sahte"), secret="") == 401
    assert await hooked.post(hooked.update(13, "gerçek")) == 200

    received = await hooked.rig.wait_events("message.received", 1)
    assert [e.payload["update_id"] for e in received] == [13]


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}', b'{"update_id": true}'],
    ids=["not-json", "array", "no-update-id", "string-id", "bool-id"],
)
async def test_a_body_that_is_not_an_update_is_400_and_the_service_lives_on(
    hooked: Hooked, raw: bytes
) -> None:
    assert await hooked.post(None, raw=raw) == 400
    assert await hooked.post(hooked.update(21, "hâlâ buradayım")) == 200
    await hooked.rig.wait_events("message.received", 1)


async def test_an_unprocessable_update_is_200_and_dead_lettered(hooked: Hooked) -> None:
    broken = {"update_id": 31, "message": {"message_id": "abc", "chat": 5}}

    assert await hooked.post(broken) == 200

    [parked] = await hooked.rig.wait_events("deadletter.parked", 1, role=StreamRole.DEADLETTER)
    assert parked.payload["consumer"] == "dispatcher-updates"
    assert parked.payload["reason"] == "unprocessable"
    assert parked.payload["stream_sequence"] == 31
    assert await hooked.rig.events("message.received") == []


async def test_the_same_update_twice_makes_one_event(hooked: Hooked) -> None:
    update = hooked.update(41, "iki kez geldim")

    assert await hooked.post(update) == 200
    assert await hooked.post(update) == 200
    # The same message through another delivery (a new update id) is still one message.
    assert await hooked.post({**update, "update_id": 42}) == 200
    assert await hooked.post(hooked.update(43, "son")) == 200

    received = await hooked.rig.wait_events("message.received", 2)
    assert sorted(e.payload["update_id"] for e in received) == [41, 43]


async def test_fields_telegram_may_add_later_are_accepted(hooked: Hooked) -> None:
    update = hooked.update(51, "yeni alanlar", brand_new_field={"x": 1}, text_color="gold")
    update["brand_new_kind"] = {"what": "ever"}

    assert await hooked.post(update) == 200
    assert await hooked.post({"update_id": 52, "business_message_of_2030": {"a": 1}}) == 200

    [incoming] = await hooked.rig.wait_events("message.received", 1)
    assert incoming.payload["update_id"] == 51
