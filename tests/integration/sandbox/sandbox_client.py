"""A small client that speaks both of the sandbox's APIs, and test settings for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from piyasa_sandbox import SandboxSettings


@dataclass(frozen=True)
class BotHandle:
    id: int
    token: str
    username: str


class SandboxClient:
    """Plain httpx against one sandbox: the admin API to arrange, the Bot API to act."""

    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url
        self.http = http

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"/sandbox/api{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def bot(self, username: str, *, privacy_mode: bool = True, **extra: Any) -> BotHandle:
        body = await self.admin(
            "POST", "/bots", json={"username": username, "privacy_mode": privacy_mode, **extra}
        )
        return BotHandle(id=body["id"], token=body["token"], username=username)

    async def human(self, first_name: str, username: str | None = None) -> int:
        body = await self.admin(
            "POST", "/users", json={"first_name": first_name, "username": username}
        )
        return int(body["id"])

    async def chat(
        self,
        *,
        members: Sequence[int | str] = (),
        admins: Sequence[int | str] = (),
        kind: str = "supergroup",
        title: str = "Piyasa",
    ) -> int:
        body = await self.admin(
            "POST",
            "/chats",
            json={"type": kind, "title": title, "members": list(members), "admins": list(admins)},
        )
        return int(body["chat"]["id"])

    async def say(self, chat_id: int, sender: int | str, text: str, **extra: Any) -> dict[str, Any]:
        """Post as a human; the message as the admin API shows it."""
        body: dict[str, Any] = await self.admin(
            "POST", f"/chats/{chat_id}/messages", json={"from": sender, "text": text, **extra}
        )
        return body

    async def call(self, bot: BotHandle | str, method: str, **params: Any) -> httpx.Response:
        """A Bot API call with a JSON body."""
        token = bot.token if isinstance(bot, BotHandle) else bot
        return await self.http.post(f"/bot{token}/{method}", json=params)

    async def ok(self, bot: BotHandle | str, method: str, **params: Any) -> Any:
        response = await self.call(bot, method, **params)
        body = response.json()
        assert response.status_code == 200 and body["ok"] is True, response.text
        return body["result"]

    async def updates(self, bot: BotHandle, **params: Any) -> list[dict[str, Any]]:
        """Pending updates of `bot` (not confirmed)."""
        result: list[dict[str, Any]] = await self.ok(bot, "getUpdates", **params)
        return result

    async def limits(self, **changes: Any) -> None:
        await self.admin("PUT", "/limits", json=changes)


def compressed_settings(**overrides: Any) -> SandboxSettings:
    """Real behaviour on a short clock: webhook retries in tens of milliseconds."""
    values: dict[str, Any] = {
        "port": 0,
        "webhook_retry_initial_s": 0.05,
        "webhook_retry_max_s": 0.2,
        "webhook_timeout_s": 5.0,
    }
    values.update(overrides)
    return SandboxSettings(**values)
