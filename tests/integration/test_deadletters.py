"""Dead letters against a real NATS server: list, show, replay and purge what a
consumer parked, the way operators do through the CLI and the API."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats.errors
import pytest
from nats.js import JetStreamContext

from piyasa_common import deadletters
from piyasa_common.connection import connect, jetstream
from piyasa_common.consumer import Delivery
from piyasa_common.errors import BackboneError, Poison
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_contracts import Envelope, StreamRole, Topology, decode
from piyasa_contracts.registry import Event
from tests.support.backbone import (
    request_event,
    settings_for,
    start_generator_consumer,
    stream_events,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@dataclass
class Parking:
    """A generator consumer whose handler parks each event on its first sight
    and handles it on any later one (a replay is a new message: delivery 1 again)."""

    settings: BackboneSettings
    js: JetStreamContext
    topology: Topology
    publisher: Publisher
    seen: Counter[str]
    handled: list[str]

    async def park(self, count: int) -> list[Envelope]:
        events = [request_event(f"chat{i}", f"turn{i}") for i in range(count)]
        for event in events:
            await self.publisher.publish(event)
        await eventually(
            lambda: self._parked_at_least(count), message=f"{count} events dead-lettered"
        )
        return events

    async def _parked_at_least(self, count: int) -> bool:
        return await deadletters.count_dead_letters(self.js, self.topology) >= count


@pytest.fixture
async def parking(nats_url: str, prefix: str) -> AsyncIterator[Parking]:
    settings = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "deadletter-tests")
    js = jetstream(nc)
    await provision(js, settings)
    topology = settings.topology()
    publisher = Publisher(js, topology)
    seen: Counter[str] = Counter()
    handled: list[str] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        seen[event.envelope.id] += 1
        if seen[event.envelope.id] == 1:
            raise Poison("refused on first sight")
        handled.append(event.envelope.id)

    runner = start_generator_consumer(js, publisher, settings, handler)
    try:
        yield Parking(settings, js, topology, publisher, seen, handled)
    finally:
        await runner.stop()
        await nc.close()


async def test_parked_message_is_listed_and_shown_with_its_reason_and_original_bytes(
    parking: Parking,
) -> None:
    (event,) = await parking.park(1)

    listed = await deadletters.list_dead_letters(parking.js, parking.topology, limit=10)
    assert len(listed) == 1
    record = await deadletters.get_dead_letter(parking.js, parking.topology, listed[0].seq)

    assert record == listed[0]
    assert record.dead_letter is not None
    assert record.dead_letter.reason == "poison"
    assert record.dead_letter.error == "refused on first sight"
    assert record.dead_letter.consumer == "generator"
    assert record.dead_letter.original_id == event.id
    assert record.parked_at is not None
    assert decode(record.original_data()).envelope.id == event.id


async def test_listing_pages_by_sequence_oldest_first(parking: Parking) -> None:
    events = await parking.park(5)

    first = await deadletters.list_dead_letters(parking.js, parking.topology, limit=2)
    second = await deadletters.list_dead_letters(
        parking.js, parking.topology, limit=2, after_seq=first[-1].seq
    )
    rest = await deadletters.list_dead_letters(
        parking.js, parking.topology, limit=10, after_seq=second[-1].seq
    )

    pages = [first, second, rest]
    assert [len(page) for page in pages] == [2, 2, 1]
    seqs = [r.seq for page in pages for r in page]
    assert seqs == sorted(seqs)
    parked_ids = {r.dead_letter.original_id for page in pages for r in page if r.dead_letter}
    assert parked_ids == {e.id for e in events}
    with pytest.raises(ValueError, match="limit"):
        await deadletters.list_dead_letters(
            parking.js, parking.topology, limit=deadletters.MAX_PAGE + 1
        )


async def test_replayed_dead_letter_reaches_the_handler_and_leaves_the_queue(
    parking: Parking,
) -> None:
    (event,) = await parking.park(1)
    (record,) = await deadletters.list_dead_letters(parking.js, parking.topology, limit=10)

    result = await deadletters.replay(parking.js, parking.topology, record.seq)

    await eventually(lambda: parking.handled == [event.id], message="replay handled")
    assert result.msg_id == f"{event.id}-replay-{record.seq}"
    assert not result.duplicate
    assert result.stream == parking.topology.stream(StreamRole.WORK)
    assert await deadletters.list_dead_letters(parking.js, parking.topology, limit=10) == []
    with pytest.raises(deadletters.DeadLetterNotFound):
        await deadletters.replay(parking.js, parking.topology, record.seq)
    # The replay kept the original's other headers (type, version, trace context).
    replayed = await parking.js.get_msg(result.stream, seq=result.stream_seq)
    assert (replayed.headers or {}).get("Piyasa-Type") == "generation.requested"
    assert replayed.data == record.original_data()


async def test_replay_retried_after_a_lost_answer_is_stored_once(parking: Parking) -> None:
    (event,) = await parking.park(1)
    (record,) = await deadletters.list_dead_letters(parking.js, parking.topology, limit=10)

    # The first replay publishes, then loses the connection before deleting the dead letter.
    with pytest.raises(BackboneError):
        await deadletters.replay(_DeleteTimesOut(parking.js), parking.topology, record.seq)
    again = await deadletters.replay(parking.js, parking.topology, record.seq)

    assert again.duplicate
    await eventually(lambda: parking.handled == [event.id], message="replay handled")
    stored = [e.id for e in await stream_events(parking.js, parking.topology, StreamRole.WORK)]
    assert stored == [event.id, event.id]  # the original and exactly one replay
    assert await deadletters.count_dead_letters(parking.js, parking.topology) == 0


async def test_purge_one_then_all(parking: Parking) -> None:
    await parking.park(3)
    records = await deadletters.list_dead_letters(parking.js, parking.topology, limit=10)

    assert await deadletters.purge(parking.js, parking.topology, records[1].seq) == 1
    with pytest.raises(deadletters.DeadLetterNotFound):
        await deadletters.get_dead_letter(parking.js, parking.topology, records[1].seq)
    with pytest.raises(deadletters.DeadLetterNotFound):
        await deadletters.purge(parking.js, parking.topology, records[1].seq)
    left = await deadletters.list_dead_letters(parking.js, parking.topology, limit=10)
    assert [r.seq for r in left] == [records[0].seq, records[2].seq]

    assert await deadletters.purge(parking.js, parking.topology, None) == 2
    assert await deadletters.list_dead_letters(parking.js, parking.topology, limit=10) == []
    assert await deadletters.purge(parking.js, parking.topology, None) == 0
    assert parking.handled == []


async def test_unreadable_message_in_the_dead_letter_stream_is_listed_not_replayed(
    parking: Parking,
) -> None:
    subject = parking.topology.deadletter_subject("someone")
    await parking.js.publish(subject, b"not an event")

    (record,) = await deadletters.list_dead_letters(parking.js, parking.topology, limit=10)

    assert record.dead_letter is None
    assert record.problem
    with pytest.raises(deadletters.NotADeadLetter):
        await deadletters.replay(parking.js, parking.topology, record.seq)
    assert await deadletters.purge(parking.js, parking.topology, record.seq) == 1


async def test_missing_sequence_and_unprovisioned_prefix_are_clear_errors(
    parking: Parking,
) -> None:
    with pytest.raises(deadletters.DeadLetterNotFound, match="sequence 12345"):
        await deadletters.get_dead_letter(parking.js, parking.topology, 12345)
    elsewhere = Topology(prefix=parking.topology.prefix + "x")
    with pytest.raises(deadletters.DeadLetterStreamMissing, match="_DEADLETTER"):
        await deadletters.list_dead_letters(parking.js, elsewhere, limit=1)


class _DeleteTimesOut:
    """A JetStream context whose message deletes never get an answer."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def delete_msg(self, stream_name: str, seq: int) -> bool:
        raise nats.errors.TimeoutError
