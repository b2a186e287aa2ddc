"""The webhook endpoint: `POST /telegram/webhook/<bot id>` on the service's HTTP port.

Telegram retries every non-2xx answer for up to a day, so the answers are:

| request                                             | answer | and                  |
|-----------------------------------------------------|--------|----------------------|
| `X-Telegram-Bot-Api-Secret-Token` missing or wrong  | 401    | nothing else         |
| body is not an Update (not JSON, no integer `update_id`) | 400 | nothing else      |
| an Update, processed (or a duplicate, or ignored)   | 200    | events               |
| an Update that cannot be processed                  | 200    | a dead letter        |
| an Update, and even the dead letter failed          | 500    | Telegram retries     |

Each bot's secret is derived from one configured secret and the bot's id
(HMAC-SHA256), so every replica checks it without storing anything.
Unknown fields and update kinds are accepted (Telegram adds them over time).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from piyasa_dispatcher import metrics
from piyasa_dispatcher.ingest import Ingest, Unprocessable, update_id_of
from piyasa_dispatcher.telegram import UpdateHead

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
PATH = "/telegram/webhook/{bot_id}"
_BOT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def webhook_secret(base: str, bot_id: str) -> str:
    """The bot's secret_token: 64 hex characters (Telegram allows A-Z a-z 0-9 _ -)."""
    return hmac.new(base.encode(), f"webhook:{bot_id}".encode(), hashlib.sha256).hexdigest()


def webhook_url(base_url: str, bot_id: str) -> str:
    return base_url.rstrip("/") + PATH.format(bot_id=bot_id)


class WebhookEndpoint:
    def __init__(self, ingest: Ingest, secret: str) -> None:
        self._ingest = ingest
        self._secret = secret

    def route(self) -> Route:
        return Route(PATH, self.handle, methods=["POST"])

    async def handle(self, request: Request) -> Response:
        bot_id = request.path_params["bot_id"]
        given = request.headers.get(SECRET_HEADER, "")
        if not _BOT_ID.match(bot_id) or not hmac.compare_digest(
            given.encode(), webhook_secret(self._secret, bot_id).encode()
        ):
            metrics.UPDATES.labels("webhook", "unauthorized").inc()
            return JSONResponse({"ok": False, "error": "wrong secret token"}, status_code=401)
        body = await request.body()
        try:
            raw = json.loads(body)
            UpdateHead.model_validate(raw)
        except (ValueError, ValidationError):
            metrics.UPDATES.labels("webhook", "not_an_update").inc()
            return JSONResponse({"ok": False, "error": "not an Update"}, status_code=400)
        update_id = update_id_of(raw)
        try:
            await self._ingest.handle(bot_id, raw, "webhook")
        except Unprocessable as exc:
            return await self._park(bot_id, body, "unprocessable", str(exc), update_id)
        except Exception as exc:
            log.exception("webhook update failed", extra={"bot_id": bot_id})
            return await self._park(bot_id, body, "failed", repr(exc), update_id)
        return JSONResponse({"ok": True})

    async def _park(
        self, bot_id: str, body: bytes, reason: str, error: str, update_id: int | None
    ) -> Response:
        metrics.UPDATES.labels("webhook", "deadletter").inc()
        try:
            await self._ingest.dead_letter(bot_id, body, reason, error, update_id)
        except Exception:
            log.exception("could not dead-letter an update; Telegram will retry it")
            return JSONResponse({"ok": False}, status_code=500)
        return JSONResponse({"ok": True, "dead_lettered": True})
