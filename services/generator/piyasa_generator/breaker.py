"""A circuit breaker per provider: stop calling a provider that keeps failing.

    closed --(N consecutive failures)--> open --(cool-down over)--> half-open
    half-open --(the one probe succeeds)--> closed;  --(it fails)--> open again

`force_open` opens it for a given time whatever the count: insufficient quota,
revoked keys, a daily cost budget spent (till midnight). The state is this
replica's: each replica learns a provider is down from its own calls, while the
provider-reported waits (429s) are shared through the budget in KV.
"""

from __future__ import annotations

import logging
from enum import IntEnum

from piyasa_common.clock import Clock
from piyasa_generator import metrics

log = logging.getLogger(__name__)


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class Breaker:
    def __init__(self, provider: str, *, failures: int, open_s: float, clock: Clock) -> None:
        self.provider = provider
        self._threshold = failures
        self._open_s = open_s
        self._clock = clock
        self._failures = 0
        self._state = BreakerState.CLOSED
        self._open_until = 0.0
        self._probing = False
        self.reason = ""
        self._gauge = metrics.BREAKER_STATE.labels(provider)
        self._gauge.set(0)

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock.monotonic() >= self._open_until:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def allows(self) -> bool:
        """May a call go now? In half-open, only one probe at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def retry_in(self) -> float:
        """Seconds until a call may be tried again (0 when it may now)."""
        if self.state is BreakerState.OPEN:
            return max(0.0, self._open_until - self._clock.monotonic())
        return 0.0 if not self._probing else min(1.0, self._open_s)

    def success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not BreakerState.CLOSED:
            log.info("breaker closed", extra={"provider": self.provider})
            self._set(BreakerState.CLOSED)

    def failure(self, reason: str) -> None:
        self._failures += 1
        probe_failed = self._probing
        self._probing = False
        if probe_failed or self._failures >= self._threshold:
            self.force_open(self._open_s, reason)

    def release(self) -> None:
        """A call was allowed but not made (budget said wait): let another probe go."""
        self._probing = False

    def force_open(self, seconds: float, reason: str) -> None:
        until = self._clock.monotonic() + seconds
        if self._state is BreakerState.OPEN and until <= self._open_until:
            return
        self._open_until = until
        self.reason = reason
        if self._state is not BreakerState.OPEN:
            log.warning(
                "breaker opened",
                extra={"provider": self.provider, "reason": reason, "open_s": round(seconds, 1)},
            )
        self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        self._state = state
        self._gauge.set(int(state))
