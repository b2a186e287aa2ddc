"""SIGTERM mid-load: the service stops fetching, finishes (or naks) what it holds within
its drain grace, exits 0, and after a restart nothing is lost and nothing is done twice.

Unlike SIGKILL (test_dispatcher_crash.py) a SIGTERM leaves no ambiguous window: the
dispatcher must not report a single turn as "outcome unknown".

- dispatcher: a real process posting to a sandbox process while 400 approved messages
  flow; SIGTERM once a third of them are out and it holds sends not posted yet. Then
  either it is started again, or (a rolling update) a second replica that ran all along
  takes its partitions over. Every chat shows each of its messages exactly once, in turn
  order, and no turn is reported failed. (The rolling update also covers the shedding
  when the second replica joins: a partition changes hands only once its work ended.)
- generator: a real process calling a fake LLM (0.3 s a call, 16 in flight) over a
  backlog of 300 requests; SIGTERM while calls are in flight, restart, and every request
  has exactly one draft, with the LLM called once per request: in-flight calls were
  finished, not abandoned and redone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable

import httpx
import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from piyasa_common.connection import connect, jetstream
from piyasa_common.heartbeat import read_heartbeats
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_contracts import StreamRole, Topology, derive_event_id
from tests.chaos.dispatcher_flow import PARTITIONS, Flow, flow_rig, wait_owner
from tests.chaos.processes import ServiceProcess, service_env
from tests.fakes.llm import OPENAI, FakeLLM
from tests.integration.dispatcher.rig import DispatcherProcess, Rig
from tests.support.backbone import request_event, settings_for, stream_events
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

GRACE_S = 5.0
"""PIYASA_DRAIN_GRACE_S of the processes: SIGTERM to exit must fit in it."""


# -- the dispatcher ------------------------------------------------------------------------

MESSAGES = 400


@pytest.fixture
async def rig(nats_url: str, prefix: str) -> AsyncIterator[Rig]:
    async with flow_rig(nats_url, prefix) as rig:
        # A SIGTERM hands partitions over by releasing their leases, not by letting them
        # expire: the production TTL keeps a load spike on this shared machine from taking
        # a lease away from a replica still at work (SIGKILL's business, not this test's).
        rig.overrides.update(drain_grace_s=GRACE_S, lease_ttl_s=6)
        yield rig


async def unacked_approvals(rig: Rig) -> int:
    """Approved messages delivered to a dispatcher and not acknowledged, over all partitions."""
    spec = rig.topology.consumer_spec("dispatcher")
    stream = rig.topology.stream(StreamRole.WORK)
    total = 0
    for partition in range(PARTITIONS):
        info = await rig.js.consumer_info(stream, rig.topology.durable_name(spec, partition))
        total += info.num_ack_pending or 0
    return total


async def scheduled_sends(rig: Rig, process: DispatcherProcess) -> float:
    """Sends the process holds persisted and not posted yet, from its own /metrics."""
    beats = await read_heartbeats(rig.js, rig.topology)
    [beat] = [b for b in beats if b.instance == process.instance]
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"http://127.0.0.1:{beat.http_port}/metrics")).text
    for family in text_string_to_metric_families(text):
        if family.name == "piyasa_dispatcher_scheduled_sends":
            return float(family.samples[0].value)
    return 0.0


@pytest.mark.parametrize("survivor", [False, True], ids=["restarted", "rolling-update"])
async def test_dispatcher_sigterm_mid_flow_exits_0_in_grace_and_each_message_is_posted_once(
    rig: Rig, survivor: bool
) -> None:
    """restarted: the only replica is stopped, then started again. rolling-update: a second
    replica runs all along and takes the stopped one's partitions over."""
    started = time.monotonic()
    flow = await Flow.create(rig)
    first = await rig.start_process()
    other = await rig.start_process() if survivor else None
    await wait_owner(rig, first, *([other] if other else []))

    publishing = asyncio.create_task(flow.publish(MESSAGES))  # ~50 a second, for ~8 s

    async def mid_flow() -> int | None:
        """A third of the messages out, and sends `first` persisted but not yet posted."""
        out = await flow.conversation_events()
        if out >= MESSAGES // 3 and await scheduled_sends(rig, first) >= 2:
            return out
        return None

    out_before = await eventually(mid_flow, timeout=30, interval=0.05, message="mid-flow")
    assert not publishing.done(), "the flow ended before the SIGTERM"
    signalled = time.monotonic()
    code = await first.terminate(timeout=GRACE_S + 20)
    drained_s = time.monotonic() - signalled
    assert code == 0, await first.stderr_tail()
    assert drained_s <= GRACE_S, f"drained in {drained_s:.1f} s"
    out_at_exit = await flow.conversation_events()

    second = other or await rig.start_process()
    await wait_owner(rig, second)
    await publishing
    await flow.wait_decided()

    report = await flow.report()
    assert report.failures == [], [e.payload for e in report.failures]
    report.assert_sent_once_per_turn()
    assert len(report.sent) == MESSAGES
    report.assert_each_posted_once_in_order(allowed_missing=set())
    assert report.sent_texts == report.posted_texts == set(flow.turns.values())
    assert await unacked_approvals(rig) == 0
    assert await second.terminate(timeout=GRACE_S + 20) == 0, await second.stderr_tail()
    print(
        f"\ndispatcher SIGTERM ({'rolling update' if survivor else 'restart'}): "
        f"{out_before} out at the signal, {out_at_exit} at exit ({drained_s:.2f} s), "
        f"{MESSAGES} posted once, {time.monotonic() - started:.1f} s"
    )


# -- the generator -------------------------------------------------------------------------

REQUESTS = 300
LLM_LATENCY_S = 0.3
LLM_CONCURRENCY = 16


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    server = FakeLLM(OPENAI, latency=LLM_LATENCY_S)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def work(nats_url: str, prefix: str) -> AsyncIterator[tuple[JetStreamContext, Topology]]:
    settings = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "sigterm-test")
    js = jetstream(nc)
    await provision(js, settings)
    try:
        yield js, settings.topology()
    finally:
        await nc.close()


def generator_process(nats_url: str, prefix: str, instance: str, llm: FakeLLM) -> ServiceProcess:
    env = service_env(
        nats_url,
        prefix,
        instance,
        PIYASA_DRAIN_GRACE_S=str(GRACE_S),
        PIYASA_ACK_WAIT_S="10",  # well above a call: no redelivery while one is in flight
        PIYASA_LLM_CONCURRENCY=str(LLM_CONCURRENCY),
        PIYASA_LLM_PROVIDERS='["openai"]',
        OPENAI_API_KEY="sk-test-0123456789",
        PIYASA_OPENAI_BASE_URL=llm.openai_base_url,
    )
    return ServiceProcess("piyasa_generator.main", env=env)


async def drafts_stored(js: JetStreamContext, topology: Topology) -> int:
    """Drafts in WORK so far: nobody consumes the guard's durable here, so it counts them."""
    info = await js.consumer_info(topology.stream(StreamRole.WORK), "guard")
    return int(info.num_pending or 0)


async def test_generator_sigterm_mid_load_exits_0_in_grace_and_restart_drafts_each_request_once(
    nats_url: str, prefix: str, llm: FakeLLM, work: tuple[JetStreamContext, Topology]
) -> None:
    js, topology = work
    requests = [request_event(f"chat{i % 7}", f"turn{i:03d}") for i in range(REQUESTS)]
    publisher = Publisher(js, topology)
    for request in requests:
        await publisher.publish(request)

    first = await generator_process(nats_url, prefix, "generator-1", llm).start()
    try:
        await eventually(
            lambda: _at_least(drafts_stored(js, topology), REQUESTS // 3),
            timeout=30,
            interval=0.05,
            message="a third of the drafts",
        )
        in_flight = llm.in_flight
        assert in_flight > 0, "no LLM call in flight at the SIGTERM"
        signalled = time.monotonic()
        code = await first.terminate(timeout=GRACE_S + 20)
        drained_s = time.monotonic() - signalled
    finally:
        first.kill()
    assert code == 0, await first.stderr_tail()
    assert drained_s <= GRACE_S, f"drained in {drained_s:.1f} s"
    at_exit = await drafts_stored(js, topology)
    assert at_exit < REQUESTS, "the backlog was gone before the SIGTERM"

    second = await generator_process(nats_url, prefix, "generator-2", llm).start()
    try:
        await eventually(
            lambda: _all_handled(js, topology), timeout=40, message="every request handled"
        )
    finally:
        assert await second.terminate(timeout=GRACE_S + 20) == 0, await second.stderr_tail()

    drafts = [
        e for e in await stream_events(js, topology, StreamRole.WORK) if e.type == "draft.created"
    ]
    assert sorted(d.id for d in drafts) == sorted(
        derive_event_id(r.id, "draft.created", 0) for r in requests
    )
    assert await stream_events(js, topology, StreamRole.DEADLETTER) == []
    closed = await stream_events(js, topology, StreamRole.CONVERSATION)
    assert closed == [], [e.type for e in closed]  # no turn dropped or expired
    assert len(llm.requests) == REQUESTS, "an in-flight call was abandoned and made again"
    print(
        f"\ngenerator SIGTERM: {in_flight} calls in flight at the signal, {at_exit} drafts at "
        f"exit ({drained_s:.2f} s), {REQUESTS} drafted once"
    )


async def _all_handled(js: JetStreamContext, topology: Topology) -> bool:
    info = await js.consumer_info(topology.stream(StreamRole.WORK), "generator")
    return not info.num_pending and not info.num_ack_pending


async def _at_least(count: Awaitable[int], n: int) -> int | None:
    found = await count
    return found if found >= n else None
