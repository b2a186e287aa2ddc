"""JetStream publishes awaited for their acks, over one reply subscription per connection.

`JetStreamContext.publish` is a core request, and nats-py's request path costs
more than the publish itself: random bytes from the OS for every reply token
(a syscall), and `asyncio.wait_for`, which wraps each wait in a second future
and a timer. Services publish one or more acked messages per event handled
(the dispatcher four per message it posts), so this module keeps the same wire
exchange (a publish with a reply subject under a subscribed inbox, answered
by the stream's ack or error) with a counter for tokens and one timer per wait.
Errors are nats-py's own: `nats.errors.TimeoutError` when no ack comes in
time, `NoStreamResponseError` when no stream holds the subject, `APIError`
when the stream refuses the write.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import weakref
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NoStreamResponseError

_NO_RESPONDERS = "503"


class JetStreamAcks:
    """Acked publishes on one connection; see the module's docstring."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix: str | None = None
        self._subscribing: asyncio.Lock | None = None
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count(1)

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        headers: dict[str, str] | None = None,
        timeout: float,
    ) -> api.PubAck:
        prefix = self._prefix or await self._subscribe()
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        self._waiting[token] = future
        try:
            await self._nc.publish(subject, payload, reply=prefix + token, headers=headers)
            timer = loop.call_later(timeout, _expire, future)
            try:
                msg = await future
            finally:
                timer.cancel()
        finally:
            self._waiting.pop(token, None)
        if msg.headers and msg.headers.get(api.Header.STATUS) == _NO_RESPONDERS:
            raise NoStreamResponseError
        answer: dict[str, Any] = json.loads(msg.data)
        if "error" in answer:
            raise APIError.from_error(answer["error"])
        return api.PubAck.from_response(answer)

    async def _subscribe(self) -> str:
        if self._subscribing is None:
            self._subscribing = asyncio.Lock()
        async with self._subscribing:
            if self._prefix is None:
                prefix = f"{self._nc.new_inbox()}."
                await self._nc.subscribe(f"{prefix}*", cb=self._on_ack)
                self._prefix = prefix
        return self._prefix

    async def _on_ack(self, msg: Msg) -> None:
        assert self._prefix is not None
        future = self._waiting.get(msg.subject[len(self._prefix) :])
        if future is not None and not future.done():
            future.set_result(msg)


def _expire(future: asyncio.Future[Msg]) -> None:
    if not future.done():
        future.set_exception(nats.errors.TimeoutError())


_BY_CONNECTION: weakref.WeakKeyDictionary[NATS, JetStreamAcks] = weakref.WeakKeyDictionary()


def acks_for(js: JetStreamContext) -> JetStreamAcks:
    """The connection's `JetStreamAcks` (one reply subscription per connection).

    nats-py's context keeps its connection as `_nc` and offers no public accessor."""
    nc: NATS = js._nc
    found = _BY_CONNECTION.get(nc)
    if found is None:
        found = _BY_CONNECTION[nc] = JetStreamAcks(nc)
    return found
