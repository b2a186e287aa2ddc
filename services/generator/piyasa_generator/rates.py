"""GCRA rate limiters and a provider's budget state, as stored in KV (pure, no I/O).

A limiter keeps one timestamp, the theoretical arrival time (TAT). A call of cost c
is admitted when max(TAT, now) + c*T - now <= capacity*T, where T is the time per
unit; else it must wait the difference. T and capacity come from the provider's
headers when it sends them (T = reset / (limit - remaining), which holds for
OpenAI's per-minute and Groq's per-day request windows alike), else from settings.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Rate:
    """One GCRA limiter; `interval` None means no known limit."""

    tat: float = 0.0
    interval: float | None = None
    capacity: float = 1.0
    learned: bool = False
    """True once the provider's headers set it; settings no longer apply."""

    def wait_for(self, cost: float, now: float) -> float:
        if self.interval is None:
            return 0.0
        cost = min(cost, self.capacity)  # one call larger than the bucket waits for an empty one
        after = max(self.tat, now) + cost * self.interval
        return max(0.0, after - now - self.capacity * self.interval)

    def take(self, cost: float, now: float) -> None:
        if self.interval is not None:
            self.tat = max(self.tat, now) + min(cost, self.capacity) * self.interval

    def adjust(self, delta: float) -> None:
        if self.interval is not None:
            self.tat += delta * self.interval

    def observe(
        self, limit: int | None, remaining: int | None, reset_s: float | None, now: float
    ) -> None:
        """Adopt what the provider reported: limit, remaining units and time to full reset."""
        if limit is None or limit <= 0 or remaining is None or reset_s is None:
            return
        used = limit - remaining
        if used > 0 and reset_s > 0:
            self.interval = reset_s / used
        elif self.interval is None:
            return  # nothing used yet and no pace known: nothing to learn
        self.capacity = float(limit)
        self.learned = True
        # Our own calls still in flight are in our TAT but not yet in theirs: keep the later.
        self.tat = max(self.tat, now + reset_s)

    def configure(self, per_minute: int | None) -> None:
        if self.learned or not per_minute:
            return
        self.interval, self.capacity = 60.0 / per_minute, float(per_minute)


@dataclass
class ProviderState:
    requests: Rate = field(default_factory=Rate)
    tokens: Rate = field(default_factory=Rate)
    cooldown_until: float = 0.0
    day: str = ""
    cost_usd: float = 0.0
    calls: int = 0

    @classmethod
    def load(cls, raw: bytes | None) -> ProviderState:
        if not raw:
            return cls()
        data: dict[str, Any] = json.loads(raw)
        return cls(
            requests=_rate(data.get("requests")),
            tokens=_rate(data.get("tokens")),
            cooldown_until=float(data.get("cooldown_until", 0.0)),
            day=str(data.get("day", "")),
            cost_usd=float(data.get("cost_usd", 0.0)),
            calls=int(data.get("calls", 0)),
        )

    def dump(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    def roll(self, day: str) -> None:
        if self.day != day:
            self.day, self.cost_usd, self.calls = day, 0.0, 0


def _rate(data: Any) -> Rate:
    if not isinstance(data, dict):
        return Rate()
    known = {k: data[k] for k in ("tat", "interval", "capacity", "learned") if k in data}
    return Rate(**known)


def jittered(delay_s: float, rng_value: float) -> float:
    """A wait plus up to 25% (and 50 ms) on top, so naks do not come back together."""
    return delay_s + rng_value * (0.25 * delay_s + 0.05)


def backoff(attempt: int, base_s: float, cap_s: float, rng_value: float) -> float:
    """Full-jitter exponential backoff for the `attempt`-th failure (1-based)."""
    return rng_value * min(cap_s, base_s * math.pow(2, max(0, attempt - 1)))
