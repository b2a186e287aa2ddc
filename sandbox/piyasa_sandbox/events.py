"""Live changes for the web page: a broadcast to bounded subscriber queues."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["Broadcaster"]

_CLOSED: dict[str, Any] = {"type": "closed"}


class Broadcaster:
    """Fan-out of small change notices; a subscriber that falls behind gets `resync`."""

    def __init__(self, queue_size: int = 1000, max_subscribers: int = 100) -> None:
        self._queue_size = queue_size
        self._max_subscribers = max_subscribers
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._closed = False

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                _drain(queue)
                queue.put_nowait({"type": "resync"})

    def close(self) -> None:
        """End every subscription (at server stop, so open streams finish)."""
        self._closed = True
        for queue in list(self._queues):
            _drain(queue)
            queue.put_nowait(_CLOSED)

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    async def subscribe(self, keepalive_s: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
        """Events as they come; None every `keepalive_s` without one. Ends at `close()`."""
        if self._closed or len(self._queues) >= self._max_subscribers:
            return
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), keepalive_s)
                except TimeoutError:
                    yield None
                    continue
                if event is _CLOSED:
                    return
                yield event
        finally:
            self._queues.discard(queue)


def _drain(queue: asyncio.Queue[dict[str, Any]]) -> None:
    with contextlib.suppress(asyncio.QueueEmpty):
        while True:
            queue.get_nowait()
