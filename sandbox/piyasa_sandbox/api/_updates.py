"""getUpdates, setWebhook, deleteWebhook and getWebhookInfo."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from .. import errors
from ..models import WebhookInfo, dump
from ..records import WebhookRecord
from ..updates import normalize_allowed
from ._call import Answer, Call, Handler

__all__ = ["UPDATE_METHODS"]

_SECRET_CHARS: Final = re.compile(r"^[A-Za-z0-9_-]*$")
_MAX_SECRET: Final = 256


def _allowed_updates(call: Call) -> None:
    """`allowed_updates`, when given, replaces the bot's setting (omitted: it stays)."""
    if call.params.has("allowed_updates"):
        names = call.params.string_list("allowed_updates")
        if names is not None:
            call.bot.allowed_updates = normalize_allowed(names)


async def get_updates(call: Call) -> Answer:
    if call.bot.webhook is not None:
        raise errors.conflict(errors.CONFLICT_WEBHOOK_ACTIVE)
    _allowed_updates(call)
    params = call.params
    offset = params.integer("offset")
    limit = params.clamped("limit", 100, 1, 100)
    timeout = params.clamped("timeout", 0, 0, call.sandbox.settings.max_poll_timeout_s)
    mailbox = call.world.mailboxes[call.bot.user_id]
    return Answer(await mailbox.poll(offset, limit, timeout))


def _check_secret(secret: str) -> None:
    if len(secret) > _MAX_SECRET:
        raise errors.bad_request(errors.SECRET_TOO_LONG)
    if not _SECRET_CHARS.match(secret):
        raise errors.bad_request(errors.SECRET_BAD_CHARS)


def _check_url(url: str) -> None:
    # Telegram wants HTTPS on ports 443, 80, 88 or 8443; the sandbox takes any http(s) URL.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.bad_request("bad webhook: An HTTPS URL must be provided for webhook")


async def set_webhook(call: Call) -> Answer:
    params = call.params
    url = params.text("url").strip()
    secret = params.optional_text("secret_token") or None
    if secret is not None:
        _check_secret(secret)
    if not url:
        return _delete(call, drop=params.boolean("drop_pending_updates"))
    _check_url(url)
    max_connections = params.clamped("max_connections", 40, 1, 100)
    current = call.bot.webhook
    allowed_before = call.bot.allowed_updates
    _allowed_updates(call)
    if (
        current is not None
        and current.url == url
        and current.secret_token == secret
        and current.max_connections == max_connections
        and call.bot.allowed_updates == allowed_before
        and not params.boolean("drop_pending_updates")
    ):
        return Answer(True, "Webhook is already set")
    try:
        call.sandbox.limits.check_set_webhook(call.bot.user_id)
    except errors.TelegramError:
        call.bot.allowed_updates = allowed_before
        raise
    mailbox = call.world.mailboxes[call.bot.user_id]
    mailbox.end_poll(errors.conflict(errors.CONFLICT_SET_WEBHOOK))
    call.bot.webhook = WebhookRecord(
        url=url,
        secret_token=secret,
        max_connections=max_connections,
        ip_address=params.optional_text("ip_address") or "127.0.0.1",
    )
    if params.boolean("drop_pending_updates"):
        mailbox.clear()
    call.sandbox.webhooks.ensure(mailbox)
    return Answer(True, "Webhook was set")


def _delete(call: Call, *, drop: bool) -> Answer:
    mailbox = call.world.mailboxes[call.bot.user_id]
    if drop:
        mailbox.clear()
    if call.bot.webhook is None:
        return Answer(True, "Webhook is already deleted")
    call.bot.webhook = None
    call.sandbox.webhooks.cancel(call.bot.user_id)
    return Answer(True, "Webhook was deleted")


async def delete_webhook(call: Call) -> Answer:
    return _delete(call, drop=call.params.boolean("drop_pending_updates"))


async def get_webhook_info(call: Call) -> Answer:
    webhook = call.bot.webhook
    pending = len(call.bot.pending)
    if webhook is None:
        return Answer(dump(WebhookInfo(url="", pending_update_count=pending)))
    info = WebhookInfo(
        url=webhook.url,
        pending_update_count=pending,
        ip_address=webhook.ip_address,
        last_error_date=webhook.last_error_date,
        last_error_message=webhook.last_error_message,
        max_connections=webhook.max_connections,
        allowed_updates=call.bot.allowed_updates,
    )
    return Answer(dump(info))


UPDATE_METHODS: dict[str, Handler] = {
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
}
