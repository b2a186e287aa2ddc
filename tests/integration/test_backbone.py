"""The backbone's promises against a real NATS server: dedup, optimistic
concurrency, dead letters, newer versions, delays without holding."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from nats.js import JetStreamContext

from piyasa_common import metrics
from piyasa_common.connection import connect, jetstream
from piyasa_common.consumer import ConsumerRunner, Delivery
from piyasa_common.errors import Conflict, Poison, Retry
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_contracts import StreamRole, Topology, decode, subject_for
from piyasa_contracts.events.system import DeadLettered
from piyasa_contracts.registry import Event
from tests.support.backbone import (
    raw_json,
    request_event,
    settings_for,
    start_generator_consumer,
    stream_events,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@dataclass
class Backbone:
    settings: BackboneSettings
    js: JetStreamContext
    topology: Topology
    publisher: Publisher


@pytest.fixture
async def backbone(nats_url: str, prefix: str) -> AsyncIterator[Backbone]:
    settings = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "test")
    js = jetstream(nc)
    await provision(js, settings)
    yield Backbone(settings, js, settings.topology(), Publisher(js, settings.topology()))
    await nc.close()


def run_generator_consumer(
    bb: Backbone,
    handler: Callable[[Event, Delivery], Awaitable[None]],
    holds: Callable[[], bool] | None = None,
) -> ConsumerRunner:
    return start_generator_consumer(bb.js, bb.publisher, bb.settings, handler, holds)


async def test_same_event_published_twice_is_stored_once(backbone: Backbone) -> None:
    event = request_event("chat1", "turn1")
    first = await backbone.publisher.publish(event)
    second = await backbone.publisher.publish(event)
    assert not first.duplicate
    assert second.duplicate
    stored = await stream_events(backbone.js, backbone.topology, StreamRole.WORK)
    assert [e.id for e in stored] == [event.id]


async def test_stale_expected_sequence_is_a_conflict_naming_the_current_one(
    backbone: Backbone,
) -> None:
    first = request_event("chat1", "turn1")
    ack = await backbone.publisher.publish(first, expected_last_subject_seq=0)
    with pytest.raises(Conflict) as caught:
        await backbone.publisher.publish(
            request_event("chat1", "turn2"), expected_last_subject_seq=0
        )
    assert caught.value.current == ack.seq


async def test_retry_after_a_lost_ack_is_success_not_conflict(backbone: Backbone) -> None:
    event = request_event("chat1", "turn1")
    # The first attempt reached the stream but its ack never came back.
    subject = subject_for(backbone.topology, event)
    headers = backbone.publisher.headers_for(event)
    headers["Nats-Expected-Last-Subject-Sequence"] = "0"
    await backbone.js.publish(subject, raw_json(event), headers=headers)

    ack = await backbone.publisher.publish(event, expected_last_subject_seq=0)

    assert ack.duplicate
    stored = await stream_events(backbone.js, backbone.topology, StreamRole.WORK)
    assert [e.id for e in stored] == [event.id]


async def test_poison_message_is_dead_lettered_at_the_limit_and_the_consumer_goes_on(
    backbone: Backbone,
) -> None:
    poison = request_event("chat1", "poison")
    good = [request_event("chat1", f"good{i}") for i in range(5)]
    handled: Counter[str] = Counter()

    async def handler(event: Event, delivery: Delivery) -> None:
        handled[event.envelope.id] += 1
        if event.envelope.id == poison.id:
            raise RuntimeError("cannot handle this one")

    runner = run_generator_consumer(backbone, handler)
    try:
        await backbone.publisher.publish(poison)
        for event in good:
            await backbone.publisher.publish(event)

        parked = await eventually(
            lambda: stream_events(backbone.js, backbone.topology, StreamRole.DEADLETTER),
            message="poison message parked",
        )
        await eventually(lambda: all(handled[e.id] == 1 for e in good), message="good handled")
    finally:
        await runner.stop()

    assert len(parked) == 1
    record = DeadLettered.model_validate(parked[0].payload)
    assert record.original_id == poison.id
    assert record.reason == "failed"
    assert record.deliveries == backbone.settings.max_deliver
    assert handled[poison.id] == backbone.settings.max_deliver
    assert decode(__import__("base64").b64decode(record.data_b64)).envelope.id == poison.id


async def test_malformed_message_is_dead_lettered_at_once_naming_the_field(
    backbone: Backbone,
) -> None:
    valid = request_event("chat1", "turn1")
    broken = raw_json(valid, payload={**valid.payload, "priority": "urgent"})
    subject = subject_for(backbone.topology, valid)
    handled: list[str] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        handled.append(event.envelope.id)

    runner = run_generator_consumer(backbone, handler)
    try:
        await backbone.js.publish(subject, broken, headers={"Nats-Msg-Id": "broken-1"})
        await backbone.js.publish(subject, b"\xff not json", headers={"Nats-Msg-Id": "broken-2"})
        parked = await eventually(
            lambda: _at_least(
                2, stream_events(backbone.js, backbone.topology, StreamRole.DEADLETTER)
            ),
            message="both parked",
        )
    finally:
        await runner.stop()

    records = [DeadLettered.model_validate(p.payload) for p in parked]
    assert [r.reason for r in records] == ["malformed", "malformed"]
    assert all(r.deliveries == 1 for r in records)
    assert "generation.requested" in records[0].error
    assert "payload.priority" in records[0].error
    assert handled == []


async def test_newer_version_is_redelivered_later_never_dead_lettered(
    backbone: Backbone,
) -> None:
    event = request_event("chat1", "turn1")
    future_version = raw_json(event, version=99)
    before = _sample(metrics.NEWER_VERSION, "generation.requested")

    async def handler(event: Event, delivery: Delivery) -> None:
        raise AssertionError("a newer version must not reach the handler")

    runner = run_generator_consumer(backbone, handler)
    try:
        await backbone.js.publish(
            subject_for(backbone.topology, event), future_version, headers={"Nats-Msg-Id": event.id}
        )
        # Redelivered past the delivery limit: still waiting for a reader that knows v99.
        await eventually(
            lambda: (
                _sample(metrics.NEWER_VERSION, "generation.requested")
                >= before + backbone.settings.max_deliver + 1
            ),
            timeout=15,
            message="newer version redelivered",
        )
    finally:
        await runner.stop()
    parked = await stream_events(backbone.js, backbone.topology, StreamRole.DEADLETTER)
    assert parked == []


async def test_retry_signal_waits_without_holding_and_never_dead_letters(
    backbone: Backbone,
) -> None:
    slow = request_event("chat1", "throttled")
    others = [request_event("chat2", f"free{i}") for i in range(3)]
    attempts: Counter[str] = Counter()
    done: list[str] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        attempts[event.envelope.id] += 1
        if event.envelope.id == slow.id and attempts[slow.id] <= 5:
            raise Retry(0.05, "rate slot not free yet")
        done.append(event.envelope.id)

    runner = run_generator_consumer(backbone, handler)
    try:
        await backbone.publisher.publish(slow)
        for event in others:
            await backbone.publisher.publish(event)
        await eventually(lambda: slow.id in done, message="throttled event handled")
    finally:
        await runner.stop()
    assert attempts[slow.id] == 6  # past max_deliver=3: waiting is not failing
    assert set(done) == {slow.id, *(e.id for e in others)}
    assert done.index(others[0].id) < done.index(slow.id)  # the others did not wait for it
    assert await stream_events(backbone.js, backbone.topology, StreamRole.DEADLETTER) == []


async def test_poison_signal_parks_at_first_delivery(backbone: Backbone) -> None:
    event = request_event("chat1", "turn1")

    async def handler(event: Event, delivery: Delivery) -> None:
        raise Poison("turn references an unknown bot")

    runner = run_generator_consumer(backbone, handler)
    try:
        await backbone.publisher.publish(event)
        parked = await eventually(
            lambda: stream_events(backbone.js, backbone.topology, StreamRole.DEADLETTER)
        )
    finally:
        await runner.stop()
    record = DeadLettered.model_validate(parked[0].payload)
    assert (record.reason, record.deliveries) == ("poison", 1)
    assert parked[0].causation_id == event.id


async def _at_least(n: int, awaitable: Awaitable[list[object]]) -> list[object] | None:
    items = await awaitable
    return items if len(items) >= n else None


def _sample(counter: object, *labels: str) -> float:
    return counter.labels(*labels)._value.get()  # type: ignore[attr-defined]


async def test_a_replica_whose_lease_ran_out_hands_messages_back_unhandled_or_unacked(
    backbone: Backbone,
) -> None:
    """`holds` false before the handler: not handled; turning false while the handler runs
    (a stall past the lease): handled but not acked. Either way it comes back at once."""
    held = {"now": False}
    seen: Counter[str] = Counter()
    first, second = request_event("chat1", "turn1"), request_event("chat1", "turn2")

    async def handler(event: Event, delivery: Delivery) -> None:
        seen[event.envelope.id] += 1
        if event.envelope.id == second.id and seen[second.id] == 1:
            held["now"] = False  # the lease runs out while this handler runs

    before = _sample(metrics.NOT_OWNER, "generator")
    runner = run_generator_consumer(backbone, handler, holds=lambda: held["now"])
    try:
        await backbone.publisher.publish(first)
        await eventually(
            lambda: _sample(metrics.NOT_OWNER, "generator") > before,
            message="the first message handed back",
        )
        assert seen[first.id] == 0
        held["now"] = True
        # Within less than the ack wait (5 s): handed back with a nak, not left to time out.
        await eventually(
            lambda: seen[first.id] == 1, timeout=3, message="handled once the lease is held"
        )

        await backbone.publisher.publish(second)
        await eventually(lambda: seen[second.id] == 1, message="the second handled")
        held["now"] = True
        await eventually(
            lambda: seen[second.id] == 2, timeout=3, message="handed back, handled again"
        )
    finally:
        await runner.stop()
    assert backbone.settings.ack_wait_s == 5.0
