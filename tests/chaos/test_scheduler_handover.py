"""Two real scheduler processes; one is SIGKILLed with a turn in flight.

Its partitions move to the survivor within the lease TTL, the survivor
rebuilds the dead replica's turns in flight from the log (no chat ever has
two turns in flight), and a request stamped with the dead replica's epoch is
rejected by a fenced downstream consumer.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from piyasa_common.clock import SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.consumer import ConsumerRunner, Delivery
from piyasa_common.leases import EpochFence
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_contracts import Envelope, EventKeys, StreamRole, Topology, make_event
from piyasa_contracts.events.conversation import Sent
from piyasa_contracts.events.work import GenerationRequested
from piyasa_contracts.registry import Event
from tests.chaos.processes import ServiceProcess, service_env
from tests.support.backbone import settings_for, stream_events
from tests.support.waiting import eventually
from tests.unit.scheduler.scheduler_world import bot, chat, settings

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

SERVICE = "scheduler"
TTL = 2
DEADLINE_S = 5


@pytest.fixture
async def backbone(nats_url: str, prefix: str) -> AsyncIterator[tuple[NATS, BackboneSettings]]:
    config = settings_for(nats_url, prefix, lease_ttl_s=TTL)
    nc = await connect(nats_url, "scheduler-handover-test")
    await provision(jetstream(nc), config)
    yield nc, config
    await nc.close()


def chats_covering(topology: Topology) -> list[str]:
    """One chat id per partition."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < topology.partitions:
        found.setdefault(topology.partition(f"chat{n}"), f"chat{n}")
        n += 1
    return [found[p] for p in range(topology.partitions)]


def answered(turn_id: str) -> bool:
    """Two scheduled turns in three get sent; the rest are lost downstream and must expire."""
    try:
        return int(turn_id[-4:], 16) % 3 != 0
    except ValueError:
        return False  # the test's own requests


class Downstream:
    """A fenced stage after the scheduler: sends the requests it accepts, rejects stale ones."""

    def __init__(self, js: JetStreamContext, topology: Topology, publisher: Publisher) -> None:
        self.topology = topology
        self.publisher = publisher
        self.fence = EpochFence(js, topology, SERVICE)
        self.rejected: list[str] = []
        self.handled: list[str] = []
        self.runner = ConsumerRunner(
            js=js,
            publisher=publisher,
            settings=BackboneSettings(name_prefix=topology.prefix, partitions=topology.partitions),
            clock=SystemClock(),
            stream=StreamRole.WORK,
            durable=topology.durable_name(topology.consumer_spec("generator")),
            handler=self.handle,
            fence=self.stale,
        )

    def stale(self, event: Event) -> bool:
        env = event.envelope
        stale = self.fence.is_stale(self.topology.partition(env.keys.chat_id or ""), env.epoch)
        if stale:
            self.rejected.append(env.keys.turn_id or "")
        return stale

    async def handle(self, event: Event, delivery: Delivery) -> None:
        request = event.payload
        assert isinstance(request, GenerationRequested)
        self.handled.append(request.turn_id)
        if not answered(request.turn_id):
            return
        sent = Sent(
            turn_id=request.turn_id,
            bot_id=request.bot_id,
            telegram_chat_id=-1,
            telegram_message_id=delivery.stream_sequence,
            text=f"{request.topic} bence yükselir",
            sent_at=datetime.now(UTC),
        )
        await self.publisher.publish(
            make_event(
                sent, occurred_at=datetime.now(UTC), cause=event.envelope, keys=event.envelope.keys
            )
        )

    async def start(self) -> None:
        await self.fence.start()
        self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.fence.stop()


async def test_killed_scheduler_hands_over_without_two_turns_in_flight(
    nats_url: str, prefix: str, backbone: tuple[NATS, BackboneSettings]
) -> None:
    nc, config = backbone
    js = jetstream(nc)
    topology = config.topology()
    publisher = Publisher(js, topology)
    chat_ids = chats_covering(topology)
    now = datetime.now(UTC)
    for payload in [
        *(bot(b, hourly_limit=1000) for b in ("a", "b", "c")),
        *(chat(c, ["a", "b", "c"], target=900) for c in chat_ids),
        settings(turn_deadline_s=DEADLINE_S, min_gap_s=0, slot_grace_s=60),
    ]:
        await publisher.publish(make_event(payload, occurred_at=now))
    downstream = Downstream(js, topology, publisher)
    await downstream.start()

    env = {"PIYASA_SCHEDULER_TICK_INTERVAL_S": "0.2"}
    a = await ServiceProcess(
        "piyasa_scheduler.main", env=service_env(nats_url, prefix, "replica-a", **env)
    ).start()
    b = await ServiceProcess(
        "piyasa_scheduler.main", env=service_env(nats_url, prefix, "replica-b", **env)
    ).start()
    try:
        owners = await eventually(
            lambda: _split(lease_owners(js, prefix)), timeout=30, message="2 + 2"
        )
        a_epochs = {p: epoch for p, (owner, epoch) in owners.items() if owner == "replica-a"}

        # Kill A right after it gave a turn that nobody will answer: it dies in flight.
        stuck = await eventually(
            lambda: _unanswered_from(js, topology, a_epochs), timeout=30, message="A's stuck turn"
        )
        a.kill()
        assert await a.wait() == -9
        killed_at = time.monotonic()
        await eventually(
            lambda: _all_owned_by("replica-b", lease_owners(js, prefix), topology.partitions),
            timeout=4 * TTL + 5,
            message="survivor owns every partition",
        )
        assert time.monotonic() - killed_at < 2 * TTL + 3

        # The stuck turn expires (announced by B), then B carries A's chats on.
        stuck_chat = stuck.keys.chat_id or ""
        await eventually(
            lambda: _requests_after(js, topology, stuck_chat, stuck.occurred_at, 2),
            timeout=DEADLINE_S + 20,
            message="B schedules A's chat",
        )
        requests = await _requests(js, topology)
        closes = await _closes(js, topology)
        _assert_one_turn_in_flight(requests, closes)
        expired = [t for t, (_, kind) in closes.items() if kind == "turn.expired"]
        assert stuck.keys.turn_id in expired
        new_epoch = next(
            r.epoch
            for r in requests
            if r.keys.chat_id == stuck_chat and r.occurred_at > stuck.occurred_at
        )
        assert new_epoch is not None and stuck.epoch is not None and new_epoch > stuck.epoch

        # A request stamped with the dead replica's epoch is rejected downstream.
        late = _request(stuck_chat, "late-from-dead", stuck.epoch)
        fresh = _request(stuck_chat, "from-owner", new_epoch)
        await publisher.publish(late)
        await publisher.publish(fresh)
        await eventually(lambda: "from-owner" in downstream.handled, message="fresh handled")
        await eventually(lambda: "late-from-dead" in downstream.rejected, message="stale rejected")
        assert "late-from-dead" not in downstream.handled
    finally:
        a.kill()
        assert await b.terminate() == 0, await b.stderr_tail()
        await downstream.stop()


def _request(chat_id: str, turn_id: str, epoch: int | None) -> Envelope:
    now = datetime.now(UTC)
    payload = GenerationRequested(
        turn_id=turn_id, deadline=now + timedelta(minutes=1), bot_id="a", bot_name="Bot a",
        persona=bot("a").persona,
    )  # fmt: skip
    return make_event(
        payload,
        occurred_at=now,
        keys=EventKeys(chat_id=chat_id, bot_id="a", turn_id=turn_id),
        epoch=epoch,
    )


def _assert_one_turn_in_flight(
    requests: list[Envelope], closes: dict[str, tuple[datetime, str]]
) -> None:
    by_chat: dict[str, list[Envelope]] = defaultdict(list)
    for r in requests:
        by_chat[r.keys.chat_id or ""].append(r)
    for chat_id, turns in by_chat.items():
        turns.sort(key=lambda r: r.occurred_at)
        for before, after in pairwise(turns):
            closed = closes.get(before.keys.turn_id or "")
            assert closed is not None, (chat_id, before.keys.turn_id, "never closed")
            assert closed[0] <= after.occurred_at, (
                chat_id,
                before.keys.turn_id,
                after.keys.turn_id,
            )


async def _requests(js: JetStreamContext, topology: Topology) -> list[Envelope]:
    events = await stream_events(js, topology, StreamRole.WORK)
    return [e for e in events if e.type == "generation.requested" and e.actor == SERVICE]


async def _closes(js: JetStreamContext, topology: Topology) -> dict[str, tuple[datetime, str]]:
    """turn -> (when, how) of its first outcome."""
    out: dict[str, tuple[datetime, str]] = {}
    for e in await stream_events(js, topology, StreamRole.CONVERSATION):
        if e.type in ("message.sent", "turn.expired") and e.keys.turn_id not in out:
            out[e.keys.turn_id or ""] = (e.occurred_at, e.type)
    return out


async def _unanswered_from(
    js: JetStreamContext, topology: Topology, epochs: dict[int, int]
) -> Envelope | None:
    for r in reversed(await _requests(js, topology)):
        partition = topology.partition(r.keys.chat_id or "")
        if epochs.get(partition) == r.epoch and not answered(r.keys.turn_id or ""):
            return r
    return None


async def _requests_after(
    js: JetStreamContext, topology: Topology, chat_id: str, after: datetime, n: int
) -> bool:
    found = [
        r
        for r in await _requests(js, topology)
        if r.keys.chat_id == chat_id and r.occurred_at > after
    ]
    return len(found) >= n


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


async def _split(owners_coro: object) -> dict[int, tuple[str, int]] | None:
    owners = await owners_coro  # type: ignore[misc]
    holders = {owner for owner, _ in owners.values()}
    if len(owners) == 4 and holders == {"replica-a", "replica-b"}:
        return owners  # type: ignore[no-any-return]
    return None


async def _all_owned_by(instance: str, owners_coro: object, partitions: int) -> bool:
    owners = await owners_coro  # type: ignore[misc]
    return len(owners) == partitions and all(o == instance for o, _ in owners.values())
