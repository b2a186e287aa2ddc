"""The web page and the JSON/SSE endpoints it reads."""

# ruff: noqa: RUF001 - Turkish letters (dotless i and friends) are what these tests are about

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from piyasa_sandbox import SandboxServer

from tests.integration.sandbox.sandbox_client import SandboxClient

CHROMIUM = Path("/usr/lib/chromium/chromium")


async def test_page_and_its_assets_are_served(tg: SandboxClient) -> None:
    page = await tg.http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for asset, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        assert f"/sandbox/page/{asset}" in page.text
        response = await tg.http.get(f"/sandbox/page/{asset}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
    script = (await tg.http.get("/sandbox/page/app.js")).text
    for endpoint in ('"/chats"', "/chats/${", "/events", "/messages"):
        assert endpoint in script
    assert (await tg.http.get("/sandbox/page/secrets.txt")).status_code == 404


async def test_chat_read_back_has_what_the_page_draws(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    ali = await tg.human("Ali", "ali_k")
    chat = await tg.chat(members=[bot.id, ali], title="Borsa")
    question = await tg.say(chat, ali, "Endeks nereye gider?")
    await tg.ok(
        bot,
        "sendMessage",
        chat_id=chat,
        text="Yukarı",
        reply_parameters={"message_id": question["message_id"], "quote": "Endeks"},
    )
    await tg.admin(
        "POST",
        f"/chats/{chat}/messages/{question['message_id']}/reactions",
        json={"user": ali, "emoji": "👍"},
    )
    await tg.ok(bot, "sendChatAction", chat_id=chat, action="typing")

    (summary,) = await tg.admin("GET", "/chats")
    assert summary["title"] == "Borsa" and summary["last_message"]["text"] == "Yukarı"
    view = await tg.admin("GET", f"/chats/{chat}")
    first, answer = view["messages"]
    assert first["reaction_counts"] == [{"reaction": "👍", "count": 1}]
    assert answer["from"]["is_bot"] is True
    assert answer["reply_to"]["text"] == "Endeks nereye gider?"
    assert answer["quote"]["text"] == "Endeks"
    assert [t["name"] for t in view["typing_now"]] == ["ayse_bot"]
    assert {m["status"] for m in view["members"]} == {"member"}


async def test_events_stream_tells_the_page_about_changes(tg: SandboxClient) -> None:
    ali = await tg.human("Ali")
    chat = await tg.chat(members=[ali])

    async def first_message_event() -> dict[str, Any]:
        async with tg.http.stream("GET", "/sandbox/api/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line == "retry: 2000":
                    ready.set()
                if line.startswith("data: "):
                    event: dict[str, Any] = json.loads(line[len("data: ") :])
                    if event["type"] == "message":
                        return event
        raise AssertionError("stream ended")

    ready = asyncio.Event()
    listener = asyncio.create_task(first_message_event())
    await asyncio.wait_for(ready.wait(), 10)
    said = await tg.say(chat, ali, "canlı mı?")
    event = await asyncio.wait_for(listener, 10)
    assert event == {"type": "message", "chat_id": chat, "message_id": said["message_id"]}


async def test_posting_from_the_page_creates_a_guest_when_nobody_is_there(
    tg: SandboxClient,
) -> None:
    bot = await tg.bot("dinleyici_bot", privacy_mode=False)
    chat = await tg.chat(members=[bot.id])
    posted = await tg.admin("POST", f"/chats/{chat}/messages", json={"text": "merhaba"})
    assert posted["from"]["name"] == "Guest"
    updates = await tg.updates(bot)
    assert [u["message"].get("text") for u in updates][-1] == "merhaba"


@pytest.mark.skipif(
    os.environ.get("PIYASA_BROWSER_TESTS") != "1" or not CHROMIUM.exists(),
    reason="needs PIYASA_BROWSER_TESTS=1, Debian's chromium and the playwright package",
)
async def test_page_renders_a_chat_in_a_real_browser(
    tg: SandboxClient, sandbox: SandboxServer, tmp_path: Path
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    bot = await tg.bot("ayse_bot", first_name="Ayşe")
    ali = await tg.human("Ali", "ali_k")
    chat = await tg.chat(members=[bot.id, ali], title="Borsa")
    question = await tg.say(chat, ali, "Altın ne olur?")
    await tg.ok(
        bot,
        "sendMessage",
        chat_id=chat,
        text="Yükselir 📈",
        reply_parameters={"message_id": question["message_id"], "quote": "Altın"},
    )
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 700})
            await page.goto(sandbox.url + "/")
            await page.wait_for_selector(".reply.quote")
            assert await page.locator(".bubble").count() == 2
            await page.fill("#text", "tarayıcıdan selam")
            await page.click(".send")
            await page.wait_for_selector("text=tarayıcıdan selam")
            await page.screenshot(path=str(tmp_path / "sandbox.png"))
        finally:
            await browser.close()
    view = await tg.admin("GET", f"/chats/{chat}")
    assert view["messages"][-1]["text"] == "tarayıcıdan selam"
