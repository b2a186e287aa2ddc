"""The scheduler service against a real NATS server, on real time with compressed settings."""

# ruff: noqa: RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext

from piyasa_common.connection import connect, jetstream
from piyasa_common.metrics import REGISTRY
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.sealing import DataKeys
from piyasa_common.service import Service
from piyasa_contracts import Envelope, EventKeys, Payload, StreamRole, Topology, make_event
from piyasa_contracts.events.config import ConfigChanged, ControlScope, ControlState
from piyasa_contracts.events.conversation import IncomingMessage, Sent
from piyasa_contracts.events.work import GenerationRequested
from piyasa_scheduler.main import setup_for
from piyasa_scheduler.settings import SchedulerSettings
from tests.support.backbone import settings_for, stream_events
from tests.support.waiting import eventually
from tests.unit.scheduler.scheduler_world import (
    bot,
    chat,
    control,
    holding,
    settings,
    stance,
)

pytestmark = pytest.mark.integration

DEADLINE_S = 5


@dataclass
class Rig:
    settings: SchedulerSettings
    js: JetStreamContext
    topology: Topology
    publisher: Publisher
    keys: DataKeys
    running: list[tuple[Service, asyncio.Task[int]]] = field(default_factory=list)

    async def start(self) -> Service:
        service = Service("scheduler", self.settings, setup_for(self.settings))
        self.running.append((service, asyncio.create_task(service.run())))
        await eventually(lambda: service.ready, timeout=20, message="scheduler ready")
        return service

    async def stop(self, service: Service) -> None:
        for s, task in list(self.running):
            if s is service:
                s.request_stop()
                assert await asyncio.wait_for(task, 30) == 0
                self.running.remove((s, task))

    async def publish(self, payload: Payload, chat_id: str | None = None, **keys: str) -> Envelope:
        envelope = make_event(
            payload, occurred_at=datetime.now(UTC), keys=EventKeys(chat_id=chat_id, **keys)
        )
        await self.publisher.publish(envelope)
        return envelope

    async def configure(self, *payloads: ConfigChanged) -> None:
        for payload in payloads:
            await self.publish(payload)

    async def requests(self, chat_id: str) -> list[Envelope]:
        events = await stream_events(self.js, self.topology, StreamRole.WORK)
        return [e for e in events if e.type == "generation.requested" and e.keys.chat_id == chat_id]

    async def conversation(self) -> list[Envelope]:
        return await stream_events(self.js, self.topology, StreamRole.CONVERSATION)


@pytest.fixture
async def rig(nats_url: str, prefix: str) -> AsyncIterator[Rig]:
    base = settings_for(nats_url, prefix).model_dump()
    config = SchedulerSettings(**base, scheduler_tick_interval_s=0.2)
    nc = await connect(nats_url, "scheduler-test")
    js = jetstream(nc)
    await provision(js, config)
    topology = config.topology()
    rig = Rig(config, js, topology, Publisher(js, topology), DataKeys(js, topology))
    try:
        yield rig
    finally:
        for service, _ in list(rig.running):
            await rig.stop(service)
        await nc.close()


def fleet_config(target: float = 720.0) -> list[ConfigChanged]:
    return [
        bot("a"),
        bot("b"),
        bot("c"),
        chat("c1", ["a", "b", "c"], target=target, topics=["BTC", "faiz"]),
        stance("b", "BTC", "bearish", 0.9),
        holding("b", "XAU", 2.0),
        settings(
            turn_deadline_s=DEADLINE_S,
            mention_delay_s=[0, 0.2],
            min_gap_s=0,
            history_lines=5,
            slot_grace_s=60,
        ),
    ]


async def test_a_mention_gets_the_next_turn_with_full_context_and_the_stuck_turn_expires(
    rig: Rig,
) -> None:
    await rig.configure(*fleet_config())
    now = datetime.now(UTC)
    await rig.publish(
        Sent(turn_id="old1", bot_id="a", telegram_chat_id=-1, telegram_message_id=41,
             text="BTC bence yükselecek", sent_at=now),
        "c1", bot_id="a", turn_id="old1",
    )  # fmt: skip
    await rig.start()

    # A scheduled turn goes out; nobody answers it, so it stays in flight until its deadline.
    [stuck] = await eventually(lambda: rig.requests("c1"), timeout=20, message="a first turn")
    mention = await rig.publish(
        IncomingMessage(
            person_id="p1",
            via_bot_id="a",
            telegram_chat_id=-1,
            telegram_message_id=42,
            update_id=1,
            sender_name=await rig.keys.seal("p1", "Ayşe"),
            text=await rig.keys.seal("p1", "@b_bot BTC düşer mi sence?"),
            sender_telegram_id=await rig.keys.seal("p1", "777"),
            username="ayse",
            mentioned_bot_ids=["b"],
            date=datetime.now(UTC),
        ),
        "c1",
    )

    requests = await eventually(
        lambda: _at_least(2, rig.requests("c1")), timeout=DEADLINE_S + 10, message="the reply"
    )
    reply = GenerationRequested.model_validate(requests[1].payload)

    # Expired, announced with the owner's epoch; then the mention's reply came next.
    expired = [e for e in await rig.conversation() if e.type == "turn.expired"]
    assert [(e.keys.turn_id, e.payload["stage"], e.payload["reason"]) for e in expired] == [
        (stuck.keys.turn_id, "scheduler", "deadline")
    ]
    assert expired[0].epoch is not None and expired[0].epoch == stuck.epoch
    assert (requests[1].keys.bot_id, reply.priority) == ("b", 8)
    assert reply.reply_target is not None and reply.reply_target.ref == mention.id
    assert reply.reply_target.text == "@b_bot BTC düşer mi sence?"
    assert [line.text for line in reply.history] == [
        "BTC bence yükselecek",
        "@b_bot BTC düşer mi sence?",
    ]
    assert reply.persona.tone == "calm"
    assert [(s.topic, s.position.value) for s in reply.stances] == [("BTC", "bearish")]
    assert [(h.symbol, h.quantity) for h in reply.holdings] == [("XAU", 2.0)]
    assert {m.member_id for m in reply.mentionable} == {"a", "c", "p1"}
    ayse = next(m for m in reply.mentionable if m.member_id == "p1")
    assert (ayse.display_name, ayse.username, ayse.telegram_user_id) == ("Ayşe", "ayse", 777)
    assert reply.reply_target.author_name == "Ayşe"
    assert reply.topic == "BTC"
    assert requests[1].correlation_id == reply.turn_id == requests[1].keys.turn_id
    assert requests[1].epoch == stuck.epoch


async def test_a_restarted_scheduler_keeps_the_turn_left_in_flight(rig: Rig) -> None:
    await rig.configure(*fleet_config())
    first = await rig.start()
    [in_flight] = await eventually(lambda: rig.requests("c1"), timeout=20, message="a turn")
    await rig.stop(first)

    await rig.start()  # folds WORK: the turn is still in flight until its deadline
    requests = await eventually(
        lambda: _at_least(2, rig.requests("c1")), timeout=DEADLINE_S + 15, message="next turn"
    )

    expired = [e for e in await rig.conversation() if e.type == "turn.expired"]
    assert [e.keys.turn_id for e in expired] == [in_flight.keys.turn_id]
    assert requests[1].occurred_at >= expired[0].occurred_at
    deadline = GenerationRequested.model_validate(in_flight.payload).deadline
    assert requests[1].occurred_at >= deadline


async def _at_least(n: int, coro: object) -> list[Envelope] | None:
    items: list[Envelope] = await coro  # type: ignore[misc]
    return items if len(items) >= n else None


async def test_a_chats_pace_is_exported_and_drops_to_zero_when_it_is_paused(rig: Rig) -> None:
    def pace() -> float | None:
        return REGISTRY.get_sample_value(
            "piyasa_scheduler_chat_pace_per_hour", {"chat_id": "paced"}
        )

    await rig.configure(
        bot("a"), bot("b"), chat("paced", ["a", "b"], target=30.0), settings(min_gap_s=0)
    )
    await rig.start()
    # Awake all day with a flat curve: the pace now is the target.
    await eventually(lambda: (pace() or 0.0) > 0.0, timeout=10, message="a pace")
    assert pace() == pytest.approx(30.0, rel=0.01)
    await rig.configure(control(ControlScope.CHAT, "paced", ControlState.PAUSED))
    await eventually(lambda: pace() == 0.0, timeout=10, message="no pace while paused")
