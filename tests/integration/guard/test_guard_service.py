# ruff: noqa: RUF001  (Turkish text on purpose)
"""The guard service against a real NATS server: one decision per draft, whatever happens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext

from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.service import Service
from piyasa_contracts import (
    ContractError,
    Envelope,
    EventKeys,
    StreamRole,
    Topology,
    decode,
    make_event,
    subject_for,
)
from piyasa_contracts.events._common import Persona, Position
from piyasa_contracts.events.config import HoldingChanged, StanceChanged
from piyasa_contracts.events.conversation import Sent
from piyasa_contracts.events.system import DeadLettered
from piyasa_contracts.events.work import Drafted, GenerationRequested
from piyasa_guard.main import setup_for
from piyasa_guard.settings import GuardSettings
from tests.support.backbone import raw_json, settings_for, stream_events, stream_messages
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

DECISION_TYPES = {"message.approved", "draft.rejected"}


@dataclass
class Guard:
    settings: GuardSettings
    js: JetStreamContext
    topology: Topology
    publisher: Publisher
    service: Service | None = None
    task: asyncio.Task[int] | None = None

    async def start(self) -> None:
        self.service = Service("guard", self.settings, setup_for(self.settings))
        self.task = asyncio.create_task(self.service.run())
        service = self.service
        await eventually(lambda: service.ready, timeout=20, message="guard ready")

    async def stop(self) -> None:
        if self.service is not None and self.task is not None:
            self.service.request_stop()
            await asyncio.wait_for(self.task, 30)

    async def work(self) -> list[Envelope]:
        """WORK's events, skipping what cannot be decoded (the malformed drafts we sent)."""
        out = []
        for _, _, data in await stream_messages(self.js, self.topology, StreamRole.WORK):
            try:
                out.append(decode(data).envelope)
            except ContractError:
                continue
        return out

    async def conversation(self) -> list[Envelope]:
        return await stream_events(self.js, self.topology, StreamRole.CONVERSATION)

    async def decisions_for(self, draft: Envelope) -> list[Envelope]:
        return [
            e for e in await self.work() if e.causation_id == draft.id and e.type in DECISION_TYPES
        ]


@pytest.fixture
async def guard(nats_url: str, prefix: str) -> AsyncIterator[Guard]:
    base = settings_for(nats_url, prefix).model_dump()
    settings = GuardSettings(**base, guard_max_attempts=2)
    nc = await connect(nats_url, "guard-test")
    js = jetstream(nc)
    await provision(js, settings)
    topology = settings.topology()
    rig = Guard(settings, js, topology, Publisher(js, topology))
    try:
        yield rig
    finally:
        await rig.stop()
        await nc.close()


def draft_event(
    text: str,
    *,
    chat: str = "chat1",
    turn: str = "turn1",
    bot: str = "bot1",
    attempt: int = 0,
    deadline: datetime | None = None,
    cause: Envelope | None = None,
) -> Envelope:
    now = datetime.now(UTC)
    request = GenerationRequested(
        turn_id=turn,
        deadline=deadline or now + timedelta(minutes=10),
        bot_id=bot,
        bot_name="Ayşe",
        persona=Persona(),
        topic="BTC",
    )
    payload = Drafted(
        turn_id=turn,
        deadline=request.deadline,
        attempt=attempt,
        request=request,
        text=text,
        provider="offline",
        model="test",
    )
    keys = EventKeys(bot_id=bot, chat_id=chat, turn_id=turn)
    return make_event(payload, occurred_at=now, keys=keys, cause=cause, attempt=attempt)


async def test_a_draft_yields_exactly_one_decision(guard: Guard) -> None:
    await guard.start()
    draft = draft_event("Bugün piyasalar sakin, herkes veriyi bekliyor.")
    await guard.publisher.publish(draft)

    [decision] = await eventually(lambda: guard.decisions_for(draft), message="decided")
    assert decision.type == "message.approved"
    assert decision.keys.bot_id == "bot1" and decision.keys.turn_id == "turn1"
    assert decision.payload["text"] == "Bugün piyasalar sakin, herkes veriyi bekliyor."


async def test_a_redelivered_draft_yields_one_decision_not_two(guard: Guard) -> None:
    await guard.start()
    draft = draft_event("Altın bugün biraz geri çekildi, dolar güçlü.")
    await guard.publisher.publish(draft)
    await guard.publisher.publish(draft)  # the same id: JetStream keeps one
    await eventually(lambda: guard.decisions_for(draft), message="decided")

    # The same draft delivered again as a new message (as after a crash past the
    # dedup of its first publish): the guard decides nothing new.
    subject = subject_for(guard.topology, draft)
    await guard.js.publish(subject, raw_json(draft), headers={"Nats-Msg-Id": "redelivery-1"})
    await eventually(
        lambda: _drafts_consumed(guard, 2), message="second delivery handled", timeout=15
    )
    decisions = await guard.decisions_for(draft)
    assert [d.type for d in decisions] == ["message.approved"]


async def _drafts_consumed(guard: Guard, n: int) -> bool:
    info = await guard.js.consumer_info(guard.topology.stream(StreamRole.WORK), "guard")
    return (
        info.ack_floor.stream_seq >= 1
        and info.num_ack_pending == 0
        and info.num_pending == 0
        and (info.delivered.consumer_seq >= n)
    )


async def test_two_near_duplicate_drafts_in_flight_in_one_chat_only_one_passes(
    guard: Guard,
) -> None:
    await guard.start()
    first = draft_event(
        "Bitcoin yine 60 binin üzerine çıktı, alıcılar bayağı istekli.", turn="turnA", bot="bot1"
    )
    second = draft_event(
        "Bitcoin yine 60 binin üstüne çıktı, alıcılar epey istekli.", turn="turnB", bot="bot2"
    )
    await guard.publisher.publish_all([first, second])

    async def both() -> list[Envelope] | None:
        a, b = await guard.decisions_for(first), await guard.decisions_for(second)
        return a + b if a and b else None

    decisions = await eventually(both, message="both decided")
    assert sorted(d.type for d in decisions) == ["draft.rejected", "message.approved"]
    [rejected] = [d for d in decisions if d.type == "draft.rejected"]
    assert [r["code"] for r in rejected.payload["reasons"]] == ["near_duplicate"]


async def test_regeneration_is_bounded_then_the_turn_is_dropped(guard: Guard) -> None:
    await guard.start()
    text = "Hemen Bitcoin alın, bu fırsat kaçmaz!"
    draft = draft_event(text, turn="turnR")
    await guard.publisher.publish(draft)

    # Play the generator: answer every regeneration request with the same bad text.
    answered: set[str] = set()

    async def generator_step() -> bool:
        events = await guard.work()
        for e in events:
            if e.type == "regeneration.requested" and e.id not in answered:
                answered.add(e.id)
                attempt = int(e.payload["attempt"])
                await guard.publisher.publish(
                    draft_event(text, turn="turnR", attempt=attempt, cause=e)
                )
        dropped = [c for c in await guard.conversation() if c.type == "turn.dropped"]
        return bool(dropped)

    await eventually(generator_step, timeout=20, message="turn dropped")
    work = await guard.work()
    rejections = [e for e in work if e.type == "draft.rejected"]
    assert [r.payload["attempt"] for r in rejections] == [0, 1, 2]
    assert [r.payload["will_retry"] for r in rejections] == [True, True, False]
    assert [e.payload["attempt"] for e in work if e.type == "regeneration.requested"] == [1, 2]
    [dropped] = [c for c in await guard.conversation() if c.type == "turn.dropped"]
    assert dropped.payload["stage"] == "guard" and "direct_order" in dropped.payload["reason"]
    assert not [e for e in work if e.type == "message.approved"]


async def test_a_malformed_draft_is_dead_lettered(guard: Guard) -> None:
    await guard.start()
    valid = draft_event("Selam")
    subject = subject_for(guard.topology, valid)
    broken = raw_json(valid, payload={**valid.payload, "attempt": "first"})
    await guard.js.publish(subject, broken, headers={"Nats-Msg-Id": "broken-draft"})
    no_chat = valid.model_copy(update={"id": "nochat", "keys": EventKeys(bot_id="bot1")})
    await guard.js.publish(subject, raw_json(no_chat), headers={"Nats-Msg-Id": "nochat"})

    parked = await eventually(
        lambda: _at_least(2, stream_events(guard.js, guard.topology, StreamRole.DEADLETTER)),
        message="both parked",
    )
    records = [DeadLettered.model_validate(p.payload) for p in parked]
    assert sorted(r.reason for r in records) == ["malformed", "poison"]
    assert all(r.consumer == "guard" for r in records)
    assert not [e for e in await guard.work() if e.type in DECISION_TYPES]


async def _at_least(n: int, awaitable: object) -> object:
    result = await awaitable  # type: ignore[misc]
    return result if len(result) >= n else None


async def test_an_expired_turn_is_dropped_with_turn_expired(guard: Guard) -> None:
    await guard.start()
    draft = draft_event("Geç kalmış bir taslak.", deadline=datetime.now(UTC) - timedelta(seconds=1))
    await guard.publisher.publish(draft)

    expired = await eventually(
        lambda: _of_type(guard.conversation(), "turn.expired"), message="expired"
    )
    assert expired[0].payload["stage"] == "guard" and expired[0].causation_id == draft.id
    assert await guard.decisions_for(draft) == []


async def _of_type(awaitable: object, event_type: str) -> list[Envelope] | None:
    events = await awaitable  # type: ignore[misc]
    found = [e for e in events if e.type == event_type]
    return found or None


async def test_state_folded_at_start_rejects_contradictions_and_repeats(guard: Guard) -> None:
    now = datetime.now(UTC)
    stance = StanceChanged(
        id="stance1",
        bot_id="bot1",
        topic="BTC/USD",
        position=Position.BEARISH,
        strength=0.8,
        cooldown_until=now + timedelta(days=1),
    )
    holding = HoldingChanged(id="holding1", bot_id="bot1", symbol="ETH", quantity=2)
    sent = Sent(
        turn_id="old-turn",
        bot_id="bot2",
        telegram_chat_id=-100,
        telegram_message_id=7,
        text="Altın bugün de yükseliyor, ons fiyatı yeni rekor denemesinde.",
        sent_at=now - timedelta(minutes=5),
    )
    for payload, keys in (
        (stance, EventKeys()),
        (holding, EventKeys()),
        (sent, EventKeys(chat_id="chat1", bot_id="bot2", turn_id="old-turn")),
    ):
        await guard.publisher.publish(make_event(payload, occurred_at=now, keys=keys))
    await guard.start()

    drafts = [
        draft_event("Bitcoin uçacak, ralli daha yeni başlıyor!", turn="t1"),
        draft_event("Ben hiç Ethereum almadım.", turn="t2"),
        draft_event("Altın bugün de yükseliyor, ons fiyatı yine rekor denemesinde.", turn="t3"),
    ]
    for d in drafts:
        await guard.publisher.publish(d)

    async def all_decided() -> list[list[Envelope]] | None:
        found = [await guard.decisions_for(d) for d in drafts]
        return found if all(found) else None

    decided = await eventually(all_decided, message="all decided")
    codes = [[r["code"] for r in d[0].payload["reasons"]] for d in decided]
    assert codes == [["stance_contradiction"], ["holding_contradiction"], ["near_duplicate"]]
