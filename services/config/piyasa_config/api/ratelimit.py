"""Per-key rate limits: a moving window per API key (or login) on write routes.

`limits` rather than aiolimiter: an HTTP limit must refuse at once (429 with
Retry-After) instead of queueing the caller, and `limits`' in-memory store
keeps one small window per key and expires idle keys by itself. The limit is
per replica: N replicas allow N times the rate, which is the point of a
limit that protects each replica.
"""

from __future__ import annotations

import math

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from piyasa_config.errors import RateLimited


class RateLimits:
    def __init__(self, *, writes_per_minute: int, logins_per_minute: int) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._writes = RateLimitItemPerMinute(writes_per_minute)
        self._logins = RateLimitItemPerMinute(logins_per_minute)

    async def write(self, credential_id: str) -> None:
        if not await self._limiter.hit(self._writes, "write", credential_id):
            raise RateLimited("too many writes for this key; slow down", await self._retry())

    async def login(self, username: str) -> None:
        if not await self._limiter.hit(self._logins, "login", username.casefold()):
            raise RateLimited("too many login attempts; wait a minute", 60)

    async def _retry(self) -> int:
        return max(1, math.ceil(self._writes.get_expiry() / max(self._writes.amount, 1)))
