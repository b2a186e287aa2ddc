"""Uniqueness across aggregates (a Telegram chat id, a bot token) by KV `create`.

A reservation is a key in the `reservations` bucket whose value is the id of
the aggregate holding it. `create` succeeds for one writer only, so of two
concurrent creates of one chat id exactly one gets the key. A reservation
whose holder never got stored (a crash between reserving and publishing) or
was deleted since is taken over, so no key is lost for good.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from piyasa_config.errors import AlreadyExists, Unavailable
from piyasa_contracts import Bucket, Topology

IsLive = Callable[[str], Awaitable[bool]]


def chat_key(telegram_chat_id: int) -> str:
    return f"chat.{telegram_chat_id}"


def token_key(token: str) -> str:
    """The token's sha256: a bot token is high-entropy, so its hash reveals nothing usable."""
    return f"token.{hashlib.sha256(token.encode()).hexdigest()}"


class Reservations:
    def __init__(self, js: JetStreamContext, topology: Topology) -> None:
        self._js = js
        self._bucket = topology.bucket(Bucket.RESERVATIONS)
        self._kv: KeyValue | None = None

    async def reserve(self, key: str, owner: str, *, is_live: IsLive, field: str) -> None:
        """Hold `key` for `owner`, or raise AlreadyExists naming the live holder."""
        kv = await self._bucket_kv()
        try:
            await kv.create(key, owner.encode())
            return
        except KeyWrongLastSequenceError:
            pass
        except (APIError, nats.errors.Error) as exc:
            raise Unavailable(f"cannot reserve {field}: {exc!r}") from exc
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return await self.reserve(key, owner, is_live=is_live, field=field)
        holder = (entry.value or b"").decode()
        if holder == owner:
            return
        if await is_live(holder):
            raise AlreadyExists(f"{field} is taken by {holder}", field=field, holder=holder)
        try:
            await kv.update(key, owner.encode(), last=entry.revision)
        except KeyWrongLastSequenceError:
            raise AlreadyExists(f"{field} was just taken", field=field) from None

    async def release(self, key: str, owner: str) -> None:
        """Give `key` up if `owner` holds it; anything else is left alone."""
        kv = await self._bucket_kv()
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return
        if (entry.value or b"").decode() != owner:
            return
        try:
            await kv.delete(key, last=entry.revision)
        except KeyWrongLastSequenceError:
            return  # someone took it over meanwhile

    async def holder(self, key: str) -> str | None:
        kv = await self._bucket_kv()
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return None
        return (entry.value or b"").decode() or None

    async def _bucket_kv(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._js.key_value(self._bucket)
        return self._kv
