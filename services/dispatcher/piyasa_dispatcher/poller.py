"""Long polling: one `getUpdates` loop per listener bot, on the replica owning its partition.

Telegram lets one long poll per token live at a time (a newer one ends the
older with 409), so a poller first takes a poll lease of its own in the
leases bucket (`telegram-poll.<bot id>`, TTL'd, renewed while it polls, deleted
when it stops). The partition lease decides which replica should poll; the
poll lease makes the handover clean: the new owner starts only once the old
poller is gone (stopped, or dead and its lease expired), so no poller is ever
answered 409 by its successor.

The offset lives in the offsets bucket (`<bot id>`), written after each
batch's events are published: a crash in between fetches the batch again, and
its events are deduplicated. `allowed_updates` is always sent.

Waiting here (backoff, a 429's retry_after) holds no message: the poller owns
no JetStream message, only its place in the token's update queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from piyasa_common.secrets import SecretUnavailable
from piyasa_contracts import Bucket, Topology
from piyasa_dispatcher import metrics
from piyasa_dispatcher.ingest import Ingest, Unprocessable, body_of, update_id_of
from piyasa_dispatcher.telegram import BotApi, TelegramApiError, TelegramNetworkError
from piyasa_dispatcher.tokens import TokenBook

log = logging.getLogger(__name__)

_WEBHOOK_ACTIVE = "can't use getupdates method while webhook is active"


def poll_lease_key(bot_id: str) -> str:
    return f"telegram-poll.{bot_id}"


class Poller:
    def __init__(
        self,
        bot_id: str,
        *,
        js: JetStreamContext,
        topology: Topology,
        api: BotApi,
        tokens: TokenBook,
        ingest: Ingest,
        instance: str,
        lease_ttl_s: int,
        poll_timeout_s: int,
        backoff_s: float,
        on_unauthorized: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self.bot_id = bot_id
        self._js = js
        self._leases_bucket = topology.bucket(Bucket.LEASES)
        self._offsets_bucket = topology.bucket(Bucket.OFFSETS)
        self._api = api
        self._tokens = tokens
        self._ingest = ingest
        self._instance = instance
        self._ttl = lease_ttl_s
        self._poll_timeout = poll_timeout_s
        self._backoff = backoff_s
        self._on_unauthorized = on_unauthorized
        self._task: asyncio.Task[None] | None = None
        self._lease_rev: int | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"poll:{self.bot_id}")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._release()

    # -- the loop ------------------------------------------------------------------------
    async def _run(self) -> None:
        leases = await self._js.key_value(self._leases_bucket)
        offsets = await self._js.key_value(self._offsets_bucket)
        await self._take_lease(leases)
        renewer = asyncio.create_task(self._renew(), name=f"poll-lease:{self.bot_id}")
        metrics.POLLERS.inc()
        try:
            offset = await _load_offset(offsets, self.bot_id)
            delay = self._backoff
            while True:
                try:
                    token = await self._tokens.token(self.bot_id)
                except SecretUnavailable as exc:
                    log.warning("poller has no token: %s", exc, extra={"bot_id": self.bot_id})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                try:
                    raws = await self._api.get_updates(
                        token, offset=offset, timeout_s=self._poll_timeout
                    )
                except TelegramApiError as exc:
                    if await self._answer(exc, token):
                        return
                    await asyncio.sleep(exc.retry_after or delay)
                    delay = min(delay * 2, 30.0)
                    continue
                except TelegramNetworkError:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                delay = self._backoff
                if not raws:
                    continue
                try:
                    offset = await self._ingest_batch(raws, offset)
                    await offsets.put(self.bot_id, str(offset).encode())
                except Exception:
                    # NATS away: the batch is fetched again (its events are deduplicated).
                    log.warning("update batch failed; fetching it again", exc_info=True)
                    await asyncio.sleep(delay)
        finally:
            metrics.POLLERS.dec()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _answer(self, exc: TelegramApiError, token: str) -> bool:
        """React to an error answer; True when polling must stop for good."""
        if exc.error_code == 409:
            if _WEBHOOK_ACTIVE in exc.description.lower():
                await self._api.delete_webhook(token)
                return False
            metrics.POLL_CONFLICTS.inc()
            log.warning("getUpdates conflict: %s", exc.description, extra={"bot_id": self.bot_id})
            return False
        if exc.error_code in (401, 404):
            await self._on_unauthorized(self.bot_id, exc.description)
            return True
        log.warning("getUpdates failed: %s", exc, extra={"bot_id": self.bot_id})
        return False

    async def _ingest_batch(self, raws: list[object], offset: int | None) -> int | None:
        """Process a batch in order; the offset moves past what was handled or parked."""
        for raw in raws:
            update_id = update_id_of(raw)
            if update_id is None:
                continue
            try:
                await self._ingest.handle(self.bot_id, raw, "poll")
            except Unprocessable as exc:
                metrics.UPDATES.labels("poll", "deadletter").inc()
                await self._ingest.dead_letter(
                    self.bot_id, body_of(raw), "unprocessable", str(exc), update_id
                )
            offset = max(offset or 0, update_id + 1)
        return offset

    # -- the poll lease ------------------------------------------------------------------
    async def _take_lease(self, leases: KeyValue) -> None:
        key = poll_lease_key(self.bot_id)
        value = json.dumps({"owner": self._instance}).encode()
        wait = 0.1
        while True:
            try:
                self._lease_rev = await leases.create(key, value, msg_ttl=self._ttl)
                return
            except KeyWrongLastSequenceError:
                pass  # the previous poller still holds it (or its expiry marker lingers)
            await asyncio.sleep(wait)
            wait = min(wait * 2, 0.5)

    async def _renew(self) -> None:
        subject = f"$KV.{self._leases_bucket}.{poll_lease_key(self.bot_id)}"
        value = json.dumps({"owner": self._instance}).encode()
        while True:
            await asyncio.sleep(max(self._ttl / 3, 0.3))
            if self._lease_rev is None:
                return
            try:
                ack = await self._js.publish(
                    subject,
                    value,
                    msg_ttl=self._ttl,
                    headers={"Nats-Expected-Last-Subject-Sequence": str(self._lease_rev)},
                )
            except APIError:
                log.warning("poll lease lost", extra={"bot_id": self.bot_id})
                if self._task is not None:
                    self._task.cancel()
                return
            self._lease_rev = ack.seq

    async def _release(self) -> None:
        if self._lease_rev is None:
            return
        self._lease_rev = None
        with contextlib.suppress(Exception):
            leases = await self._js.key_value(self._leases_bucket)
            await leases.purge(poll_lease_key(self.bot_id))


async def _load_offset(offsets: KeyValue, bot_id: str) -> int | None:
    try:
        entry = await offsets.get(bot_id)
    except KeyNotFoundError:
        return None
    try:
        return int((entry.value or b"").decode())
    except ValueError:
        return None
