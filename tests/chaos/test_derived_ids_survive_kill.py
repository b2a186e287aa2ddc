"""A handler SIGKILLed between publishing its derived event and acking its input
re-emits nothing new: downstream sees exactly one derived event per input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_contracts import StreamRole, Topology, derive_event_id
from tests.chaos.processes import ServiceProcess, service_env
from tests.support.backbone import request_event, settings_for, stream_events
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

REQUESTS = 20
CRASH_TURN = "turn07"


@pytest.fixture
async def js_topology(
    nats_url: str, prefix: str
) -> AsyncIterator[tuple[JetStreamContext, Topology]]:
    settings = settings_for(nats_url, prefix, ack_wait_s=1.0)
    nc = await connect(nats_url, "chaos-test")
    js = jetstream(nc)
    await provision(js, settings)
    yield js, settings.topology()
    await nc.close()


@pytest.mark.parametrize("crash_at", ["before_publish", "after_publish", "after_ack"])
async def test_killed_handler_emits_exactly_one_derived_event_per_input(
    crash_at: str, nats_url: str, prefix: str, js_topology: tuple[JetStreamContext, Topology]
) -> None:
    js, topology = js_topology
    publisher = Publisher(js, topology)
    requests = [request_event(f"chat{i % 3}", f"turn{i:02d}") for i in range(REQUESTS)]
    for request in requests:
        await publisher.publish(request)

    crashing = ServiceProcess(
        "tests.chaos.toy_service",
        "relay",
        env=service_env(
            nats_url, prefix, "relay-1", TOY_CRASH_AT=crash_at, TOY_CRASH_TURN=CRASH_TURN
        ),
    )
    await crashing.start()
    assert await crashing.wait() == -9, await crashing.stderr_tail()

    survivor = await ServiceProcess(
        "tests.chaos.toy_service", "relay", env=service_env(nats_url, prefix, "relay-2")
    ).start()
    try:
        await eventually(
            lambda: _all_acked(js, topology), timeout=30, message="every request handled and acked"
        )
    finally:
        assert await survivor.terminate() == 0, await survivor.stderr_tail()

    drafts = [
        e for e in await stream_events(js, topology, StreamRole.WORK) if e.type == "draft.created"
    ]
    expected = {derive_event_id(r.id, "draft.created", 0) for r in requests}
    assert len(drafts) == REQUESTS
    assert {d.id for d in drafts} == expected
    assert all(d.causation_id and d.correlation_id for d in drafts)


async def _all_acked(js: JetStreamContext, topology: Topology) -> bool:
    info = await js.consumer_info(topology.stream(StreamRole.WORK), "generator")
    return (
        info.num_pending == 0
        and info.num_ack_pending == 0
        and info.delivered.stream_seq >= REQUESTS
    )
