"""Two replicas of a partitioned toy service: a SIGKILLed replica's partitions move
to the survivor within the lease TTL, nothing is handled twice, and output
stamped with the dead replica's epoch is rejected downstream."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext, api
from nats.js.errors import KeyNotFoundError

from piyasa_common.clock import SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.consumer import ConsumerRunner, Delivery
from piyasa_common.leases import EpochFence
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_contracts import EventKeys, StreamRole, Topology, make_event
from piyasa_contracts.events.conversation import Sent
from piyasa_contracts.events.work import Approved
from piyasa_contracts.registry import Event
from tests.chaos.processes import ServiceProcess, service_env
from tests.support.backbone import settings_for, stream_events
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

SERVICE = "toy-partitioned"
TTL = 2


@pytest.fixture
async def setup(nats_url: str, prefix: str) -> AsyncIterator[tuple[NATS, BackboneSettings]]:
    settings = settings_for(nats_url, prefix, ack_wait_s=1.0, lease_ttl_s=TTL)
    nc = await connect(nats_url, "handover-test")
    await provision(jetstream(nc), settings)
    yield nc, settings
    await nc.close()


def bots_covering(topology: Topology) -> list[str]:
    bots: dict[int, str] = {}
    n = 0
    while len(bots) < topology.partitions:
        bots.setdefault(topology.partition(f"bot{n}"), f"bot{n}")
        n += 1
    return [bots[p] for p in range(topology.partitions)]


def approval(bot_id: str, turn_id: str) -> object:
    now = datetime.now(UTC)
    payload = Approved(
        turn_id=turn_id, deadline=now + timedelta(hours=1), bot_id=bot_id, text=f"hi {turn_id}"
    )
    return make_event(
        payload, occurred_at=now, keys=EventKeys(bot_id=bot_id, chat_id="chat1", turn_id=turn_id)
    )


async def lease_owners(js: JetStreamContext, prefix: str) -> dict[int, tuple[str, int]]:
    kv = await js.key_value(f"{prefix}_leases")
    owners: dict[int, tuple[str, int]] = {}
    try:
        keys = await kv.keys()
    except Exception:
        return owners
    for key in keys:
        if key.startswith(f"{SERVICE}.p"):
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                continue  # released between the listing and the read
            if entry.value:
                data = json.loads(entry.value)
                owners[int(key.rsplit("p", 1)[1])] = (
                    data["owner"],
                    int(data.get("epoch", entry.revision)),
                )
    return owners


async def sent_turns(js: JetStreamContext, topology: Topology) -> list[str]:
    events = await stream_events(js, topology, StreamRole.CONVERSATION)
    return [e.keys.turn_id or "" for e in events if e.type == "message.sent"]


async def test_killed_replica_hands_over_and_its_epoch_is_fenced(
    nats_url: str, prefix: str, setup: tuple[NATS, BackboneSettings]
) -> None:
    nc, settings = setup
    js = jetstream(nc)
    topology = settings.topology()
    publisher = Publisher(js, topology)
    bots = bots_covering(topology)

    a = await ServiceProcess(
        "tests.chaos.toy_service", "partitioned", env=service_env(nats_url, prefix, "replica-a")
    ).start()
    b = await ServiceProcess(
        "tests.chaos.toy_service", "partitioned", env=service_env(nats_url, prefix, "replica-b")
    ).start()
    try:
        owners = await eventually(
            lambda: _split(lease_owners(js, prefix)), timeout=20, message="partitions split 2 + 2"
        )
        for n in range(40):
            await publisher.publish(approval(bots[n % len(bots)], f"first{n:02d}"))  # type: ignore[arg-type]
        await eventually(
            lambda: _count_at_least(40, sent_turns(js, topology)), timeout=20, message="first 40"
        )

        a_partitions = {p: epoch for p, (owner, epoch) in owners.items() if owner == "replica-a"}
        a.kill()
        assert await a.wait() == -9
        killed_at = time.monotonic()
        await eventually(
            lambda: _all_owned_by("replica-b", lease_owners(js, prefix), topology.partitions),
            timeout=4 * TTL + 5,
            message="survivor owns every partition",
        )
        handover_s = time.monotonic() - killed_at
        assert handover_s < 2 * TTL + 3, handover_s

        for n in range(40):
            await publisher.publish(approval(bots[n % len(bots)], f"second{n:02d}"))  # type: ignore[arg-type]
        turns = await eventually(
            lambda: _count_at_least(80, sent_turns(js, topology)), timeout=20, message="all 80"
        )
        assert sorted(turns) == sorted(
            [f"first{n:02d}" for n in range(40)] + [f"second{n:02d}" for n in range(40)]
        )

        new_owners = await lease_owners(js, prefix)
        await _fence_rejects_stale_output(js, topology, publisher, bots, a_partitions, new_owners)
    finally:
        a.kill()
        assert await b.terminate() == 0, await b.stderr_tail()


async def _fence_rejects_stale_output(
    js: JetStreamContext,
    topology: Topology,
    publisher: Publisher,
    bots: list[str],
    dead_epochs: dict[int, int],
    owners: dict[int, tuple[str, int]],
) -> None:
    partition, stale_epoch = next(iter(dead_epochs.items()))
    current_epoch = owners[partition][1]
    assert current_epoch > stale_epoch
    bot = bots[partition]
    fence = EpochFence(js, topology, SERVICE)
    await fence.start()
    audit = "audit"
    await js.add_consumer(
        topology.stream(StreamRole.CONVERSATION),
        api.ConsumerConfig(
            durable_name=audit,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.NEW,
            filter_subject=f"{topology.prefix}.conv.>",
        ),
    )
    handled: list[str] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        handled.append(event.envelope.keys.turn_id or "")

    runner = ConsumerRunner(
        js=js,
        publisher=publisher,
        settings=BackboneSettings(name_prefix=topology.prefix, partitions=topology.partitions),
        clock=SystemClock(),
        stream=StreamRole.CONVERSATION,
        durable=audit,
        handler=handler,
        fence=lambda e: fence.is_stale(
            topology.partition(e.envelope.keys.bot_id or ""), e.envelope.epoch
        ),
    )
    runner.start()
    try:
        for turn, epoch in (("late-from-dead", stale_epoch), ("from-owner", current_epoch)):
            now = datetime.now(UTC)
            sent = Sent(
                turn_id=turn,
                bot_id=bot,
                telegram_chat_id=-1,
                telegram_message_id=1,
                text="x",
                sent_at=now,
            )
            await publisher.publish(
                make_event(
                    sent,
                    occurred_at=now,
                    keys=EventKeys(bot_id=bot, chat_id="chat1", turn_id=turn),
                    epoch=epoch,
                )
            )
        await eventually(lambda: "from-owner" in handled, message="fresh output handled")
        info = await js.consumer_info(topology.stream(StreamRole.CONVERSATION), audit)
        await eventually(lambda: info.num_ack_pending == 0)
        assert handled == ["from-owner"]
    finally:
        await runner.stop()
        await fence.stop()


async def _split(owners_coro: object) -> dict[int, tuple[str, int]] | None:
    owners = await owners_coro  # type: ignore[misc]
    holders = {owner for owner, _ in owners.values()}
    if len(owners) == 4 and holders == {"replica-a", "replica-b"}:
        return owners  # type: ignore[no-any-return]
    return None


async def _all_owned_by(instance: str, owners_coro: object, partitions: int) -> bool:
    owners = await owners_coro  # type: ignore[misc]
    return len(owners) == partitions and all(o == instance for o, _ in owners.values())


async def _count_at_least(n: int, coro: object) -> list[str] | None:
    items = await coro  # type: ignore[misc]
    return items if len(items) >= n else None  # type: ignore[no-any-return]
