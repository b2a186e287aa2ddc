"""Ordered fallback over the providers, with breakers, shared budgets and accounting.

For one job the router walks the providers in order (the bot's own choice first,
when it names a configured one) and for each:

    breaker open?              -> skip (its reopening time is a candidate wait)
    at its concurrency cap?    -> a short wait
    budget says wait(d)?       -> d <= prefer_wait_s: stop here, MustWait(d)
                                  (the preferred provider is worth a short wait);
                                  else remember d and try the next provider
    budget refused?            -> skip (a provider's daily budget spent opens its breaker)
    call it (in a span)        -> success: account, return
                               -> failure: breaker, shared cool-down, next provider

When nothing succeeded it raises MustWait with the shortest wait seen, or
GenerationFailed with every provider's reason. It never sleeps: waiting is the
handler's delayed nak.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from piyasa_common.clock import Clock
from piyasa_common.consumer import Delivery
from piyasa_common.telemetry import tracer
from piyasa_generator import metrics
from piyasa_generator.breaker import Breaker
from piyasa_generator.budget import Decision, Limits, SharedBudgets
from piyasa_generator.errors import (
    EmptyCompletion,
    GenerationFailed,
    MustWait,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    QuotaExhausted,
    RateLimited,
)
from piyasa_generator.pricing import FREE, PriceTable
from piyasa_generator.providers.base import Completion, Job, Provider

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

Cleaner = Callable[[str, Job], str]


@dataclass(frozen=True, slots=True)
class Policy:
    concurrency: int = 16
    breaker_failures: int = 3
    breaker_open_s: float = 30.0
    quota_open_s: float = 3600.0
    prefer_wait_s: float = 5.0
    max_calls: int = 3
    timeout_s: float = 20.0


@dataclass(frozen=True, slots=True)
class Generated:
    text: str
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int
    cost_usd: float
    latency_s: float


class Router:
    def __init__(
        self,
        providers: Sequence[Provider],
        budgets: SharedBudgets | None,
        *,
        limits: Callable[[str], Limits],
        prices: PriceTable,
        policy: Policy,
        clock: Clock,
        cleaner: Cleaner,
    ) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self._providers = list(providers)
        self._budgets = budgets
        self._limits = limits
        """A provider's budgets, looked up at each call: the fleet's settings may change them."""
        self._prices = prices
        self._policy = policy
        self._clock = clock
        self._cleaner = cleaner
        self._breakers = {
            p.name: Breaker(
                p.name, failures=policy.breaker_failures, open_s=policy.breaker_open_s, clock=clock
            )
            for p in providers
        }
        self._in_flight = {p.name: 0 for p in providers}
        self._latency = {p.name: 1.0 for p in providers}

    @property
    def providers(self) -> list[Provider]:
        return list(self._providers)

    @property
    def concurrency(self) -> int:
        return self._policy.concurrency

    def breaker(self, provider: str) -> Breaker:
        return self._breakers[provider]

    async def aclose(self) -> None:
        for provider in self._providers:
            await provider.aclose()

    def order_for(self, job: Job) -> list[tuple[Provider, Job]]:
        """Providers to try, with the job as each one gets it (the bot's model for its own)."""
        wanted = job.request.llm_provider
        first = [p for p in self._providers if p.name == wanted]
        rest = [p for p in self._providers if p.name != wanted]
        out = [(p, replace(job, model=job.request.llm_model)) for p in first]
        return out + [(p, replace(job, model=None)) for p in rest]

    async def generate(self, job: Job, delivery: Delivery | None = None) -> Generated:
        failures: list[str] = []
        waits: list[tuple[float, str]] = []
        retryable = False
        calls = 0
        bot_id = job.request.bot_id
        for provider, provider_job in self.order_for(job):
            name = provider.name
            breaker = self._breakers[name]
            if not breaker.allows():
                waits.append((breaker.retry_in(), f"{name}: breaker open"))
                failures.append(f"{name}: breaker open ({breaker.reason})")
                metrics.LLM_WAITS.labels(name, "breaker").inc()
                retryable = True
                continue
            if self._in_flight[name] >= self._policy.concurrency:
                breaker.release()
                waits.append((max(0.05, self._latency[name] / 2), f"{name}: concurrency"))
                metrics.LLM_WAITS.labels(name, "concurrency").inc()
                if waits[-1][0] <= self._policy.prefer_wait_s:
                    break
                continue
            reserved = provider_job.prompt.estimated_tokens + provider_job.max_tokens
            if self._governed(provider):
                decision = await self._acquire(provider, reserved, bot_id)
                if decision.kind == "refused":
                    breaker.release()
                    failures.append(f"{name}: {decision.reason.replace('_', ' ')} spent")
                    metrics.BUDGET_EXHAUSTED.labels(name, decision.reason.split("_")[0]).inc()
                    if decision.reason == "provider_budget":
                        breaker.force_open(decision.until_s, "daily budget spent")
                        log.error("daily cost budget spent", extra={"provider": name})
                    continue
                if decision.kind == "wait":
                    breaker.release()
                    metrics.LLM_WAITS.labels(name, decision.reason).inc()
                    waits.append((decision.delay_s, f"{name}: {decision.reason}"))
                    retryable = True
                    if decision.delay_s <= self._policy.prefer_wait_s:
                        break
                    continue
            if calls >= self._policy.max_calls:
                breaker.release()
                waits.append((0.0, "call limit of one delivery reached"))
                break
            if calls and delivery is not None:
                await delivery.in_progress()  # a failover call is another short hold
            calls += 1
            try:
                return await self._call(provider, provider_job, reserved, bot_id)
            except ProviderError as exc:
                failures.append(f"{name}: {exc.detail}")
                retryable |= isinstance(exc, RateLimited | ProviderUnavailable | EmptyCompletion)
                hint = getattr(exc, "retry_after_s", None)
                if hint:
                    waits.append((float(hint), f"{name}: provider asked to wait"))
        if waits:
            delay, reason = min(waits)
            raise MustWait(delay, reason)
        raise GenerationFailed("; ".join(failures) or "no provider", retryable=retryable)

    async def _acquire(self, provider: Provider, tokens: int, bot_id: str) -> Decision:
        assert self._budgets is not None
        return await self._budgets.acquire(
            provider.name,
            provider.key_id,
            self._limits(provider.name),
            tokens=tokens,
            bot_id=bot_id,
            priced=provider.priced,
        )

    async def _call(self, provider: Provider, job: Job, reserved: int, bot_id: str) -> Generated:
        name = provider.name
        model = job.model or provider.model
        self._in_flight[name] += 1
        started = time.perf_counter()
        with _tracer.start_as_current_span(
            f"llm {name}",
            kind=SpanKind.CLIENT,
            record_exception=False,
            set_status_on_exception=False,
            attributes={
                "gen_ai.system": name,
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.request.max_tokens": job.max_tokens,
                "gen_ai.request.temperature": job.temperature,
                "piyasa.prompt.chars": len(job.prompt.system) + len(job.prompt.user),
                "piyasa.prompt.cacheable_chars": len(job.prompt.system),
            },
        ) as span:
            try:
                completion, text = await self._complete(provider, job)
            except ProviderError as exc:
                self._in_flight[name] -= 1
                self._observe_failure(provider, model, exc, time.perf_counter() - started)
                span.set_attribute("piyasa.llm.outcome", exc.outcome)
                if exc.status is not None:
                    span.set_attribute("http.response.status_code", exc.status)
                span.set_status(Status(StatusCode.ERROR, exc.outcome))
                await self._settle_failure(provider, exc, reserved)
                raise
            except BaseException:
                self._in_flight[name] -= 1
                raise
            self._in_flight[name] -= 1
            latency = time.perf_counter() - started
            self._latency[name] = 0.8 * self._latency[name] + 0.2 * latency
            self._breakers[name].success()
            response_model = completion.model or model
            price = self._prices.price(response_model) if provider.priced else FREE
            cost = price.cost(
                completion.prompt_tokens,
                completion.cached_prompt_tokens,
                completion.completion_tokens,
            )
            self._observe_success(provider, model, completion, cost, latency)
            span.set_attributes(
                {
                    "gen_ai.response.model": response_model,
                    "gen_ai.usage.input_tokens": completion.prompt_tokens,
                    "gen_ai.usage.output_tokens": completion.completion_tokens,
                    "gen_ai.usage.cached_input_tokens": completion.cached_prompt_tokens,
                    "piyasa.llm.cost_usd": cost,
                    "piyasa.llm.outcome": "ok",
                }
            )
        if self._governed(provider):
            await self._settle(
                provider,
                reserved_tokens=reserved,
                used_tokens=completion.prompt_tokens + completion.completion_tokens,
                cost_usd=cost,
                limits=completion.limits,
                cooldown_s=None,
                bot_id=bot_id if provider.priced else None,
            )
        return Generated(
            text=text,
            provider=name,
            model=response_model,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cached_prompt_tokens=completion.cached_prompt_tokens,
            cost_usd=cost,
            latency_s=latency,
        )

    async def _complete(self, provider: Provider, job: Job) -> tuple[Completion, str]:
        """One call with an outer timeout, and the answer cleaned; empty is a failure."""
        try:
            completion = await asyncio.wait_for(provider.complete(job), self._policy.timeout_s + 1)
        except TimeoutError as exc:
            raise ProviderUnavailable(provider.name, "timeout", timeout=True) from exc
        text = self._cleaner(completion.text, job)
        if not text:
            raise EmptyCompletion(provider.name, "nothing left after cleaning", status=200)
        return completion, text

    def _governed(self, provider: Provider) -> bool:
        return self._budgets is not None and provider.governed

    async def _settle(self, provider: Provider, **kwargs: Any) -> None:
        """Record a call in the shared budget; a failure here must not fail the turn."""
        assert self._budgets is not None
        try:
            await self._budgets.settle(provider.name, provider.key_id, **kwargs)
        except Exception as exc:  # NATS trouble: the budget is off by one call, no more
            log.warning("budget not updated: %r", exc, extra={"provider": provider.name})

    def _observe_failure(
        self, provider: Provider, model: str, exc: ProviderError, latency: float
    ) -> None:
        name = provider.name
        breaker = self._breakers[name]
        metrics.LLM_CALLS.labels(name, model, exc.outcome).inc()
        metrics.LLM_LATENCY.labels(name, model).observe(latency)
        if isinstance(exc, QuotaExhausted):
            # Never retried: no call on this key will succeed until someone pays.
            breaker.force_open(self._policy.quota_open_s, "insufficient quota")
            log.error("provider quota exhausted", extra={"provider": name})
        elif isinstance(exc, ProviderRejected) and exc.fatal:
            breaker.force_open(self._policy.quota_open_s, f"http {exc.status}")
            log.error("provider refused the key", extra={"provider": name, "status": exc.status})
        elif isinstance(exc, ProviderRejected):
            breaker.release()  # this request's fault, not the provider's
        else:
            breaker.failure(exc.outcome)
        log.warning(
            "llm call failed",
            extra={"provider": name, "model": model, "outcome": exc.outcome, "detail": exc.detail},
        )

    async def _settle_failure(self, provider: Provider, exc: ProviderError, reserved: int) -> None:
        if not self._governed(provider):
            return
        cooldown = exc.retry_after_s if isinstance(exc, RateLimited | ProviderUnavailable) else None
        await self._settle(
            provider,
            reserved_tokens=reserved,
            used_tokens=0,  # a failed call is not billed: give the tokens back
            cost_usd=0.0,
            limits=exc.limits if isinstance(exc, RateLimited) else None,
            cooldown_s=cooldown,
            bot_id=None,
        )

    def _observe_success(
        self, provider: Provider, model: str, completion: Completion, cost: float, latency: float
    ) -> None:
        name = provider.name
        metrics.LLM_CALLS.labels(name, model, "ok").inc()
        metrics.LLM_LATENCY.labels(name, model).observe(latency)
        metrics.LLM_TOKENS.labels(name, model, "prompt").inc(completion.prompt_tokens)
        metrics.LLM_TOKENS.labels(name, model, "completion").inc(completion.completion_tokens)
        metrics.LLM_TOKENS.labels(name, model, "cached_prompt").inc(completion.cached_prompt_tokens)
        metrics.LLM_COST.labels(name, model).inc(cost)
