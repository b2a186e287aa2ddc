"""The send ledger against a real NATS: what a new owner loads for its partition."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_contracts import Bucket, Topology
from piyasa_dispatcher.ledger import Record, SendLedger, State, ledger_key
from tests.support.backbone import settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def ledger(nats_url: str, prefix: str) -> AsyncIterator[tuple[SendLedger, JetStreamContext]]:
    config = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "ledger-test")
    js = jetstream(nc)
    await provision(js, config)
    try:
        yield SendLedger(js, config.topology()), js
    finally:
        await nc.close()


def record(seq: int, state: State = State.SCHEDULED) -> Record:
    return Record(state=state, seq=seq, slot_at=1.0, approved='{"x": 1}', at=1.0)


async def test_a_new_owner_loads_every_live_record_of_its_partition_and_nothing_else(
    ledger: tuple[SendLedger, JetStreamContext], prefix: str
) -> None:
    sends, js = ledger
    # More records than one fetch takes, so the load pages through them.
    for n in range(600):
        await sends.create(ledger_key(3, f"t{n:04d}"), record(n), ttl_s=600)
    stored, _ = await sends.create(ledger_key(3, "moved"), record(900), ttl_s=600)
    await sends.update(ledger_key(3, "moved"), record(900, State.INTENT), stored.revision, 600)
    await sends.create(ledger_key(4, "other"), record(1), ttl_s=600)
    await sends.create(ledger_key(3, "gone"), record(901), ttl_s=600)
    kv = await js.key_value(Topology(prefix=prefix).bucket(Bucket.SENDS))
    await kv.delete(ledger_key(3, "gone"))
    await sends.create(ledger_key(3, "expired"), record(902), ttl_s=1)

    async def expired() -> bool:
        return (await sends.get(ledger_key(3, "expired"))) is None

    await eventually(expired, timeout=10, interval=0.2, message="the TTL'd record expired")

    loaded = await sends.load(3)

    assert len(loaded) == 601
    assert loaded[ledger_key(3, "moved")].record.state is State.INTENT  # its last revision
    assert [loaded[ledger_key(3, f"t{n:04d}")].record.seq for n in range(600)] == list(range(600))
    assert await sends.load(7) == {}
    # The loader is ephemeral: nothing is left behind on the bucket's stream.
    stream = f"KV_{Topology(prefix=prefix).bucket(Bucket.SENDS)}"
    assert (await js.stream_info(stream)).state.consumer_count == 0
