"""Making the fleet exist in a Telegram sandbox: production code talking to a dev server.

`piyasa up` runs the sandbox and sets `TELEGRAM_SANDBOX_ADMIN` (its admin API)
for the dispatcher, and only then is this used: a bot or chat registered
through the config API must exist in the sandbox too, or every send would
answer 401 or "chat not found".

- A bot is created with its own token (the sandbox takes the token's number
  as the bot's id); a listener bot gets privacy mode off, so it hears humans.
- A chat that exists (by its Telegram id) gets the missing bots as members,
  its listener as an admin.
- A chat the sandbox does not have is created. The sandbox numbers chats
  itself, so the chat gets a new id there; that id is returned, and the
  dispatcher records it as where the chat lives now (a `chat_status.changed`
  with `migrated_to_chat_id`, as if Telegram had moved the group), so sends
  and updates use it from then on.

Everything here is idempotent, and a failure is logged and tried again on
the next change: the sandbox is a convenience, never a reason to stop.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

import httpx

log = logging.getLogger(__name__)


class SandboxFleet:
    def __init__(self, admin_url: str, *, timeout_s: float = 5.0) -> None:
        self._http = httpx.AsyncClient(base_url=admin_url.rstrip("/"), timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ensure_bot(
        self, *, telegram_id: int, token: str, username: str, name: str, listener: bool
    ) -> None:
        """The bot exists with this token; a listener hears every human."""
        found = await self._http.get(f"/bots/{telegram_id}")
        if found.status_code == 404:
            created = await self._http.post(
                "/bots",
                json={
                    "username": username,
                    "first_name": name[:64] or username,
                    "token": token,
                    "privacy_mode": not listener,
                },
            )
            if created.status_code >= 300:
                log.warning("sandbox refused a bot: %s", _error(created))
            return
        if listener and found.status_code == 200 and found.json().get("privacy_mode"):
            await self._http.patch(f"/bots/{telegram_id}", json={"privacy_mode": False})

    async def ensure_chat(
        self,
        *,
        telegram_chat_id: int,
        title: str,
        members: list[int],
        listener: int | None,
    ) -> int | None:
        """The chat exists with these bots in it; its new id if it had to be created."""
        found = await self._http.get(f"/chats/{telegram_chat_id}", params={"limit": 0})
        if found.status_code == 200:
            present = _present(found.json())
            for member in members:
                status = "administrator" if member == listener else "member"
                if present.get(member) in (None, "left") or (
                    member == listener and present.get(member) == "member"
                ):
                    await self._http.post(
                        f"/chats/{telegram_chat_id}/members",
                        json={"user": member, "status": status},
                    )
            return None
        body: dict[str, Any] = {
            "type": "supergroup",
            "title": title[:128] or "piyasa",
            "members": [m for m in members if m != listener],
            "admins": [listener] if listener is not None else [],
        }
        created = await self._http.post("/chats", json={**body, "id": telegram_chat_id})
        if created.status_code == 400:  # a sandbox that numbers chats itself
            created = await self._http.post("/chats", json=body)
        if created.status_code >= 300:
            log.warning("sandbox refused a chat: %s", _error(created))
            return None
        new_id = int(created.json()["chat"]["id"])
        return None if new_id == telegram_chat_id else new_id


def _present(view: dict[str, Any]) -> dict[int, str]:
    members = view.get("members") or []
    out: dict[int, str] = {}
    for member in members:
        if isinstance(member.get("id"), int):
            out[member["id"]] = str(member.get("status", ""))
    return out


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.status_code))
    except ValueError:
        return str(response.status_code)


def sandbox_username(name: str, bot_id: str) -> str:
    """A readable, unique @username for a sandbox bot its operator gave none:
    `kemal_bey_522f_bot` (Telegram's rule: 5-32 of a-z, 0-9 and _, ending in "bot")."""
    folded = unicodedata.normalize("NFKD", name.casefold().replace("\u0131", "i"))
    slug = re.sub(r"[^a-z0-9]+", "_", folded.encode("ascii", "ignore").decode()).strip("_")
    return f"{slug[:20] or 'piyasa'}_{bot_id[:4]}_bot"
