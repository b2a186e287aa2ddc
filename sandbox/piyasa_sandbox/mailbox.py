"""One bot's pending updates, handed out by getUpdates or by its webhook.

Update ids increase per bot. An update is confirmed by a getUpdates whose
offset is above its id. One long poll per bot: a newer getUpdates ends the
older, parked one with 409, and so does setWebhook.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from . import errors
from .records import BotRecord, PendingUpdate

__all__ = ["Mailbox"]


class Mailbox:
    """The queue of `bot`'s updates, bounded to `max_pending` (the oldest are dropped)."""

    def __init__(self, bot: BotRecord, max_pending: int) -> None:
        self.bot = bot
        self._max_pending = max_pending
        self._parked: asyncio.Future[errors.TelegramError | None] | None = None
        self._arrived = asyncio.Event()
        self._closed = False
        if bot.pending:
            self._arrived.set()

    @property
    def polling(self) -> bool:
        """Whether a getUpdates long poll is parked here now."""
        return self._parked is not None and not self._parked.done()

    @property
    def pending(self) -> list[PendingUpdate]:
        return self.bot.pending

    def push(self, kind: str, build: Callable[[int], dict[str, Any]]) -> PendingUpdate:
        """Queue an update of `kind`; `build(update_id)` makes its JSON object."""
        update_id = self.bot.next_update_id
        self.bot.next_update_id += 1
        update = PendingUpdate(update_id=update_id, kind=kind, payload=build(update_id))
        self.bot.pending.append(update)
        if len(self.bot.pending) > self._max_pending:
            del self.bot.pending[: len(self.bot.pending) - self._max_pending]
        self._arrived.set()
        self._resolve_parked(None)
        return update

    def confirm(self, offset: int) -> None:
        """Forget what `offset` confirms (a negative one keeps only the last -offset)."""
        if offset < 0:
            del self.bot.pending[: max(0, len(self.bot.pending) + offset)]
        elif offset > 0:
            self.bot.pending[:] = [u for u in self.bot.pending if u.update_id >= offset]

    def remove(self, update: PendingUpdate) -> None:
        with contextlib.suppress(ValueError):
            self.bot.pending.remove(update)

    def clear(self) -> None:
        self.bot.pending.clear()

    def end_poll(self, error: errors.TelegramError) -> None:
        """Answer the parked getUpdates, if any, with `error`."""
        self._resolve_parked(error)

    def close(self) -> None:
        """Server stop: a parked getUpdates answers what it has (nothing) at once."""
        self._closed = True
        self._resolve_parked(None)

    async def wait_for_update(self) -> None:
        """Return once there is a pending update (at once if there is one)."""
        while not self.bot.pending:
            self._arrived.clear()
            await self._arrived.wait()

    async def poll(self, offset: int, limit: int, timeout: float) -> list[dict[str, Any]]:
        """getUpdates: confirm by `offset`, then up to `limit` updates, waiting up to `timeout`."""
        self._resolve_parked(errors.conflict(errors.CONFLICT_POLL))
        self.confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready = self.bot.pending[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closed:
                return [u.payload for u in ready]
            parked: asyncio.Future[errors.TelegramError | None] = loop.create_future()
            self._parked = parked
            try:
                outcome = await asyncio.wait_for(asyncio.shield(parked), remaining)
            except TimeoutError:
                outcome = None
            finally:
                if self._parked is parked:
                    self._parked = None
            if outcome is not None:
                raise outcome

    def _resolve_parked(self, outcome: errors.TelegramError | None) -> None:
        parked = self._parked
        if parked is not None and not parked.done():
            parked.set_result(outcome)
        if outcome is not None:
            self._parked = None
