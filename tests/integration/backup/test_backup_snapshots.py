"""The JetStream snapshot API against real servers: a stream and a KV bucket copied to an
empty server keep their sequences, deleted-message gaps, consumers' positions and revisions,
and the next write continues where the old server stopped."""

from __future__ import annotations

import os
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, KeyValueConfig, StreamConfig
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError

from piyasa_cli.backup.snapshots import (
    RESTORE_CHUNK_BYTES,
    StreamExists,
    StreamNotFound,
    restore_stream,
    snapshot_stream,
)
from tests.integration.backup.rig import empty_nats

pytestmark = pytest.mark.integration

TIMEOUTS = {"chunk_timeout_s": 10.0, "finish_timeout_s": 60.0}


def positions(info: ConsumerInfo) -> tuple[int | None, ...]:
    delivered, acked = info.delivered, info.ack_floor
    assert delivered is not None and acked is not None
    return (delivered.stream_seq, delivered.consumer_seq, acked.stream_seq, acked.consumer_seq)


async def test_a_restored_stream_continues_at_the_same_sequence(
    nc: NatsClient, prefix: str, tmp_path: Path
) -> None:
    js = nc.jetstream()
    stream, bucket = f"{prefix}_SNAP", f"{prefix}_kv"
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.snap.>"]))
    # Incompressible bodies, so that the snapshot spans several chunks each way.
    bodies = [os.urandom(64 * 1024) for _ in range(40)]
    for i, body in enumerate(bodies):
        await js.publish(f"{prefix}.snap.{i % 5}", body)
    await js.delete_msg(stream, 7)
    await js.add_consumer(
        stream, ConsumerConfig(durable_name="reader", ack_policy=AckPolicy.EXPLICIT)
    )
    reader = await js.pull_subscribe_bind("reader", stream)
    for msg in await reader.fetch(10):
        await msg.ack()
    kv = await js.create_key_value(KeyValueConfig(bucket=bucket, history=3))
    await kv.put("a", b"1")
    await kv.put("b", b"2")
    await kv.put("a", b"3")
    await kv.delete("b")
    source_info = await js.stream_info(stream)
    source_reader = await js.consumer_info(stream, "reader")

    snap = await snapshot_stream(nc, stream, tmp_path / "stream", idle_timeout_s=10)
    kv_snap = await snapshot_stream(nc, f"KV_{bucket}", tmp_path / "kv", idle_timeout_s=10)
    assert snap.size > 3 * RESTORE_CHUNK_BYTES
    assert snap.state["last_seq"] == 40 and snap.state["num_deleted"] == 1
    with pytest.raises(StreamNotFound):
        await snapshot_stream(nc, f"{prefix}_NONE", tmp_path / "none", idle_timeout_s=10)

    async with empty_nats() as url:
        other = await nats.connect(url)
        try:
            state = await restore_stream(
                other, stream, snap.config, snap.state, tmp_path / "stream", **TIMEOUTS
            )
            await restore_stream(
                other, f"KV_{bucket}", kv_snap.config, kv_snap.state, tmp_path / "kv", **TIMEOUTS
            )
            with pytest.raises(StreamExists):
                await restore_stream(
                    other, stream, snap.config, snap.state, tmp_path / "stream", **TIMEOUTS
                )

            js2 = other.jetstream()
            info = await js2.stream_info(stream)
            assert state["last_seq"] == info.state.last_seq == source_info.state.last_seq == 40
            assert info.state.messages == source_info.state.messages == 39
            assert (await js2.get_msg(stream, 20)).data == bodies[19]
            with pytest.raises(NotFoundError):
                await js2.get_msg(stream, 7)
            restored_reader = await js2.consumer_info(stream, "reader")
            assert positions(restored_reader) == positions(source_reader)
            assert restored_reader.num_pending == source_reader.num_pending
            assert (await js2.publish(f"{prefix}.snap.0", b"next")).seq == 41

            kv2 = await js2.key_value(bucket)
            a = await kv2.get("a")
            assert (a.value, a.revision) == (b"3", 3)
            with pytest.raises(KeyWrongLastSequenceError):
                await kv2.update("a", b"stale", last=1)
            assert await kv2.update("a", b"5", last=3) == 5
            assert await kv2.keys() == ["a"]
        finally:
            await other.close()
