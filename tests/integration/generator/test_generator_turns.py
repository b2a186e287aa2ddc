"""Turn handling: expired turns are not generated, regenerations use the guard's
feedback, redeliveries re-emit the same ids, the offline writer needs no key."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike.

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from piyasa_common.clock import SystemClock
from piyasa_contracts import Envelope, decode, encode, make_event
from piyasa_contracts.events.config import SettingsChanged
from piyasa_contracts.events.conversation import TurnExpired
from piyasa_contracts.events.work import Drafted
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.ids import derive_event_id
from piyasa_generator.budget import SharedBudgets
from piyasa_generator.fleet import FleetKnobs
from piyasa_generator.handler import GenerationHandler, clean_for
from piyasa_generator.pricing import PriceTable
from piyasa_generator.providers.offline import OfflineProvider
from piyasa_generator.router import Policy, Router
from tests.fakes.llm import OPENAI
from tests.integration.generator.conftest import Bus, generator, generator_settings, pointed_at
from tests.support.waiting import eventually
from tests.unit.generator.builders import (
    generation_request,
    regeneration_envelope,
    request_envelope,
)

pytestmark = pytest.mark.integration


async def test_a_turn_that_expired_while_waiting_is_dropped_not_generated(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    server = await fake(OPENAI)
    settings = generator_settings(nats_url, prefix, **pointed_at(server))
    stale = generation_request(deadline=datetime.now(UTC) - timedelta(seconds=1))
    envelope = request_envelope(stale)

    async with generator(settings):
        await bus.publish(envelope)
        [closed] = await eventually(bus.closed_turns, message="turn expired")

    assert closed.type == TurnExpired.event_type
    assert closed.id == derive_event_id(envelope.id, TurnExpired.event_type, 0)
    expired = TurnExpired.model_validate(closed.payload)
    assert (expired.turn_id, expired.stage) == (stale.turn_id, "generator")
    assert server.requests == [] and await bus.drafts() == []


async def test_a_regeneration_sends_the_rejected_draft_and_feedback_and_drafts_attempt_n(
    bus: Bus, fake, nats_url: str, prefix: str
) -> None:
    server = await fake(OPENAI, latency=0.01)
    settings = generator_settings(nats_url, prefix, **pointed_at(server))
    request = generation_request()
    envelope = regeneration_envelope(
        request, attempt=2, rejected="BTC kesin uçar, herkes alsın!", feedback=("compliance",)
    )

    async with generator(settings):
        await bus.publish(envelope)
        draft = await bus.draft_for(request.turn_id)

    user = server.requests[0].body["messages"][1]["content"]
    assert "BTC kesin uçar, herkes alsın!" in user and "compliance" in user
    assert draft.attempt == 2
    [stored] = await bus.draft_envelopes()
    assert stored.id == derive_event_id(envelope.id, Drafted.event_type, 2)


async def test_with_no_key_the_offline_writer_drafts_in_the_chats_language(
    bus: Bus, nats_url: str, prefix: str
) -> None:
    settings = generator_settings(nats_url, prefix)
    tr = generation_request(language="tr", topic="THYAO", position="bearish", strength=0.9)
    en = generation_request(language="en", topic="NVDA", position="bullish", strength=0.9)

    async with generator(settings):
        for request in (tr, en):
            await bus.publish(request_envelope(request))
        drafts = {d.turn_id: d for d in await bus.wait_drafts(2)}

    assert drafts[tr.turn_id].provider == "offline" and "THYAO" in drafts[tr.turn_id].text
    assert "NVDA" in drafts[en.turn_id].text
    assert drafts[en.turn_id].cost_usd == 0.0 and drafts[en.turn_id].tokens.prompt == 0


async def test_a_redelivered_request_emits_the_same_draft_id_and_is_stored_once(
    bus: Bus, nats_url: str, prefix: str
) -> None:
    settings = generator_settings(nats_url, prefix)
    budgets = await SharedBudgets.open(bus.js, bus.topology, SystemClock())
    router = Router(
        [OfflineProvider()],
        budgets,
        limits=FleetKnobs(settings).limits,
        prices=PriceTable(),
        policy=Policy(),
        clock=SystemClock(),
        cleaner=clean_for,
    )
    handler = GenerationHandler(
        router=router, publisher=bus.publisher, clock=SystemClock(), settings=settings,
        rng=random.Random(1),
    )  # fmt: skip
    event = decode(encode(request_envelope(generation_request())))
    delivery = SimpleNamespace(num_delivered=1)

    await handler(event, delivery)  # type: ignore[arg-type]
    await handler(event, delivery)  # type: ignore[arg-type]  # a crash before the ack

    drafts = await bus.draft_envelopes()
    assert [d.id for d in drafts] == [derive_event_id(event.envelope.id, Drafted.event_type, 0)]


async def test_the_fleets_settings_reach_the_generator_from_the_config_stream(
    bus: Bus, nats_url: str, prefix: str
) -> None:
    settings = generator_settings(nats_url, prefix)
    await bus.publish(fleet_settings(max_message_chars=60))  # written before it starts
    first = generation_request(language="en", topic="NVDA")

    async with generator(settings) as ctx:
        await bus.publish(request_envelope(first))
        capped = await bus.draft_for(first.turn_id)
        await bus.publish(fleet_settings(max_message_chars=40))  # changed while it runs
        [follower] = ctx.followers
        await eventually(lambda: follower.applied == 2, message="second settings folded")
        second = generation_request(language="en", topic="NVDA")
        await bus.publish(request_envelope(second))
        recapped = await bus.draft_for(second.turn_id)

    assert capped.request.style.max_chars == 60 and len(capped.text) <= 60
    assert recapped.request.style.max_chars == 40 and len(recapped.text) <= 40


def fleet_settings(**knobs: object) -> Envelope:
    """The fleet's settings as the config API stores them: every knob, defaulted."""
    values = FleetSettings(**knobs).model_dump(mode="json")  # type: ignore[arg-type]
    return make_event(SettingsChanged(id=SETTINGS_ID, values=values), occurred_at=datetime.now(UTC))
