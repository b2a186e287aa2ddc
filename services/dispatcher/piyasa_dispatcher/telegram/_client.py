"""The Bot API client: one httpx connection pool, one method per call the fleet makes.

    api = BotApi("http://127.0.0.1:8081")          # the sandbox; the real API only when asked
    message = await api.send_message(token, chat_id, "merhaba", reply=ReplyParameters(...))

Every answer goes through `call`, which maps it in one place: a 2xx with
`ok: true` returns `result`; anything else raises `TelegramApiError` with
Telegram's own description and parameters; no answer raises
`TelegramNetworkError`, telling whether the request may have reached
Telegram. Nothing is retried here: what to do about an error is the
dispatcher's error table's business, and rate limits are the limiter's.

The token is part of every URL, so the URL never reaches a log line, a span
or an exception message; httpx's own request log is silenced.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
from opentelemetry import trace

from piyasa_dispatcher import metrics
from piyasa_dispatcher.telegram._errors import TelegramApiError, TelegramNetworkError
from piyasa_dispatcher.telegram._transport import AsyncioTransport
from piyasa_dispatcher.telegram._types import (
    ALLOWED_UPDATES,
    ChatMember,
    MessageEntity,
    ReplyParameters,
    SentMessage,
    User,
    dump,
)

# httpx logs every request URL at INFO, and Bot API URLs contain the token.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

_tracer = trace.get_tracer("piyasa.telegram")

_JSON = {"content-type": "application/json"}

_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
)
"""Failures before the request left: trying again cannot post twice."""


class BotApi:
    """Calls the Bot API at `base_url` (`<base_url>/bot<token>/<method>`)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        self._timeouts: dict[float, dict[str, float | None]] = {}
        self._urls: dict[tuple[str, str], httpx.URL] = {}
        # Requests go to the transport directly: the client layer (cookies, auth, redirects,
        # URL merging) costs more than the call, and Telegram needs none of it.
        self._transport = transport or AsyncioTransport(
            max_connections=max_connections,
            ssl_context=httpx.create_ssl_context(),
        )

    @property
    def base_url(self) -> str:
        return self._base

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def call(
        self, token: str, method: str, params: dict[str, Any], *, timeout_s: float | None = None
    ) -> Any:
        """One Bot API call; returns `result` or raises a `TelegramError`."""
        request = httpx.Request(
            "POST",
            self._url(token, method),
            content=json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode(),
            headers=_JSON,
            extensions={"timeout": self._timeout_for(timeout_s)},
        )
        started = time.perf_counter()
        # A child span only under a recorded parent: an unsampled trace records nothing,
        # and opening a span per call would cost more than the call's own bookkeeping.
        if trace.get_current_span().is_recording():
            with _tracer.start_as_current_span(f"telegram {method}") as span:
                span.set_attribute("telegram.method", method)
                try:
                    result = await self._exchange(method, request, started)
                except TelegramApiError as exc:
                    span.set_attribute("telegram.outcome", str(exc.error_code))
                    raise
                except TelegramNetworkError:
                    span.set_attribute("telegram.outcome", "network")
                    raise
                span.set_attribute("telegram.outcome", "ok")
                return result
        return await self._exchange(method, request, started)

    async def _exchange(self, method: str, request: httpx.Request, started: float) -> Any:
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            # `from None`: httpx's exception holds the request, and the request the URL.
            sent = not isinstance(exc, _NOT_SENT)
            metrics.telegram_call(method, "network", time.perf_counter() - started)
            raise TelegramNetworkError(method, type(exc).__name__, sent=sent) from None
        status = response.status_code
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if 200 <= status < 300 and isinstance(body, dict) and body.get("ok") is True:
            metrics.telegram_call(method, "ok", time.perf_counter() - started)
            return body.get("result")
        error = TelegramApiError.from_answer(method, status, body)
        metrics.telegram_call(method, str(error.error_code), time.perf_counter() - started)
        raise error

    def _url(self, token: str, method: str) -> httpx.URL:
        """Parsed once per bot and method: parsing a URL costs more than the rest of a call."""
        url = self._urls.get((token, method))
        if url is None:
            if len(self._urls) > 100_000:
                self._urls.clear()
            url = self._urls[(token, method)] = httpx.URL(f"{self._base}/bot{token}/{method}")
        return url

    def _timeout_for(self, seconds: float | None) -> dict[str, float | None]:
        total = self._timeout if seconds is None else seconds
        found = self._timeouts.get(total)
        if found is None:
            found = self._timeouts[total] = httpx.Timeout(total, connect=min(total, 5.0)).as_dict()
        return found

    # -- the methods the fleet uses -----------------------------------------------------

    async def get_me(self, token: str) -> User:
        return User.model_validate(await self.call(token, "getMe", {}))

    async def send_message(
        self,
        token: str,
        chat_id: int,
        text: str,
        *,
        reply: ReplyParameters | None = None,
        entities: Sequence[MessageEntity] = (),
    ) -> SentMessage:
        """The sent message, read only as far as the dispatcher needs (its ids)."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if reply is not None:
            params["reply_parameters"] = dump(reply)
        if entities:
            params["entities"] = [dump(e) for e in entities]
        return SentMessage.model_validate(await self.call(token, "sendMessage", params))

    async def send_chat_action(self, token: str, chat_id: int, action: str = "typing") -> None:
        await self.call(token, "sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_message_reaction(
        self, token: str, chat_id: int, message_id: int, emoji: str
    ) -> None:
        await self.call(
            token,
            "setMessageReaction",
            {
                "chat_id": chat_id,
                "message_id": message_id,
                "reaction": [{"type": "emoji", "emoji": emoji}],
            },
        )

    async def get_chat_member(self, token: str, chat_id: int, user_id: int) -> ChatMember:
        result = await self.call(token, "getChatMember", {"chat_id": chat_id, "user_id": user_id})
        return ChatMember.model_validate(result)

    async def get_updates(
        self,
        token: str,
        *,
        offset: int | None,
        timeout_s: int,
        limit: int = 100,
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    ) -> list[Any]:
        """Raw updates (each parsed by the caller, so one odd update cannot hide the rest)."""
        params: dict[str, Any] = {
            "timeout": timeout_s,
            "limit": limit,
            "allowed_updates": list(allowed_updates),
        }
        if offset is not None:
            params["offset"] = offset
        result = await self.call(token, "getUpdates", params, timeout_s=timeout_s + self._timeout)
        return list(result) if isinstance(result, list) else []

    async def set_webhook(
        self,
        token: str,
        url: str,
        *,
        secret_token: str,
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
        drop_pending_updates: bool = False,
    ) -> None:
        await self.call(
            token,
            "setWebhook",
            {
                "url": url,
                "secret_token": secret_token,
                "allowed_updates": list(allowed_updates),
                "drop_pending_updates": drop_pending_updates,
            },
        )

    async def delete_webhook(self, token: str, *, drop_pending_updates: bool = False) -> None:
        await self.call(token, "deleteWebhook", {"drop_pending_updates": drop_pending_updates})
