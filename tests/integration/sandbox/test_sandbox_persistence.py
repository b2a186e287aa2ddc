"""With a state file, a restart keeps bots, chats and their history."""

# ruff: noqa: RUF001 - Turkish letters (dotless i and friends) are what these tests are about

from __future__ import annotations

from pathlib import Path

import httpx
from piyasa_sandbox import SandboxServer

from tests.integration.sandbox.sandbox_client import SandboxClient, compressed_settings


async def test_restart_keeps_the_chat_history(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    first = SandboxServer(compressed_settings(state_file=state))
    await first.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=first.url) as http:
            tg = SandboxClient(first.url, http)
            bot = await tg.bot("ayse_bot", privacy_mode=False)
            ali = await tg.human("Ali")
            chat = await tg.chat(members=[bot.id, ali])
            await tg.say(chat, ali, "kalıcı mı?")
            await tg.ok(bot, "sendMessage", chat_id=chat, text="evet 💾")
    finally:
        await first.stop()
    assert state.exists()

    second = SandboxServer(compressed_settings(state_file=state))
    await second.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=second.url) as http:
            tg = SandboxClient(second.url, http)
            view = await tg.admin("GET", f"/chats/{chat}")
            assert [m["text"] for m in view["messages"]] == ["kalıcı mı?", "evet 💾"]
            (pending,) = await tg.updates(bot)  # the token still works, the update waited
            assert pending["message"]["text"] == "kalıcı mı?"
            sent = await tg.ok(bot, "sendMessage", chat_id=chat, text="devam")
            assert sent["message_id"] == 3
    finally:
        await second.stop()


async def test_an_unreadable_state_file_starts_empty(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    state.write_text("{not json", encoding="utf-8")
    server = SandboxServer(compressed_settings(state_file=state))
    await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/sandbox/api/chats")).json() == []
    finally:
        await server.stop()
    (aside,) = tmp_path.glob("sandbox.json.unreadable-*")
    assert aside.read_text(encoding="utf-8") == "{not json"
