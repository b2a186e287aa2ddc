"""What a running sandbox holds: the world, its limits, injected faults and webhook deliveries."""

from __future__ import annotations

import time
from collections.abc import Callable

from .faults import FaultInjector
from .limits import FloodLimits
from .records import WorldSnapshot
from .settings import SandboxSettings
from .webhooks import WebhookDeliveries
from .world import World

__all__ = ["Sandbox"]


class Sandbox:
    """The parts the Bot API, the admin API and the page share (one per app)."""

    def __init__(
        self,
        settings: SandboxSettings,
        snapshot: WorldSnapshot | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.world = World(settings, snapshot, clock)
        self.limits = FloodLimits(settings.limits.model_copy())
        self.faults = FaultInjector()
        self.webhooks = WebhookDeliveries(settings, clock)

    def start(self) -> None:
        """Resume webhook deliveries of bots that had a webhook (after loading a snapshot)."""
        for mailbox in self.world.mailboxes.values():
            self.webhooks.ensure(mailbox)

    def reset(self) -> None:
        for bot_id in list(self.world.mailboxes):
            self.webhooks.cancel(bot_id)
        self.world.reset()
        self.limits.reset()
        self.faults.clear()

    def drain(self) -> None:
        """Let open requests finish now: page streams end, parked long polls answer."""
        self.world.events.close()
        for mailbox in self.world.mailboxes.values():
            mailbox.close()

    async def stop(self) -> None:
        self.drain()
        await self.webhooks.stop()
