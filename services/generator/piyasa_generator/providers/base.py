"""The one small interface every provider implements, and what a call returns."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Protocol

from piyasa_contracts.events.work import GenerationRequested, RegenerationRequested
from piyasa_generator.prompt import Prompt


@dataclass(frozen=True, slots=True)
class Job:
    """One generation: the prompt for LLMs, and the structured request for the offline writer."""

    request: GenerationRequested
    prompt: Prompt
    regeneration: RegenerationRequested | None = None
    seed: int = 0
    max_tokens: int = 256
    temperature: float = 0.9
    model: str | None = None
    """The request's own model choice (`llm_model`), for the provider it named."""

    @property
    def attempt(self) -> int:
        return self.regeneration.attempt if self.regeneration is not None else 0


@dataclass(frozen=True, slots=True)
class RateLimits:
    """What a provider's `x-ratelimit-*` headers said, at one moment.

    OpenAI counts requests and tokens per minute; Groq counts requests per *day*
    and tokens per minute. Both say how many remain and how long until the limit
    is back to full (`reset`), which is all the budget needs: the time per unit is
    reset / (limit - remaining), whatever the window.
    """

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None

    @property
    def empty(self) -> bool:
        return self.limit_requests is None and self.limit_tokens is None


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    limits: RateLimits = field(default_factory=RateLimits)


class Provider(Protocol):
    """An LLM behind one call. Implementations turn their SDK's errors into `ProviderError`s
    and make no retries of their own: the router decides."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def key_id(self) -> str:
        """Identifies the API key and endpoint whose quota this provider draws from
        (a hash, never the key); the shared budget is kept under it."""
        ...

    @property
    def priced(self) -> bool:
        """False for providers that cost nothing per call (offline, a local server)."""
        ...

    @property
    def governed(self) -> bool:
        """True when calls draw from a shared budget (rates, cool-downs); the offline
        writer is not."""
        ...

    async def complete(self, job: Job) -> Completion: ...

    async def aclose(self) -> None: ...


def key_id(*parts: str | None) -> str:
    """A short stable id for an API key and endpoint; safe in KV keys and logs."""
    digest = hashlib.blake2b("\x1f".join(p or "" for p in parts).encode(), digest_size=8)
    return digest.hexdigest()


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: str | None) -> float | None:
    """`1s`, `12ms`, `6m0s`, `2m59.56s`, `1h2m3s`, or plain seconds (`1.5`) -> seconds."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def parse_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def limits_from_headers(headers: object) -> RateLimits:
    """OpenAI's and Groq's `x-ratelimit-*` headers (any mapping with `.get`)."""
    get = getattr(headers, "get", None)
    if get is None:
        return RateLimits()
    return RateLimits(
        limit_requests=parse_int(get("x-ratelimit-limit-requests")),
        remaining_requests=parse_int(get("x-ratelimit-remaining-requests")),
        reset_requests_s=parse_duration(get("x-ratelimit-reset-requests")),
        limit_tokens=parse_int(get("x-ratelimit-limit-tokens")),
        remaining_tokens=parse_int(get("x-ratelimit-remaining-tokens")),
        reset_tokens_s=parse_duration(get("x-ratelimit-reset-tokens")),
    )


def retry_after(headers: object) -> float | None:
    """`Retry-After` in seconds (HTTP dates are not sent by these providers)."""
    get = getattr(headers, "get", None)
    return parse_duration(get("retry-after")) if get is not None else None
