"""Webhooks: delivery with the secret header, retries on non-2xx, exclusivity with polling."""

# ruff: noqa: RUF001 - Turkish letters (dotless i and friends) are what these tests are about

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.integration.sandbox.sandbox_client import SandboxClient
from tests.support.waiting import eventually


class Receiver:
    """A webhook endpoint that records each POST and answers the statuses queued in `answers`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.answers: list[int] = []
        self.url = ""

    async def endpoint(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.json()))
        status = self.answers.pop(0) if self.answers else 200
        return Response(status_code=status)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    app = Starlette(routes=[Route("/hook", hook.endpoint, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started, message="receiver started")
    hook.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:
        yield hook
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def test_updates_arrive_with_the_secret_header(tg: SandboxClient, receiver: Receiver) -> None:
    bot = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[bot.id, ali])
    answer = await tg.call(bot, "setWebhook", url=receiver.url, secret_token="s3cret_-A")
    assert answer.json() == {"ok": True, "result": True, "description": "Webhook was set"}

    await tg.say(chat, ali, "faiz kararı açıklandı")
    await tg.say(chat, ali, "piyasa yükselişte")
    await eventually(lambda: len(receiver.received) == 2, message="two webhook posts")
    headers, update = receiver.received[0]
    assert headers["x-telegram-bot-api-secret-token"] == "s3cret_-A"
    assert headers["content-type"] == "application/json"
    assert update["message"]["text"] == "faiz kararı açıklandı"
    assert receiver.received[1][1]["update_id"] == update["update_id"] + 1
    info = await tg.ok(bot, "getWebhookInfo")
    assert info["url"] == receiver.url and info["pending_update_count"] == 0


async def test_non_2xx_is_retried_with_backoff(tg: SandboxClient, receiver: Receiver) -> None:
    bot = await tg.bot("dinleyici_bot", privacy_mode=False)
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[bot.id, ali])
    receiver.answers = [500, 500]
    await tg.ok(bot, "setWebhook", url=receiver.url)
    await tg.say(chat, ali, "tekrar dene")
    await eventually(lambda: len(receiver.received) == 3, message="two retries then success")
    ids = {update["update_id"] for _, update in receiver.received}
    assert len(ids) == 1  # the same update each time
    info = await tg.ok(bot, "getWebhookInfo")
    assert (
        info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert info["pending_update_count"] == 0
    assert list(info)[:3] == ["url", "has_custom_certificate", "pending_update_count"]


async def test_get_updates_is_refused_while_a_webhook_is_set(
    tg: SandboxClient, receiver: Receiver
) -> None:
    bot = await tg.bot("ayse_bot")
    await tg.ok(bot, "setWebhook", url=receiver.url)
    response = await tg.call(bot, "getUpdates")
    assert response.status_code == 409
    assert response.json()["description"] == (
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first"
    )
    deleted = (await tg.call(bot, "deleteWebhook")).json()
    assert deleted == {"ok": True, "result": True, "description": "Webhook was deleted"}
    again = (await tg.call(bot, "deleteWebhook")).json()
    assert again["description"] == "Webhook is already deleted"
    assert await tg.updates(bot) == []
    info = await tg.ok(bot, "getWebhookInfo")
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


async def test_set_webhook_ends_a_parked_poll(tg: SandboxClient, receiver: Receiver) -> None:
    bot = await tg.bot("ayse_bot")
    poll = asyncio.create_task(tg.call(bot, "getUpdates", timeout=30))

    async def parked() -> bool:
        return bool((await tg.admin("GET", f"/bots/{bot.id}"))["polling"])

    await eventually(parked, message="poll parked")
    await tg.ok(bot, "setWebhook", url=receiver.url)
    response = await asyncio.wait_for(poll, 10)
    assert response.status_code == 409
    assert response.json()["description"] == "Conflict: terminated by setWebhook request"


async def test_secret_token_is_checked(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    long = await tg.call(bot, "setWebhook", url="http://127.0.0.1:9/h", secret_token="a" * 257)
    assert long.json()["description"] == "Bad Request: secret token is too long"
    bad = await tg.call(bot, "setWebhook", url="http://127.0.0.1:9/h", secret_token="no spaces!")
    assert bad.json()["description"] == "Bad Request: secret token contains unallowed characters"
