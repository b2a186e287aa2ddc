"""Bounded start-up: last config per subject, a conversation window, a snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext

from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.state import SnapshotStore, StartAt, StreamFollower
from piyasa_contracts import EventKeys, StreamRole, Topology, make_event
from piyasa_contracts.events.config import BotChanged
from piyasa_contracts.events.conversation import Sent
from piyasa_contracts.registry import Event
from tests.support.backbone import settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def env(nats_url: str, prefix: str) -> AsyncIterator[tuple[JetStreamContext, Topology]]:
    settings = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "startup-test")
    js = jetstream(nc)
    await provision(js, settings)
    yield js, settings.topology()
    await nc.close()


def bot_event(bot_id: str, name: str):  # type: ignore[no-untyped-def]
    return make_event(BotChanged(id=bot_id, name=name), occurred_at=datetime.now(UTC), actor="op")


def sent_event(chat_id: str, n: int):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    payload = Sent(
        turn_id=f"turn{n}",
        bot_id="bot1",
        telegram_chat_id=-100,
        telegram_message_id=n,
        text=f"message {n}",
        sent_at=now,
    )
    return make_event(payload, occurred_at=now, keys=EventKeys(chat_id=chat_id, bot_id="bot1"))


async def test_config_loads_only_the_last_event_per_aggregate(
    env: tuple[JetStreamContext, Topology],
) -> None:
    js, topology = env
    publisher = Publisher(js, topology)
    for name in ("a1", "a2", "a3"):
        await publisher.publish(bot_event("botA", name))
    for name in ("b1", "b2"):
        await publisher.publish(bot_event("botB", name))

    seen: list[tuple[str, str]] = []

    def apply(event: Event, seq: int) -> None:
        assert isinstance(event.payload, BotChanged)
        seen.append((event.payload.id, event.payload.name))

    follower = StreamFollower(
        js, topology, stream=StreamRole.CONFIG, apply=apply, start=StartAt.last_per_subject()
    )
    await follower.start()
    try:
        await eventually(follower.caught_up.is_set, message="caught up")
        assert sorted(seen) == [("botA", "a3"), ("botB", "b2")]
        # ...and it keeps following live.
        await publisher.publish(bot_event("botA", "a4"))
        await eventually(lambda: ("botA", "a4") in seen)
    finally:
        await follower.stop()


async def test_conversation_loads_a_time_window_not_history(
    env: tuple[JetStreamContext, Topology],
) -> None:
    js, topology = env
    publisher = Publisher(js, topology)
    for n in range(5):
        await publisher.publish(sent_event("chat1", n))
    since = datetime.now(UTC)
    for n in range(5, 8):
        await publisher.publish(sent_event("chat1", n))

    seen: list[int] = []
    follower = StreamFollower(
        js,
        topology,
        stream=StreamRole.CONVERSATION,
        apply=lambda e, seq: seen.append(e.payload.telegram_message_id),  # type: ignore[attr-defined]
        start=StartAt.window(since),
    )
    await follower.start()
    try:
        await eventually(follower.caught_up.is_set)
        assert seen == [5, 6, 7]
    finally:
        await follower.stop()


async def test_snapshot_resumes_after_the_sequence_it_covers(
    env: tuple[JetStreamContext, Topology],
) -> None:
    js, topology = env
    publisher = Publisher(js, topology)
    acks = [await publisher.publish(sent_event("chat1", n)) for n in range(6)]
    store = SnapshotStore(js, topology, "toy")
    await store.save(acks[3].seq, {"count": 4})

    loaded = await store.load()
    assert loaded is not None
    sequence, state = loaded
    seen: list[int] = []
    follower = StreamFollower(
        js,
        topology,
        stream=StreamRole.CONVERSATION,
        apply=lambda e, seq: seen.append(e.payload.telegram_message_id),  # type: ignore[attr-defined]
        start=StartAt.after(sequence),
    )
    await follower.start()
    try:
        await eventually(follower.caught_up.is_set)
        assert state == {"count": 4}
        assert seen == [4, 5]
    finally:
        await follower.stop()


async def test_empty_stream_is_caught_up_at_once(env: tuple[JetStreamContext, Topology]) -> None:
    js, topology = env
    follower = StreamFollower(
        js, topology, stream=StreamRole.CONFIG, apply=lambda e, s: None, start=StartAt.everything()
    )
    await follower.start()
    try:
        assert follower.caught_up.is_set()
    finally:
        await follower.stop()
