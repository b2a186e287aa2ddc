"""Partition leases: fair sharing, handover within the TTL, stale epochs fenced."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from piyasa_common.clock import SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.leases import EpochFence, PartitionCallback, PartitionLeases
from piyasa_common.provisioning import provision
from tests.support.backbone import settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

PARTITIONS = 4
TTL = 2


@pytest.fixture
async def conns(nats_url: str, prefix: str) -> AsyncIterator[list[NATS]]:
    settings = settings_for(nats_url, prefix, partitions=PARTITIONS, lease_ttl_s=TTL)
    opened: list[NATS] = []
    for _ in range(3):
        opened.append(await connect(nats_url, "lease-test"))
    await provision(jetstream(opened[0]), settings)
    yield opened
    for nc in opened:
        if nc.is_connected:
            await nc.close()


def replica(
    nc: NATS, prefix: str, instance: str, on_lost: PartitionCallback | None = None
) -> PartitionLeases:
    settings = settings_for("nats://unused", prefix, partitions=PARTITIONS, lease_ttl_s=TTL)
    return PartitionLeases(
        jetstream(nc),
        settings.topology(),
        service="toy",
        instance=instance,
        ttl_s=TTL,
        clock=SystemClock(),
        on_lost=on_lost,
    )


async def owner_of(kv: KeyValue, partition: int) -> str | None:
    try:
        entry = await kv.get(f"toy.p{partition:03d}")
    except (KeyNotFoundError, KeyDeletedError):
        return None
    return str(json.loads(entry.value)["owner"]) if entry.value else None


async def test_two_replicas_share_the_partitions_without_overlap(
    conns: list[NATS], prefix: str
) -> None:
    a, b = replica(conns[0], prefix, "a"), replica(conns[1], prefix, "b")
    await a.start()
    await b.start()
    try:
        await eventually(
            lambda: len(a.owned) == 2 and len(b.owned) == 2, timeout=10, message="2 + 2 split"
        )
        assert set(a.owned).isdisjoint(b.owned)
        assert set(a.owned) | set(b.owned) == set(range(PARTITIONS))
    finally:
        await a.stop()
        await b.stop()


async def test_dead_replica_partitions_move_within_the_ttl_and_its_epoch_is_fenced(
    conns: list[NATS], prefix: str
) -> None:
    settings = settings_for("nats://unused", prefix, partitions=PARTITIONS)
    fence = EpochFence(jetstream(conns[2]), settings.topology(), "toy")
    await fence.start()
    a, b = replica(conns[0], prefix, "a"), replica(conns[1], prefix, "b")
    await a.start()
    await b.start()
    try:
        await eventually(lambda: len(a.owned) == 2 and len(b.owned) == 2, timeout=10)
        dead_partitions = dict(a.owned)
        await eventually(
            lambda: all(fence.current(p) == lease.epoch for p, lease in dead_partitions.items()),
            message="fence saw the epochs",
        )

        # Replica a dies without releasing anything: its connection just goes away.
        a._task.cancel()  # type: ignore[union-attr]
        await conns[0].close()
        loop = asyncio.get_running_loop()
        died_at = loop.time()

        await eventually(lambda: len(b.owned) == PARTITIONS, timeout=3 * TTL + 5)
        handover_s = loop.time() - died_at
        # Members expire after one TTL, then the next balancing round takes over.
        assert handover_s < TTL + TTL + 2.0, handover_s

        for partition, old in dead_partitions.items():
            new_epoch = b.owned[partition].epoch
            assert new_epoch > old.epoch
            await eventually(lambda p=partition, e=new_epoch: fence.current(p) == e)
            assert fence.is_stale(partition, old.epoch)
            assert not fence.is_stale(partition, new_epoch)
    finally:
        await b.stop()
        await fence.stop()


async def test_released_partitions_are_taken_at_once_by_the_survivor(
    conns: list[NATS], prefix: str
) -> None:
    a, b = replica(conns[0], prefix, "a"), replica(conns[1], prefix, "b")
    await a.start()
    await b.start()
    await eventually(lambda: len(a.owned) == 2 and len(b.owned) == 2, timeout=10)
    await a.stop()  # a graceful stop releases its leases and membership
    try:
        await eventually(lambda: len(b.owned) == PARTITIONS, timeout=TTL + 2)
    finally:
        await b.stop()


async def test_a_replica_that_lost_its_lease_has_no_epoch_to_act_with(
    conns: list[NATS], prefix: str
) -> None:
    a = replica(conns[0], prefix, "a")
    await a.start()
    try:
        await eventually(lambda: len(a.owned) == PARTITIONS)
        partition = next(iter(a.owned))
        assert a.epoch(partition) == a.owned[partition].epoch
        # Someone else's write bumps the key: the next renewal is refused.
        kv = await jetstream(conns[1]).key_value(f"{prefix}_leases")
        await kv.put(f"toy.p{partition:03d}", b'{"owner": "intruder"}')
        await a.tick()
        assert partition not in a.owned
        assert a.epoch(partition) is None
    finally:
        await a.stop()


async def test_a_released_partition_stays_leased_until_its_work_has_ended(
    conns: list[NATS], prefix: str
) -> None:
    kv = await jetstream(conns[1]).key_value(f"{prefix}_leases")
    seen_while_ending: dict[int, str | None] = {}

    async def ending(partition: int, epoch: int) -> None:
        seen_while_ending[partition] = await owner_of(kv, partition)

    a = replica(conns[0], prefix, "a", on_lost=ending)
    await a.start()
    await eventually(lambda: len(a.owned) == PARTITIONS)

    await a.stop()

    # Nobody could take a partition while its work was still ending here.
    assert seen_while_ending == dict.fromkeys(range(PARTITIONS), "a")
    assert [await owner_of(kv, p) for p in range(PARTITIONS)] == [None] * PARTITIONS


async def test_a_release_that_outlived_its_lease_leaves_the_next_owner_s_key_alone(
    conns: list[NATS], prefix: str
) -> None:
    kv = await jetstream(conns[1]).key_value(f"{prefix}_leases")

    async def slow(partition: int, epoch: int) -> None:
        # Meanwhile the lease expired and another replica took the partition.
        await kv.put(f"toy.p{partition:03d}", json.dumps({"owner": "next"}).encode())

    a = replica(conns[0], prefix, "a", on_lost=slow)
    await a.start()
    await eventually(lambda: len(a.owned) == PARTITIONS)

    await a.stop()

    assert [await owner_of(kv, p) for p in range(PARTITIONS)] == ["next"] * PARTITIONS


async def test_a_slow_handover_does_not_hold_up_the_renewals_of_the_partitions_kept(
    conns: list[NATS], prefix: str
) -> None:
    """`a` hands two partitions to `b`, and their work takes three TTLs to end: the two it
    keeps are renewed meanwhile (never lost, never taken), and the two it gives are not
    taken by `b` before their work has ended."""
    kv = await jetstream(conns[2]).key_value(f"{prefix}_leases")
    ending = asyncio.Event()
    ended: list[int] = []

    async def slow(partition: int, epoch: int) -> None:
        await ending.wait()
        ended.append(partition)

    a = replica(conns[0], prefix, "a", on_lost=slow)
    await a.start()
    await eventually(lambda: len(a.owned) == PARTITIONS)
    epochs = {p: lease.epoch for p, lease in a.owned.items()}
    b = replica(conns[1], prefix, "b")
    await b.start()
    try:
        await eventually(lambda: len(a.owned) == 2, timeout=10, message="a gives two away")
        kept = set(a.owned)
        leaving = set(range(PARTITIONS)) - kept
        three_ttls_on = time.monotonic() + 3 * TTL

        async def renewed_for_three_ttls() -> bool:
            """Checked at every poll until `a` has renewed its kept leases 3 TTLs on."""
            assert set(a.owned) == kept, "a lost a partition it kept"
            assert all(a.epoch(p) == epochs[p] for p in kept), "a kept lease ran out"
            assert set(b.owned).isdisjoint(leaving), "b took a partition still ending"
            assert [await owner_of(kv, p) for p in sorted(kept)] == ["a", "a"]
            return all(lease.renewed_at >= three_ttls_on for lease in a.owned.values())

        await eventually(renewed_for_three_ttls, timeout=5 * TTL, interval=TTL / 4)

        ending.set()
        await eventually(lambda: set(b.owned) == leaving, timeout=10, message="b takes them")
        assert sorted(ended) == sorted(leaving)
    finally:
        ending.set()
        await a.stop()
        await b.stop()
