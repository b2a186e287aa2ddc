"""Budgets live in KV and every replica draws from the same one."""

from __future__ import annotations

import pytest

from piyasa_common import metrics
from piyasa_common.clock import ManualClock
from piyasa_generator.budget import Limits, SharedBudgets
from piyasa_generator.providers.base import RateLimits
from tests.fakes.llm import GEMINI, OPENAI
from tests.integration.generator.conftest import Bus, generator, generator_settings, pointed_at
from tests.support.waiting import eventually
from tests.unit.generator.builders import generation_request, request_envelope

pytestmark = pytest.mark.integration


async def test_two_replicas_admit_no_more_than_the_shared_rate(bus: Bus) -> None:
    clock = ManualClock()
    a = await SharedBudgets.open(bus.js, bus.topology, clock)
    b = await SharedBudgets.open(bus.js, bus.topology, clock)
    limits = Limits(rpm=60)  # one per second, a burst of 60

    decisions = []
    for i in range(100):
        budgets = a if i % 2 else b
        decisions.append(
            await budgets.acquire("gemini", "k1", limits, tokens=10, bot_id=None, priced=True)
        )

    assert sum(d.go for d in decisions) == 60
    waits = [d for d in decisions if not d.go]
    assert all(d.reason == "requests" and 0 < d.delay_s <= 40 for d in waits)
    state = await a.provider_state("gemini", "k1")
    assert state.requests.tat - clock.now().timestamp() == pytest.approx(60.0)


async def test_a_cool_down_reported_to_one_replica_holds_for_the_other(bus: Bus) -> None:
    clock = ManualClock()
    a = await SharedBudgets.open(bus.js, bus.topology, clock)
    b = await SharedBudgets.open(bus.js, bus.topology, clock)
    await a.acquire("groq", "k1", Limits(), tokens=1, bot_id=None, priced=True)
    await a.settle(
        "groq", "k1", reserved_tokens=1, used_tokens=0, cost_usd=0.0, limits=None,
        cooldown_s=7.5, bot_id=None,
    )  # fmt: skip

    wait = await b.acquire("groq", "k1", Limits(), tokens=1, bot_id=None, priced=True)
    clock.advance(7.5)
    after = await b.acquire("groq", "k1", Limits(), tokens=1, bot_id=None, priced=True)

    assert (wait.kind, wait.reason, wait.delay_s) == ("wait", "cooldown", 7.5)
    assert after.go


async def test_headers_seen_by_one_replica_pace_the_other(bus: Bus) -> None:
    clock = ManualClock()
    a = await SharedBudgets.open(bus.js, bus.topology, clock)
    b = await SharedBudgets.open(bus.js, bus.topology, clock)
    await a.acquire("openai", "k1", Limits(), tokens=1, bot_id=None, priced=True)
    await a.settle(
        "openai", "k1", reserved_tokens=1, used_tokens=1, cost_usd=0.0,
        limits=RateLimits(limit_requests=2, remaining_requests=0, reset_requests_s=2.0),
        cooldown_s=None, bot_id=None,
    )  # fmt: skip

    decision = await b.acquire("openai", "k1", Limits(), tokens=1, bot_id=None, priced=True)

    assert decision.kind == "wait" and decision.delay_s == pytest.approx(1.0)


async def test_daily_cost_budgets_per_provider_and_per_bot(bus: Bus) -> None:
    clock = ManualClock()
    budgets = await SharedBudgets.open(bus.js, bus.topology, clock)
    limits = Limits(daily_usd=0.05, bot_daily_usd=0.01)
    for bot in ("bot-a", "bot-b", "bot-c", "bot-d", "bot-e"):
        assert (await budgets.acquire("openai", "k1", limits, tokens=1, bot_id=bot, priced=True)).go
        await budgets.settle(
            "openai", "k1", reserved_tokens=1, used_tokens=1, cost_usd=0.01, limits=None,
            cooldown_s=None, bot_id=bot,
        )  # fmt: skip

    bot_spent = await budgets.acquire("openai", "k1", limits, tokens=1, bot_id="bot-a", priced=True)
    provider_spent = await budgets.acquire(
        "openai", "k1", limits, tokens=1, bot_id="bot-z", priced=True
    )
    free_provider = await budgets.acquire(
        "compatible", "k2", Limits(), tokens=1, bot_id="bot-a", priced=False
    )
    clock.advance(24 * 3600)
    next_day = await budgets.acquire("openai", "k1", limits, tokens=1, bot_id="bot-a", priced=True)

    assert (bot_spent.kind, bot_spent.reason) == ("refused", "bot_budget")
    assert (provider_spent.kind, provider_spent.reason) == ("refused", "provider_budget")
    assert 0 < provider_spent.until_s <= 24 * 3600
    assert free_provider.go and next_day.go


async def test_a_spent_provider_budget_opens_its_breaker_and_the_next_provider_serves(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    paid = await fake(OPENAI, latency=0.01)
    other = await fake(GEMINI, latency=0.01)
    settings = generator_settings(
        nats_url,
        prefix,
        provider_daily_budget_overrides={"openai": 1e-9},  # the first call spends it
        **pointed_at(paid),
        **pointed_at(other),
    )
    requests = [generation_request() for _ in range(3)]

    async with generator(settings):
        for request in requests:
            await bus.publish(request_envelope(request))
            await bus.draft_for(request.turn_id)

    assert [d.provider for d in await bus.drafts()] == ["openai", "gemini", "gemini"]
    assert len(paid.requests) == 1


async def test_replicas_sharing_a_key_share_one_cool_down(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    server = await fake(GEMINI, latency=0.01)
    server.push(server.rate_limited(retry_after_s=1.5))
    one = generator_settings(nats_url, prefix, instance_id="r1", **pointed_at(server))
    two = generator_settings(nats_url, prefix, instance_id="r2", **pointed_at(server))
    requests = [generation_request() for _ in range(6)]

    naks = metrics.EVENTS_CONSUMED.labels("generator", "generation.requested", "nak")
    before = naks._value.get()
    async with generator(one), generator(two):
        await bus.publish(request_envelope(requests[0]))
        # The 429 is recorded in KV before its message is nak'd; then the others arrive.
        await eventually(lambda: naks._value.get() > before, message="first request nak'd")
        for request in requests[1:]:
            await bus.publish(request_envelope(request))
        await bus.wait_drafts(6)

    # After the 429, no replica called again before the provider's retryDelay was over.
    limited_at = server.requests[0].at
    assert server.statuses()[0] == 429
    assert all(r.at - limited_at >= 1.5 for r in server.requests[1:])
