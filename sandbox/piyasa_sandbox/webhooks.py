"""Webhook delivery: each bot's pending updates POSTed to its URL, one at a time, in order.

An update counts as delivered on any 2xx. Anything else (or a network error)
is recorded as the webhook's last error and retried with exponential backoff
from `webhook_retry_initial_s` up to `webhook_retry_max_s`; after
`webhook_max_attempts` the update is dropped (Telegram gives up after a day).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import httpx

from .mailbox import Mailbox
from .records import WebhookRecord
from .settings import SandboxSettings

__all__ = ["WebhookDeliveries"]

_log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


class WebhookDeliveries:
    """One delivery task per bot with a webhook; started and stopped as webhooks change."""

    def __init__(self, settings: SandboxSettings, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_s, follow_redirects=False, trust_env=False
            )
        return self._client

    def ensure(self, mailbox: Mailbox) -> None:
        """Run (or restart) the delivery task of `mailbox`'s bot if it has a webhook."""
        self.cancel(mailbox.bot.user_id)
        if mailbox.bot.webhook is None:
            return
        self._tasks[mailbox.bot.user_id] = asyncio.create_task(
            self._run(mailbox), name=f"sandbox-webhook-{mailbox.bot.user_id}"
        )

    def cancel(self, bot_id: int) -> None:
        task = self._tasks.pop(bot_id, None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self, mailbox: Mailbox) -> None:
        bot = mailbox.bot
        delay = self._settings.webhook_retry_initial_s
        while bot.webhook is not None:
            await mailbox.wait_for_update()
            webhook = bot.webhook
            if webhook is None or not mailbox.pending:
                continue
            update = mailbox.pending[0]
            error = await self._post(webhook, update.payload)
            if error is None:
                mailbox.remove(update)
                delay = self._settings.webhook_retry_initial_s
                continue
            _record_error(webhook, int(self._clock()), error)
            update.attempts += 1
            if update.attempts >= self._settings.webhook_max_attempts:
                _log.warning(
                    "webhook update dropped after %d attempts",
                    update.attempts,
                    extra={"bot_id": bot.user_id, "update_id": update.update_id},
                )
                mailbox.remove(update)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._settings.webhook_retry_max_s)

    async def _post(self, webhook: WebhookRecord, payload: dict[str, object]) -> str | None:
        """POST one update; None on a 2xx, else the error text getWebhookInfo shows."""
        headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        try:
            response = await self._http().post(webhook.url, json=payload, headers=headers)
        except httpx.TimeoutException:
            return "Timeout expired"
        except httpx.ConnectError:
            return "Connection refused"
        except httpx.HTTPError as exc:
            return f"Connection error: {type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"


def _record_error(webhook: WebhookRecord, date: int, message: str) -> None:
    webhook.last_error_date = date
    webhook.last_error_message = message
