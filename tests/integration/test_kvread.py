"""Reading a KV bucket exactly: every live entry, past a fetch batch, without the deleted,
purged or expired ones."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import KeyNotFoundError

from piyasa_common.connection import jetstream
from piyasa_common.kvread import kv_entries, kv_keys
from piyasa_common.provisioning import provision
from piyasa_contracts import Bucket
from tests.support.backbone import settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_every_live_entry_and_only_those(nc: NatsClient, nats_url: str, prefix: str) -> None:
    settings = settings_for(nats_url, prefix)
    js = jetstream(nc)
    await provision(js, settings)
    bucket = settings.topology().bucket(Bucket.SENDS)  # TTL'd records, like the ledger's
    kv = await js.key_value(bucket)
    for n in range(600):  # more than one fetch batch
        await kv.put(f"p001.t{n:04d}", f"v{n}".encode())
    await kv.put("p001.t0007", b"again")  # only the last value counts
    await kv.put("p002.other", b"x")
    await kv.delete("p001.t0001")
    await kv.purge("p001.t0002")
    await js.publish(f"$KV.{bucket}.p001.short", b"soon gone", msg_ttl=1)

    async def expired() -> bool:
        try:
            await kv.get("p001.short")
        except KeyNotFoundError:
            return True
        return False

    await eventually(expired, timeout=10, interval=0.1, message="the short record expired")

    entries = await kv_entries(js, bucket, "p001.>")

    assert len(entries) == 598
    assert {"p001.t0001", "p001.t0002", "p001.short", "p002.other"}.isdisjoint(entries)
    assert entries["p001.t0007"].value == b"again"
    assert entries["p001.t0599"].value == b"v599"
    assert entries["p001.t0599"].revision == (await kv.get("p001.t0599")).revision
    keys = await kv_keys(js, bucket)
    assert len(keys) == 599 and keys == sorted(keys) and "p002.other" in keys


async def test_an_empty_selection_is_empty(nc: NatsClient, nats_url: str, prefix: str) -> None:
    settings = settings_for(nats_url, prefix)
    js = jetstream(nc)
    await provision(js, settings)

    assert await kv_entries(js, settings.topology().bucket(Bucket.SENDS), "p009.>") == {}


async def test_the_reader_leaves_no_consumer_behind(
    nc: NatsClient, nats_url: str, prefix: str
) -> None:
    settings = settings_for(nats_url, prefix)
    js = jetstream(nc)
    await provision(js, settings)
    bucket = settings.topology().bucket(Bucket.SENDS)
    await (await js.key_value(bucket)).put("p001.a", b"1")

    await kv_entries(js, bucket)

    assert (await js.stream_info(f"KV_{bucket}")).state.consumer_count == 0
