"""The generator against the session's real NATS and fake provider servers (real SDKs).

`generator(...)` wires replicas exactly as `main.py` does (`generator_setup`) into a
context of this test's prefix, and runs their followers (caught up first) and
consumers; `bus` publishes requests and reads what the generator emitted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from piyasa_common.clock import SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.http import HealthServer
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.service import ServiceContext
from piyasa_contracts import Envelope, StreamRole, Topology
from piyasa_contracts.events.conversation import TurnDropped, TurnExpired
from piyasa_contracts.events.work import Drafted
from piyasa_generator.main import generator_setup
from piyasa_generator.settings import GeneratorSettings
from tests.fakes.llm import FakeLLM
from tests.support.backbone import settings_for, stream_events
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

NO_KEYS: dict[str, Any] = {
    "openai_api_key": None,
    "gemini_api_key": None,
    "groq_api_key": None,
    "llm_base_url": None,
    "llm_api_key": None,
}


def generator_settings(nats_url: str, prefix: str, **overrides: Any) -> GeneratorSettings:
    values = settings_for(nats_url, prefix).model_dump()
    values.update(NO_KEYS)
    values.update(
        llm_timeout_s=5.0,
        breaker_open_s=30.0,
        retry_base_s=0.2,
        retry_cap_s=1.0,
        provider_daily_budget_usd=20.0,
        bot_daily_budget_usd=0.0,
    )
    values.update(overrides)
    return GeneratorSettings(**values)


def pointed_at(fake: FakeLLM) -> dict[str, Any]:
    """Settings that send one provider's calls to a fake server."""
    name = fake.dialect.name
    if name == "openai":
        return {"openai_api_key": "sk-test-0123456789", "openai_base_url": fake.openai_base_url}
    if name == "groq":
        return {"groq_api_key": "gsk_test0123456789", "groq_base_url": fake.url}
    return {"gemini_api_key": "g-test-0123456789", "gemini_base_url": fake.url}


@dataclass
class Bus:
    nc: NATS
    js: JetStreamContext
    topology: Topology
    publisher: Publisher

    async def publish(self, envelope: Envelope) -> None:
        await self.publisher.publish(envelope)

    async def drafts(self) -> list[Drafted]:
        events = await stream_events(
            self.js, self.topology, StreamRole.WORK, f"{self.topology.prefix}.work.draft.>"
        )
        return [Drafted.model_validate(e.payload) for e in events]

    async def draft_envelopes(self) -> list[Envelope]:
        return await stream_events(
            self.js, self.topology, StreamRole.WORK, f"{self.topology.prefix}.work.draft.>"
        )

    async def closed_turns(self) -> list[Envelope]:
        events = await stream_events(self.js, self.topology, StreamRole.CONVERSATION)
        return [e for e in events if e.type in (TurnExpired.event_type, TurnDropped.event_type)]

    async def dead_letters(self) -> list[Envelope]:
        return await stream_events(self.js, self.topology, StreamRole.DEADLETTER)

    async def draft_for(self, turn_id: str, timeout: float = 15.0) -> Drafted:
        async def probe() -> Drafted | None:
            return next((d for d in await self.drafts() if d.turn_id == turn_id), None)

        return await eventually(probe, timeout=timeout, message=f"draft of {turn_id}")

    async def wait_drafts(self, n: int, timeout: float = 30.0) -> list[Drafted]:
        async def probe() -> list[Drafted] | None:
            found = await self.drafts()
            return found if len(found) >= n else None

        return await eventually(probe, timeout=timeout, message=f"{n} drafts")


@pytest.fixture
async def bus(nats_url: str, prefix: str) -> AsyncIterator[Bus]:
    settings = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "generator-test")
    js = jetstream(nc)
    await provision(js, settings)
    topology = settings.topology()
    yield Bus(nc, js, topology, Publisher(js, topology))
    await nc.close()


@pytest.fixture
async def fake() -> AsyncIterator[Callable[..., Awaitable[FakeLLM]]]:
    """`server = await fake(OPENAI, latency=0.05)`: started now, stopped after the test."""
    started: list[FakeLLM] = []

    async def start(*args: Any, **kwargs: Any) -> FakeLLM:
        server = FakeLLM(*args, **kwargs)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@asynccontextmanager
async def generator(settings: GeneratorSettings) -> AsyncIterator[ServiceContext]:
    """One replica, wired by the service's own setup, following and consuming until the block
    ends."""
    nc = await connect(settings.nats_url, f"generator:{settings.instance_id}")
    js = jetstream(nc)
    topology = settings.topology()
    ctx = ServiceContext(
        name="generator",
        settings=settings,
        clock=SystemClock(),
        nc=nc,
        js=js,
        topology=topology,
        publisher=Publisher(js, topology),
        health=HealthServer("generator"),
    )
    await generator_setup(settings)(ctx)
    for follower in ctx.followers:
        await follower.start()
    for follower in ctx.followers:
        await eventually(follower.caught_up.is_set, message=f"{follower.name} caught up")
    for runner in ctx.consumers:
        runner.start()
    try:
        yield ctx
    finally:
        for runner in ctx.consumers:
            await runner.stop(grace_s=5.0)
        for follower in ctx.followers:
            await follower.stop()
        for callback in ctx.on_stop:
            await callback()
        await nc.close()
