"""Stopping a consumer runner whose every handler is busy: it fetches nothing more, and
what is still running when the grace ends is nak'd, so the next replica gets it at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from piyasa_common.connection import connect, jetstream
from piyasa_common.consumer import Delivery
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_contracts import StreamRole
from piyasa_contracts.registry import Event
from tests.support.backbone import request_event, settings_for, start_generator_consumer
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

BACKLOG = 10
CONCURRENCY = 2
GRACE_S = 0.5


@pytest.fixture
async def connected(nats_url: str, prefix: str) -> AsyncIterator[tuple[NATS, BackboneSettings]]:
    # An ack wait far beyond the test: a message back before it was nak'd.
    settings = settings_for(nats_url, prefix, ack_wait_s=60.0, concurrency=CONCURRENCY)
    nc = await connect(nats_url, "drain-test")
    await provision(jetstream(nc), settings)
    try:
        yield nc, settings
    finally:
        await nc.close()


async def test_stop_with_every_handler_busy_fetches_no_more_and_naks_them_after_the_grace(
    connected: tuple[NATS, BackboneSettings],
) -> None:
    nc, settings = connected
    js = jetstream(nc)
    topology = settings.topology()
    publisher = Publisher(js, topology)
    for i in range(BACKLOG):
        await publisher.publish(request_event("chat1", f"turn{i}"))
    started: list[str] = []
    never = asyncio.Event()

    async def stuck(event: Event, delivery: Delivery) -> None:
        started.append(event.envelope.keys.turn_id or "")
        await never.wait()  # longer than any grace

    runner = start_generator_consumer(js, publisher, settings, stuck)
    await eventually(lambda: len(started) == CONCURRENCY, message="every slot busy")

    began = time.monotonic()
    await asyncio.wait_for(runner.stop(grace_s=GRACE_S), GRACE_S + 5)
    stopped_in = time.monotonic() - began

    info = await js.consumer_info(topology.stream(StreamRole.WORK), "generator")
    assert stopped_in < GRACE_S + 1.0
    assert len(started) == CONCURRENCY
    assert info.delivered is not None and info.delivered.consumer_seq == CONCURRENCY
    assert info.num_pending == BACKLOG - CONCURRENCY
    assert (info.ack_floor.consumer_seq if info.ack_floor else 0) == 0  # none acked
    # Nak'd, not left to the ack wait: a fresh pull gets them back at once.
    sub = await js.pull_subscribe_bind(durable="generator", stream=topology.stream(StreamRole.WORK))
    again = await sub.fetch(CONCURRENCY, timeout=5)
    assert sorted(m.metadata.num_delivered for m in again) == [2] * CONCURRENCY
    await sub.unsubscribe()
