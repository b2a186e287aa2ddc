"""NATS connection with the lifecycle every service shares: connect, drain, close."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from piyasa_common.errors import BackboneError
from piyasa_common.logs import redact

log = logging.getLogger(__name__)


async def connect(url: str, name: str, *, connect_timeout_s: float = 5.0) -> NATS:
    """Connect with unlimited reconnects; the caller drains on shutdown."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def on_disconnected() -> None:
        log.warning("nats disconnected")

    async def on_reconnected() -> None:
        log.info("nats reconnected")

    try:
        return await nats.connect(
            url,
            name=name,
            connect_timeout=connect_timeout_s,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
            pending_size=64 * 1024 * 1024,
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
        )
    except Exception as exc:  # nats raises a variety of OSError/timeouts
        raise BackboneError(redact(f"cannot connect to NATS at {url}: {exc}")) from exc


def jetstream(nc: NATS, timeout_s: float = 5.0) -> JetStreamContext:
    # publish_async_max_pending bounds in-flight async publishes (and memory).
    return nc.jetstream(timeout=timeout_s, publish_async_max_pending=4000)
