"""A service's /metrics shows each durable consumer's lag, read from JetStream by the runner.

The backlog is published before the service starts; the handler takes a message only
when the test allows it, so the lag on the real HTTP endpoint can be watched at N,
then at N - K after K were handled, then at 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from piyasa_common.connection import connect, jetstream
from piyasa_common.consumer import Delivery
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.service import Service, ServiceContext
from piyasa_contracts.registry import Event
from tests.support.backbone import request_event, settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

BACKLOG = 120
CONCURRENCY = 8
CONSUMER = "generator"  # a shared durable: its label is its name


@dataclass
class Running:
    service: Service
    allowance: asyncio.Semaphore
    http: httpx.AsyncClient

    async def consumer_gauges(self) -> dict[str, float]:
        """`piyasa_consumer_*` for our durable, as Prometheus would scrape them."""
        text = (await self.http.get("/metrics")).text
        found: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                mine = sample.labels.get("consumer") == CONSUMER
                if mine and sample.name.startswith("piyasa_consumer_"):
                    found[sample.name] = sample.value
        return found

    async def lag_is(self, lag: float, ack_pending: float) -> dict[str, float] | None:
        gauges = await self.consumer_gauges()
        wanted = {"piyasa_consumer_lag": lag, "piyasa_consumer_ack_pending": ack_pending}
        return gauges if all(gauges.get(k) == v for k, v in wanted.items()) else None


@pytest.fixture
async def running(nats_url: str, prefix: str) -> AsyncIterator[Running]:
    settings = settings_for(nats_url, prefix, consumer_lag_interval_s=0.1)
    nc = await connect(nats_url, "lag-test")
    js = jetstream(nc)
    await provision(js, settings)
    publisher = Publisher(js, settings.topology())
    for i in range(BACKLOG):  # nobody consumes yet
        await publisher.publish(request_event(f"chat{i % 5}", f"turn{i:03d}"))
    await nc.close()

    allowance = asyncio.Semaphore(0)

    async def handle(event: Event, delivery: Delivery) -> None:
        await allowance.acquire()

    async def setup(ctx: ServiceContext) -> None:
        ctx.consume(CONSUMER, handle, concurrency=CONCURRENCY)

    service = Service("lag-test", settings, setup)
    task = asyncio.create_task(service.run())
    try:
        await eventually(lambda: service.ready or task.done(), timeout=20, message="ready")
        assert not task.done(), task.result()
        assert service.context is not None
        port = service.context.health.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            yield Running(service, allowance, http)
    finally:
        for _ in range(BACKLOG):
            allowance.release()
        service.request_stop()
        assert await asyncio.wait_for(task, 30) == 0


async def test_lag_on_metrics_is_the_backlog_then_drops_as_messages_are_handled(
    running: Running,
) -> None:
    # Nothing handled yet: the whole backlog, CONCURRENCY of it held by handlers.
    at_start = await eventually(
        lambda: running.lag_is(BACKLOG, CONCURRENCY), timeout=10, message="lag at the backlog"
    )
    assert at_start is not None and at_start["piyasa_consumer_redelivered"] == 0

    handled = 50
    for _ in range(handled):
        running.allowance.release()
    await eventually(
        lambda: running.lag_is(BACKLOG - handled, CONCURRENCY),
        timeout=10,
        message=f"lag down by the {handled} handled",
    )

    for _ in range(BACKLOG - handled):
        running.allowance.release()
    await eventually(lambda: running.lag_is(0, 0), timeout=10, message="lag back to 0")
