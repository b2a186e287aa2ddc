"""A NATS connection for one backup or restore: no reconnects, no password in any message."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client as NatsClient

from piyasa_cli.errors import NotRunning
from piyasa_cli.redact import redact_url, scrub


@contextlib.asynccontextmanager
async def nats_connection(url: str, name: str) -> AsyncIterator[NatsClient]:
    """Connected to `url`, closed afterwards. A dropped connection fails the command rather
    than resuming it: a snapshot or an upload cannot continue on a new connection."""

    async def quiet(exc: Exception) -> None:
        del exc

    try:
        # nats-py retries a failed first connect max_reconnect_attempts times (default 60,
        # two seconds apart) even without reconnects: fail within a few seconds instead.
        nc = await nats.connect(
            url,
            name=name,
            connect_timeout=5,
            allow_reconnect=False,
            max_reconnect_attempts=2,
            reconnect_time_wait=0.5,
            error_cb=quiet,
        )
    except Exception as exc:  # nats raises OSError, timeouts and NoServersError
        try:
            parts = urlsplit(url)
            # A user name alone is a token; beside a password it is no secret.
            secrets = (parts.password, parts.username if parts.password is None else None)
        except ValueError:
            secrets = (None, None)
        detail = scrub(str(exc), url, *secrets) or type(exc).__name__
        raise NotRunning(f"cannot connect to NATS at {redact_url(url)}: {detail}") from exc
    try:
        yield nc
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
