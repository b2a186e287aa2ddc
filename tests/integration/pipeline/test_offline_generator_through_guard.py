# ruff: noqa: RUF001  (Turkish text on purpose)
"""1,000 turns from the offline generator through the real guard, both real services
over real NATS: at least 90% of turns are approved at the first or second attempt.

A guard that rejects everything, or a generator that only repeats itself,
fails this; so does a regeneration loop that never converges.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.service import Service
from piyasa_contracts import EventKeys, StreamRole, decode, make_event, new_opaque_id
from piyasa_contracts.events._common import HoldingView, Persona, Position, StanceView
from piyasa_contracts.events.work import GenerationRequested, StyleRules
from piyasa_generator.main import generator_setup
from piyasa_generator.settings import GeneratorSettings
from piyasa_guard.main import setup_for
from piyasa_guard.settings import GuardSettings
from tests.support.backbone import settings_for, stream_messages
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

TURNS = 1000
CHATS = 20
TOPICS = ("BTC", "altın", "BIST100", "dolar", "ETH", "THYAO")
NO_KEYS = {
    "openai_api_key": None,
    "gemini_api_key": None,
    "groq_api_key": None,
    "llm_base_url": None,
    "llm_api_key": None,
}


def requests(rng: random.Random) -> list[GenerationRequested]:
    now = datetime.now(UTC)
    bots = [
        (
            f"bot{n}",
            ["Ayşe", "Mehmet", "Zeynep", "Can", "Elif", "Burak"][n],
            Persona(tone=tone, emoji_use=rng.random(), verbosity=rng.random()),
        )
        for n, tone in enumerate(("neşeli", "temkinli", "alaycı", "analitik", "sakin", "heyecanlı"))
    ]
    out = []
    for n in range(TURNS):
        bot_id, name, persona = bots[n % len(bots)]
        topic = TOPICS[rng.randrange(len(TOPICS))]
        position = (Position.BULLISH, Position.BEARISH, Position.NEUTRAL)[rng.randrange(3)]
        out.append(
            GenerationRequested(
                turn_id=f"turn{n:04d}",
                deadline=now + timedelta(hours=1),
                bot_id=bot_id,
                bot_name=name,
                persona=persona,
                stances=[StanceView(topic=topic, position=position, strength=0.8)],
                holdings=[HoldingView(symbol=topic, quantity=2.0)] if n % 3 == 0 else [],
                topic=topic,
                language="tr" if n % 4 else "en",
                style=StyleRules(max_chars=280),
            )
        )
    return out


@pytest.fixture
async def pipeline(nats_url: str, prefix: str) -> AsyncIterator[Publisher]:
    base = settings_for(nats_url, prefix, ack_wait_s=30.0).model_dump()
    generator = Service(
        "generator",
        gs := GeneratorSettings(**{**base, **NO_KEYS, "instance_id": "gen-1"}),
        generator_setup(gs),
    )
    guard_settings = GuardSettings(**{**base, "instance_id": "guard-1"})
    guard = Service("guard", guard_settings, setup_for(guard_settings))
    tasks = [asyncio.create_task(s.run()) for s in (generator, guard)]
    await eventually(lambda: generator.ready and guard.ready, timeout=30, message="ready")
    nc = await connect(nats_url, "pipeline-test")
    js = jetstream(nc)
    await provision(js, settings_for(nats_url, prefix))
    yield Publisher(js, settings_for(nats_url, prefix).topology())
    await nc.close()
    for service in (generator, guard):
        service.request_stop()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)


async def test_most_offline_drafts_pass_the_guard_within_two_attempts(
    pipeline: Publisher,
) -> None:
    publisher = pipeline
    rng = random.Random(11)
    chats = [new_opaque_id() for _ in range(CHATS)]
    envelopes = [
        make_event(
            request,
            occurred_at=datetime.now(UTC),
            keys=EventKeys(
                bot_id=request.bot_id, chat_id=chats[n % CHATS], turn_id=request.turn_id
            ),
            actor="scheduler",
        )
        for n, request in enumerate(requests(rng))
    ]
    for start in range(0, len(envelopes), 100):
        await publisher.publish_all(envelopes[start : start + 100])

    js, topology = publisher._js, publisher.topology

    async def outcomes() -> tuple[dict[str, int], set[str]] | None:
        attempts: dict[str, int] = {}
        approved: dict[str, int] = {}
        for _, headers, data in await stream_messages(js, topology, StreamRole.WORK):
            kind = headers.get("Piyasa-Type")
            if kind == "draft.created":
                event = decode(data).envelope
                attempts[event.id] = int(event.payload.get("attempt", 0))
            elif kind == "message.approved":
                event = decode(data).envelope
                approved[event.keys.turn_id or ""] = attempts.get(event.causation_id or "", -1)
        dropped = set()
        for _, headers, data in await stream_messages(js, topology, StreamRole.CONVERSATION):
            if headers.get("Piyasa-Type") in ("turn.dropped", "turn.expired"):
                event = decode(data).envelope
                dropped.add(event.keys.turn_id or "")
        closed = set(approved) | dropped
        return (approved, dropped) if len(closed) >= TURNS else None

    result = await eventually(outcomes, timeout=300, interval=1.0, message="every turn closed")
    approved, dropped = result
    by_attempt = Counter(approved.values())
    within_two = by_attempt[0] + by_attempt[1]
    print(f"approved by attempt: {dict(sorted(by_attempt.items()))}, dropped: {len(dropped)}")
    assert within_two >= 0.9 * TURNS, (by_attempt, len(dropped))
