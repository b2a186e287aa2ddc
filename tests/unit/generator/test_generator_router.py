"""The router's decisions with stub providers: order, fallback, waits, breakers, spans."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike.

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from piyasa_common.clock import ManualClock
from piyasa_common.telemetry import configure_tracing, shutdown_tracing
from piyasa_generator.budget import Limits
from piyasa_generator.errors import (
    GenerationFailed,
    MustWait,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    QuotaExhausted,
    RateLimited,
)
from piyasa_generator.handler import clean_for, make_job
from piyasa_generator.pricing import PriceTable
from piyasa_generator.providers.base import Completion, Job
from piyasa_generator.router import Policy, Router
from tests.unit.generator.builders import generation_request


@dataclass
class Stub:
    """A provider that answers from a script: a text, or an error to raise."""

    name: str
    script: list[str | ProviderError] = field(default_factory=list)
    model: str = "gpt-4o-mini"
    key_id: str = "k"
    priced: bool = True
    governed: bool = True
    calls: list[Job] = field(default_factory=list)

    async def complete(self, job: Job) -> Completion:
        self.calls.append(job)
        answer = self.script.pop(0) if self.script else "BTC bence yukarı."
        if isinstance(answer, ProviderError):
            raise answer
        return Completion(answer, job.model or self.model, 2000, 30, 1500)

    async def aclose(self) -> None:
        return None


def router(*providers: Stub, clock: ManualClock | None = None, **policy: object) -> Router:
    return Router(
        providers,  # type: ignore[arg-type]
        None,
        limits=lambda _: Limits(),
        prices=PriceTable(),
        policy=Policy(**policy),  # type: ignore[arg-type]
        clock=clock or ManualClock(),
        cleaner=clean_for,
    )


def job(**overrides: object) -> Job:
    return make_job(
        generation_request(**overrides),  # type: ignore[arg-type]
        None,
        history_lines=20,
        temperature=0.9,
    )


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing("piyasa-test", otlp_endpoint=None, sample_ratio=1.0, exporter=exporter)
    try:
        yield exporter
    finally:
        shutdown_tracing()


async def test_the_first_provider_serves_and_its_call_is_a_span_with_usage(
    spans: InMemorySpanExporter,
) -> None:
    first, second = Stub("openai", ['"Ayşe: BTC bence yukarı."']), Stub("groq")
    generated = await router(first, second).generate(job())

    assert (generated.provider, generated.text) == ("openai", "BTC bence yukarı.")
    assert (generated.prompt_tokens, generated.cached_prompt_tokens) == (2000, 1500)
    assert generated.cost_usd == pytest.approx((500 * 0.15 + 1500 * 0.075 + 30 * 0.6) / 1e6)
    assert second.calls == []
    [span] = [s for s in spans.get_finished_spans() if s.name == "llm openai"]
    assert span.attributes is not None
    assert span.attributes["gen_ai.usage.input_tokens"] == 2000
    assert span.attributes["gen_ai.usage.cached_input_tokens"] == 1500
    assert span.attributes["piyasa.llm.outcome"] == "ok"


async def test_the_bots_own_provider_goes_first_with_its_model() -> None:
    first, second = Stub("openai"), Stub("groq")
    generated = await router(first, second).generate(
        job(llm_provider="groq", llm_model="llama-3.1-8b-instant")
    )
    assert generated.provider == "groq" and generated.model == "llama-3.1-8b-instant"
    assert first.calls == []


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("openai", "http 500", status=500),
        RateLimited("openai", "http 429", retry_after_s=None),
        ProviderUnavailable("openai", "timeout", timeout=True),
    ],
)
async def test_a_failure_falls_over_to_the_next_provider_in_the_same_delivery(
    error: ProviderError,
) -> None:
    first, second = Stub("openai", [error]), Stub("groq")
    generated = await router(first, second).generate(job())
    assert generated.provider == "groq" and len(first.calls) == 1


async def test_an_answer_with_nothing_left_after_cleaning_falls_over() -> None:
    first, second = Stub("openai", ['"  "']), Stub("groq")
    assert (await router(first, second).generate(job())).provider == "groq"


async def test_a_lone_provider_asking_to_wait_makes_the_message_wait() -> None:
    only = Stub("openai", [RateLimited("openai", "http 429", retry_after_s=2.5)])
    with pytest.raises(MustWait) as caught:
        await router(only).generate(job())
    assert caught.value.delay_s == 2.5


async def test_when_every_provider_fails_the_reasons_are_kept() -> None:
    first = Stub("openai", [ProviderUnavailable("openai", "http 500", status=500)])
    second = Stub("groq", [ProviderUnavailable("groq", "http 503", status=503)])
    with pytest.raises(GenerationFailed) as caught:
        await router(first, second).generate(job())
    assert caught.value.retryable
    assert caught.value.reason == "openai: http 500; groq: http 503"


async def test_a_bad_request_is_not_retried_and_does_not_count_against_the_breaker() -> None:
    only = Stub("openai", [ProviderRejected("openai", "http 400", status=400)] * 5)
    r = router(only, breaker_failures=1)
    for _ in range(3):
        with pytest.raises(GenerationFailed) as caught:
            await r.generate(job())
        assert not caught.value.retryable
    assert len(only.calls) == 3 and r.breaker("openai").allows()


async def test_open_breakers_are_skipped_and_their_reopening_is_the_wait() -> None:
    clock = ManualClock()
    only = Stub("openai", [ProviderUnavailable("openai", "http 500", status=500)] * 2)
    r = router(only, clock=clock, breaker_failures=2, breaker_open_s=30.0)
    for _ in range(2):
        with pytest.raises(GenerationFailed):
            await r.generate(job())
    with pytest.raises(MustWait) as caught:
        await r.generate(job())
    assert caught.value.delay_s == 30.0 and len(only.calls) == 2
    clock.advance(30.0)
    assert (await r.generate(job())).provider == "openai"  # the probe succeeds, it closes


async def test_insufficient_quota_opens_the_breaker_for_long() -> None:
    clock = ManualClock()
    first, second = Stub("openai", [QuotaExhausted("openai", "insufficient_quota")]), Stub("groq")
    r = router(first, second, clock=clock, quota_open_s=3600.0)
    for _ in range(3):
        assert (await r.generate(job())).provider == "groq"
    clock.advance(600)
    assert (await r.generate(job())).provider == "groq"
    assert len(first.calls) == 1


async def test_one_delivery_makes_at_most_max_calls() -> None:
    stubs = [
        Stub(name, [ProviderUnavailable(name, "http 500", status=500)])
        for name in ("openai", "gemini", "groq")
    ]
    with pytest.raises(MustWait):
        await router(*stubs, max_calls=2).generate(job())
    assert [len(s.calls) for s in stubs] == [1, 1, 0]
