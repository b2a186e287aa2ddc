"""The generator's errors: what went wrong with a provider, and what the router concludes.

PiyasaError
 └── GeneratorError
      ├── ProviderError            one call to one provider failed (raised by providers/)
      │    ├── RateLimited         429: wait `retry_after_s` (from Retry-After, RetryInfo, headers)
      │    ├── QuotaExhausted      OpenAI's insufficient_quota 429: never retried
      │    ├── ProviderUnavailable 5xx, timeout, connection refused: retry later, elsewhere
      │    ├── ProviderRejected    4xx other than 429 (bad request, auth): not this request here
      │    └── EmptyCompletion     a 200 without usable text
      ├── MustWait                 no provider may be called now; try again in `delay_s`
      └── GenerationFailed         every provider failed or refused; `reason` says why

Providers translate their SDK's exceptions into this tree at the boundary
(`from` the original); the router turns them into breaker and budget updates;
the handler maps `MustWait` to a delayed nak and `GenerationFailed` to a
dropped turn, in one place each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from piyasa_common.errors import PiyasaError

if TYPE_CHECKING:
    from piyasa_generator.providers.base import RateLimits


class GeneratorError(PiyasaError):
    pass


class ProviderError(GeneratorError):
    outcome = "error"
    """The `outcome` label of `piyasa_llm_calls_total` for this failure."""

    def __init__(self, provider: str, detail: str, *, status: int | None = None) -> None:
        self.provider = provider
        self.detail = detail[:300]
        self.status = status
        super().__init__(f"{provider}: {self.detail}")


class RateLimited(ProviderError):
    outcome = "rate_limited"

    def __init__(
        self,
        provider: str,
        detail: str,
        *,
        retry_after_s: float | None,
        status: int | None = 429,
        limits: RateLimits | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        self.limits = limits
        super().__init__(provider, detail, status=status)


class QuotaExhausted(ProviderError):
    outcome = "quota_exhausted"


class ProviderUnavailable(ProviderError):
    outcome = "unavailable"

    def __init__(
        self,
        provider: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        timeout: bool = False,
    ) -> None:
        self.retry_after_s = retry_after_s
        self.timeout = timeout
        super().__init__(provider, detail, status=status)
        if timeout:
            self.outcome = "timeout"


class ProviderRejected(ProviderError):
    outcome = "rejected"

    @property
    def fatal(self) -> bool:
        """Auth and permission errors: no request will succeed until someone acts."""
        return self.status in (401, 403)


class EmptyCompletion(ProviderError):
    outcome = "empty"


class MustWait(GeneratorError):
    def __init__(self, delay_s: float, reason: str) -> None:
        self.delay_s = delay_s
        self.reason = reason
        super().__init__(f"wait {delay_s:.2f}s: {reason}")


class GenerationFailed(GeneratorError):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        self.reason = reason[:200]
        self.retryable = retryable
        super().__init__(self.reason)
