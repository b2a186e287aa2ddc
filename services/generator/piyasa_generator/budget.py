"""Request, token and cost budgets shared by every generator replica through KV.

A provider's quota belongs to its API key, not to a replica, so the state lives
in the `budgets` bucket under `provider.<name>.<key id>` and every replica
changes it with compare-and-set on the entry's revision (a lost race re-reads
and tries again). Per bot, `bot.<bot id>` holds the day's spend.

Rates are GCRA limiters (`rates.Rate`) paced by the provider's own headers when
it sends them (`x-ratelimit-*`), else by settings (`llm_rpm`, `llm_tpm`), else not
at all until the provider says so with a 429. A 429's wait (Retry-After, Gemini's
RetryInfo) becomes a cool-down that every replica honours.

Nothing here sleeps: `acquire` answers go, wait(delay) or refused, and the
caller naks its message with that delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from piyasa_common.clock import Clock
from piyasa_contracts import Bucket, Topology
from piyasa_generator.providers.base import RateLimits
from piyasa_generator.rates import ProviderState

log = logging.getLogger(__name__)

_CAS_ATTEMPTS = 25


@dataclass(frozen=True, slots=True)
class Decision:
    kind: Literal["go", "wait", "refused"]
    delay_s: float = 0.0
    reason: str = ""
    """requests | tokens | cooldown for a wait; provider_budget | bot_budget when refused."""
    until_s: float = 0.0
    """For a refusal: seconds until it lifts (the next UTC midnight)."""
    tokens: int = 0

    @property
    def go(self) -> bool:
        return self.kind == "go"


GO = Decision("go")


@dataclass(frozen=True, slots=True)
class Limits:
    """The budgets one call is under: its provider's, and its bot's."""

    rpm: int | None = None
    tpm: int | None = None
    daily_usd: float = 0.0
    """The provider's daily cost budget; 0 turns it off."""
    bot_daily_usd: float = 0.0
    """The bot's daily cost budget across priced providers; 0 turns it off."""


class SharedBudgets:
    def __init__(self, kv: KeyValue, clock: Clock) -> None:
        self._kv = kv
        self._clock = clock
        # Per provider key only (a handful): bot keys are many and rarely contended.
        self._locks: dict[str, asyncio.Lock] = {}
        self._cache: dict[str, tuple[bytes | None, int]] = {}
        """Last value and revision seen per key: a first CAS needs no read."""

    @classmethod
    async def open(cls, js: JetStreamContext, topology: Topology, clock: Clock) -> SharedBudgets:
        kv = await js.key_value(topology.bucket(Bucket.BUDGETS))
        return cls(kv, clock)

    # ------------------------------------------------------------------ API

    async def acquire(
        self,
        provider: str,
        key_id: str,
        limits: Limits,
        *,
        tokens: int,
        bot_id: str | None,
        priced: bool,
    ) -> Decision:
        """Take one call's share of the budget now, or say why not and for how long."""
        now, day, until_midnight = self._now()
        if priced and bot_id and limits.bot_daily_usd > 0:
            spent = await self.bot_spent(bot_id, day)
            if spent >= limits.bot_daily_usd:
                return Decision("refused", reason="bot_budget", until_s=until_midnight)

        def change(state: ProviderState) -> Decision:
            state.roll(day)
            if limits.daily_usd > 0 and state.cost_usd >= limits.daily_usd:
                return Decision("refused", reason="provider_budget", until_s=until_midnight)
            if state.cooldown_until > now:
                return Decision("wait", state.cooldown_until - now, "cooldown")
            state.requests.configure(limits.rpm)
            state.tokens.configure(limits.tpm)
            waits = (
                (state.requests.wait_for(1, now), "requests"),
                (state.tokens.wait_for(tokens, now), "tokens"),
            )
            delay, reason = max(waits)
            if delay > 0:
                return Decision("wait", delay, reason)
            state.requests.take(1, now)
            state.tokens.take(tokens, now)
            return Decision("go", tokens=tokens)

        decision: Decision = await self._change(_provider_key(provider, key_id), change)
        return decision

    async def settle(
        self,
        provider: str,
        key_id: str,
        *,
        reserved_tokens: int,
        used_tokens: int | None,
        cost_usd: float,
        limits: RateLimits | None,
        cooldown_s: float | None,
        bot_id: str | None,
    ) -> None:
        """Record what a call really took, what the provider reported, and what it cost."""
        now, day, _ = self._now()

        def change(state: ProviderState) -> None:
            state.roll(day)
            if used_tokens is not None:
                state.tokens.adjust(used_tokens - reserved_tokens)
            if limits is not None and not limits.empty:
                state.requests.observe(
                    limits.limit_requests, limits.remaining_requests, limits.reset_requests_s, now
                )
                state.tokens.observe(
                    limits.limit_tokens, limits.remaining_tokens, limits.reset_tokens_s, now
                )
            if cooldown_s is not None and cooldown_s > 0:
                state.cooldown_until = max(state.cooldown_until, now + cooldown_s)
            state.cost_usd += cost_usd
            state.calls += 1

        await self._change(_provider_key(provider, key_id), change)
        if bot_id and cost_usd > 0:
            await self._add_bot_cost(bot_id, day, cost_usd)

    async def provider_state(self, provider: str, key_id: str) -> ProviderState:
        raw, _ = await self._read(_provider_key(provider, key_id))
        return ProviderState.load(raw)

    async def bot_spent(self, bot_id: str, day: str | None = None) -> float:
        raw, _ = await self._read(f"bot.{bot_id}")
        data = json.loads(raw) if raw else {}
        return (
            float(data.get("cost_usd", 0.0)) if data.get("day") == (day or self._now()[1]) else 0.0
        )

    # ------------------------------------------------------------------ internals

    def _now(self) -> tuple[float, str, float]:
        wall: datetime = self._clock.now()
        midnight = (wall + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return wall.timestamp(), wall.date().isoformat(), (midnight - wall).total_seconds()

    async def _add_bot_cost(self, bot_id: str, day: str, cost: float) -> None:
        def change(data: dict[str, Any]) -> None:
            if data.get("day") != day:
                data.clear()
                data["day"] = day
            data["cost_usd"] = float(data.get("cost_usd", 0.0)) + cost

        async def apply(raw: bytes | None) -> tuple[bytes, None]:
            data: dict[str, Any] = json.loads(raw) if raw else {}
            change(data)
            return json.dumps(data, separators=(",", ":")).encode(), None

        await self._cas(f"bot.{bot_id}", apply)

    async def _change(self, key: str, change: Any) -> Any:
        async def apply(raw: bytes | None) -> tuple[bytes | None, Any]:
            state = ProviderState.load(raw)
            result = change(state)
            if isinstance(result, Decision) and not result.go:
                return None, result  # a wait or a refusal changes nothing
            return state.dump(), result

        return await self._cas(key, apply)

    async def _cas(self, key: str, apply: Any) -> Any:
        """Apply a change with compare-and-set; a decision to write nothing is taken on a
        fresh read, so a stale cached entry never makes a replica wait for nothing."""
        hot = _is_provider_key(key)
        lock = self._locks.setdefault(key, asyncio.Lock()) if hot else contextlib.nullcontext()
        async with lock:  # replicas race through CAS; tasks of one replica queue here
            cached = self._cache.get(key)
            fresh = cached is None
            raw, revision = cached if cached is not None else await self._read(key)
            for _ in range(_CAS_ATTEMPTS):
                value, result = await apply(raw)
                if value is None:
                    if fresh:
                        return result
                    raw, revision = await self._read(key)
                    fresh = True
                    continue
                try:
                    if revision == 0:
                        revision = await self._kv.create(key, value)
                    else:
                        revision = await self._kv.update(key, value, last=revision)
                except KeyWrongLastSequenceError:
                    raw, revision = await self._read(key)
                    fresh = True
                    continue
                if hot:
                    self._cache[key] = (value, revision)
                return result
            raise RuntimeError(f"budget {key}: too many concurrent updates")

    async def _read(self, key: str) -> tuple[bytes | None, int]:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            self._cache.pop(key, None)
            return None, 0
        raw = entry.value
        revision = int(entry.revision or 0)
        if _is_provider_key(key):
            self._cache[key] = (raw, revision)
        return raw, revision


def _provider_key(provider: str, key_id: str) -> str:
    return f"provider.{provider}.{key_id}"


def _is_provider_key(key: str) -> bool:
    return key.startswith("provider.")
