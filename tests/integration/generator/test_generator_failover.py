"""Breakers and ordered fallback: a failing provider is left for the next one, and when
every provider fails the turn is dropped with the reasons while the consumer goes on."""

from __future__ import annotations

import pytest

from piyasa_contracts.events.conversation import TurnDropped
from piyasa_generator import metrics
from tests.fakes.llm import GROQ, OPENAI, Reply
from tests.integration.generator.conftest import Bus, generator, generator_settings, pointed_at
from tests.unit.generator.builders import generation_request, request_envelope

pytestmark = pytest.mark.integration


def always(reply: Reply, n: int = 50) -> list[Reply]:
    return [Reply(reply.status, dict(reply.headers), reply.body) for _ in range(n)]


@pytest.mark.parametrize("failure", ["500", "429"])
async def test_a_failing_first_provider_trips_its_breaker_and_the_next_one_serves(
    failure: str, bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    first = await fake(OPENAI, latency=0.01)
    second = await fake(GROQ, latency=0.01)
    # A 429 with no hint of when to come back counts against the breaker like a 500.
    bad = first.server_error(500) if failure == "500" else first.rate_limited(retry_after_s=None)
    first.push(*always(bad))
    settings = generator_settings(
        nats_url, prefix, breaker_failures=3, **pointed_at(first), **pointed_at(second)
    )
    requests = [generation_request() for _ in range(8)]

    async with generator(settings) as ctx:
        for request in requests:  # one at a time, so the count of calls is exact
            await bus.publish(request_envelope(request))
            await bus.draft_for(request.turn_id)
        assert metrics.BREAKER_STATE.labels("openai")._value.get() == 2  # open

    drafts = await bus.drafts()
    assert {d.provider for d in drafts} == {"groq"} and len(drafts) == 8
    assert len(first.requests) == 3  # the breaker's threshold, then no more calls
    assert len(second.requests) == 8
    assert await bus.closed_turns() == []
    del ctx


async def test_insufficient_quota_is_never_retried_on_that_key(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    first = await fake(OPENAI, latency=0.01)
    second = await fake(GROQ, latency=0.01)
    first.push(*always(first.insufficient_quota()))
    settings = generator_settings(nats_url, prefix, **pointed_at(first), **pointed_at(second))
    requests = [generation_request() for _ in range(4)]

    async with generator(settings):
        for request in requests:
            await bus.publish(request_envelope(request))
            await bus.draft_for(request.turn_id)

    assert first.statuses() == [429]
    assert [d.provider for d in await bus.drafts()] == ["groq"] * 4


async def test_when_every_provider_fails_the_turn_is_dropped_with_the_reasons(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    first = await fake(OPENAI, latency=0.01)
    second = await fake(GROQ, latency=0.01)
    first.push(first.server_error(500))
    second.push(second.server_error(503))
    settings = generator_settings(
        nats_url, prefix, max_failed_rounds=1, **pointed_at(first), **pointed_at(second)
    )
    doomed, later = generation_request(), generation_request()

    async with generator(settings):
        await bus.publish(request_envelope(doomed))
        [closed] = await _closed(bus, 1)
        # Nothing else stops: the next request is served as usual.
        await bus.publish(request_envelope(later))
        draft = await bus.draft_for(later.turn_id)

    assert closed.type == TurnDropped.event_type
    dropped = TurnDropped.model_validate(closed.payload)
    assert dropped.turn_id == doomed.turn_id and dropped.stage == "generator"
    assert "openai: http 500" in dropped.reason and "groq: http 503" in dropped.reason
    assert draft.provider == "openai"
    assert await bus.dead_letters() == []


async def test_failures_are_retried_with_backoff_before_the_turn_is_dropped(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    only = await fake(OPENAI, latency=0.01)
    only.push(only.server_error(502), only.server_error(502))
    settings = generator_settings(nats_url, prefix, max_failed_rounds=3, **pointed_at(only))
    request = generation_request()

    async with generator(settings):
        await bus.publish(request_envelope(request))
        draft = await bus.draft_for(request.turn_id)

    assert only.statuses() == [502, 502, 200]
    assert draft.provider == "openai"


async def _closed(bus: Bus, n: int) -> list:
    from tests.support.waiting import eventually

    async def probe() -> list | None:
        found = await bus.closed_turns()
        return found if len(found) >= n else None

    return await eventually(probe, timeout=20, message="turn closed")
