"""Each provider through its real SDK against a fake that speaks its HTTP API."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike.

from __future__ import annotations

import asyncio
import time

import pytest

from piyasa_common import metrics as backbone_metrics
from piyasa_contracts.events.work import Drafted
from piyasa_contracts.ids import derive_event_id
from piyasa_generator import metrics
from piyasa_generator.pricing import PriceTable
from tests.fakes.llm import GEMINI, GROQ, OPENAI, Dialect, RateBucket, Reply
from tests.integration.generator.conftest import (
    Bus,
    generator,
    generator_settings,
    pointed_at,
)
from tests.support.waiting import eventually
from tests.unit.generator.builders import generation_request, request_envelope

pytestmark = pytest.mark.integration

DIALECTS = [OPENAI, GEMINI, GROQ]


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
async def test_a_request_becomes_a_draft_through_each_sdk(
    dialect: Dialect, bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    server = await fake(dialect, latency=0.02)
    server.push(Reply(text='"**Ayşe:** BTC bence yukarı gider, hacim geliyor."'))
    settings = generator_settings(nats_url, prefix, **pointed_at(server))
    request = generation_request()
    envelope = request_envelope(request)

    async with generator(settings):
        await bus.publish(envelope)
        draft = await bus.draft_for(request.turn_id)

    assert draft.text == "BTC bence yukarı gider, hacim geliyor."  # cleaned
    assert draft.provider == dialect.name
    assert draft.request == request and draft.attempt == 0
    [stored] = await bus.draft_envelopes()
    assert stored.id == derive_event_id(envelope.id, Drafted.event_type, 0)
    assert stored.causation_id == envelope.id and stored.keys == envelope.keys
    [seen] = server.requests
    assert seen.headers.get("x-stainless-retry-count", "0") == "0"


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
async def test_a_429_with_retry_after_is_waited_out_once_without_holding(
    dialect: Dialect, bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    server = await fake(dialect, latency=0.01)
    server.push(server.rate_limited(retry_after_s=1.0))
    settings = generator_settings(nats_url, prefix, **pointed_at(server))
    request = generation_request()
    naks_before = _sample(
        backbone_metrics.EVENTS_CONSUMED, "generator", "generation.requested", "nak"
    )

    async with generator(settings):
        await bus.publish(request_envelope(request))
        draft = await bus.draft_for(request.turn_id)

    assert [r.status for r in server.requests] == [429, 200]  # exactly one more call
    waited = server.requests[1].at - server.requests[0].at
    assert waited >= 1.0
    # No retry inside the SDK: each HTTP request was a first attempt.
    assert all(r.headers.get("x-stainless-retry-count", "0") == "0" for r in server.requests)
    # The wait was a delayed nak, not a held message.
    naks = _sample(backbone_metrics.EVENTS_CONSUMED, "generator", "generation.requested", "nak")
    assert naks == naks_before + 1
    assert draft.provider == dialect.name


@pytest.mark.parametrize("dialect", [OPENAI, GROQ], ids=lambda d: d.name)
async def test_rate_limit_headers_slow_the_request_rate(
    dialect: Dialect, bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    # The provider allows a burst of 3 and one call per 0.4 s, and says so in its headers.
    server = await fake(dialect, latency=0.02, limiter=RateBucket(3, 1.2))
    settings = generator_settings(nats_url, prefix, **pointed_at(server))
    warm_up = generation_request()

    async with generator(settings):
        await bus.publish(request_envelope(warm_up))
        await bus.draft_for(warm_up.turn_id)  # the first answer's headers teach the limit
        burst = [generation_request() for _ in range(8)]
        started = time.monotonic()
        for request in burst:
            await bus.publish(request_envelope(request))
        await bus.wait_drafts(9, timeout=30)
        elapsed = time.monotonic() - started

    statuses = server.statuses()
    assert statuses.count(429) == 0, statuses  # paced below the limit, never over it
    arrivals = [r.at for r in server.requests[1:]]
    # 2 slots left after the warm-up, then one per 0.4 s for the other 6.
    assert arrivals[-1] - arrivals[0] >= 6 * 0.4 * 0.8
    assert elapsed >= 2.0


async def test_tokens_cached_tokens_and_cost_land_in_the_drafted_event(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    server = await fake(OPENAI, latency=0.01, completion_tokens=21)
    settings = generator_settings(nats_url, prefix, **pointed_at(server))
    first, second = generation_request(), generation_request(reply=False, history=3)
    cached_before = _sample(metrics.LLM_TOKENS, "openai", "gpt-4o-mini", "cached_prompt")
    cost_before = _sample(metrics.LLM_COST, "openai", "gpt-4o-mini")

    async with generator(settings):
        await bus.publish(request_envelope(first))
        a = await bus.draft_for(first.turn_id)
        await bus.publish(request_envelope(second))
        b = await bus.draft_for(second.turn_id)

    assert a.tokens.prompt > 1024 and a.tokens.completion == 21 and a.tokens.cached_prompt == 0
    # The second prompt starts with the same fleet and persona blocks: the provider cached them.
    assert b.tokens.cached_prompt >= 1024
    assert b.tokens.cached_prompt / b.tokens.prompt >= 0.6
    price = PriceTable().price("gpt-4o-mini")
    assert b.cost_usd == pytest.approx(
        price.cost(b.tokens.prompt, b.tokens.cached_prompt, b.tokens.completion)
    )
    assert 0 < b.cost_usd < a.cost_usd * 1.2  # cached input is billed at half price
    assert a.latency_ms > 0 and b.model == "gpt-4o-mini"
    assert _sample(metrics.LLM_TOKENS, "openai", "gpt-4o-mini", "cached_prompt") == (
        cached_before + b.tokens.cached_prompt
    )
    assert _sample(metrics.LLM_COST, "openai", "gpt-4o-mini") == pytest.approx(
        cost_before + a.cost_usd + b.cost_usd
    )


async def test_the_bots_own_model_choice_is_used_for_its_provider(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    server = await fake(GROQ, latency=0.01)
    settings = generator_settings(nats_url, prefix, **pointed_at(server))
    request = generation_request(llm_provider="groq", llm_model="llama-3.1-8b-instant")

    async with generator(settings):
        await bus.publish(request_envelope(request))
        draft = await bus.draft_for(request.turn_id)

    assert server.requests[0].body["model"] == "llama-3.1-8b-instant"
    assert draft.model == "llama-3.1-8b-instant"


async def test_concurrent_requests_share_one_connection_pool(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    server = await fake(GEMINI, latency=0.3)
    settings = generator_settings(nats_url, prefix, llm_concurrency=8, **pointed_at(server))
    requests = [generation_request() for _ in range(16)]

    async with generator(settings):
        await asyncio.gather(*(bus.publish(request_envelope(r)) for r in requests))
        await bus.wait_drafts(16)

    assert server.max_in_flight == 8  # the cap, and concurrency up to it
    await eventually(lambda: server.in_flight == 0)


def _sample(metric: object, *labels: str) -> float:
    return metric.labels(*labels)._value.get()  # type: ignore[attr-defined]
