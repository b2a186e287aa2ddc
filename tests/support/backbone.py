"""Helpers for tests that drive the backbone against a real NATS server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext

from piyasa_common.clock import SystemClock
from piyasa_common.consumer import ConsumerRunner, Delivery
from piyasa_common.publisher import Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_contracts import Envelope, EventKeys, StreamRole, Topology, decode, make_event
from piyasa_contracts.events._common import Persona
from piyasa_contracts.events.work import GenerationRequested
from piyasa_contracts.registry import Event


def settings_for(nats_url: str, prefix: str, **overrides: Any) -> BackboneSettings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "name_prefix": prefix,
        "partitions": 4,
        "ack_wait_s": 5.0,
        "max_deliver": 3,
        "nak_backoff_s": (0.05, 0.1),
        "newer_version_delay_s": 0.5,
        "lease_ttl_s": 2,
        "heartbeat_interval_s": 0.5,
        "drain_grace_s": 5.0,
        "instance_id": f"test-{prefix}",
    }
    values.update(overrides)
    return BackboneSettings(**values)


def request_event(chat_id: str, turn_id: str, *, bot_id: str = "bot1") -> Envelope:
    now = datetime.now(UTC)
    payload = GenerationRequested(
        turn_id=turn_id,
        deadline=now.replace(year=now.year + 1),
        bot_id=bot_id,
        bot_name="Ayşe",
        persona=Persona(),
        topic="BTC/USD",
    )
    return make_event(
        payload,
        occurred_at=now,
        keys=EventKeys(bot_id=bot_id, chat_id=chat_id, turn_id=turn_id),
        actor="test",
    )


async def stream_messages(
    js: JetStreamContext, topology: Topology, role: StreamRole, subject: str | None = None
) -> list[tuple[int, dict[str, str], bytes]]:
    """Every message currently stored in a stream (or under one subject filter)."""
    name = topology.stream(role)
    info = await js.stream_info(name)
    out: list[tuple[int, dict[str, str], bytes]] = []
    if info.state.messages == 0:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            raw = await js.get_msg(name, seq)
        except Exception:
            continue
        if subject is None or _matches(subject, raw.subject):
            out.append((seq, dict(raw.headers or {}), raw.data or b""))
    return out


async def stream_events(
    js: JetStreamContext, topology: Topology, role: StreamRole, subject: str | None = None
) -> list[Envelope]:
    return [
        decode(data).envelope for _, _, data in await stream_messages(js, topology, role, subject)
    ]


def _matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


def raw_json(envelope: Envelope, **changes: Any) -> bytes:
    data = json.loads(envelope.model_dump_json(exclude_none=True))
    data.update(changes)
    return json.dumps(data).encode()


def ids(envelopes: Iterable[Envelope]) -> list[str]:
    return [e.id for e in envelopes]


def start_generator_consumer(
    js: JetStreamContext,
    publisher: Publisher,
    settings: BackboneSettings,
    handler: Callable[[Event, Delivery], Awaitable[None]],
    holds: Callable[[], bool] | None = None,
) -> ConsumerRunner:
    """A started runner of the shared `generator` durable on WORK (stop it when done)."""
    runner = ConsumerRunner(
        js=js,
        publisher=publisher,
        settings=settings,
        clock=SystemClock(),
        stream=StreamRole.WORK,
        durable="generator",
        handler=handler,
        holds=holds,
    )
    runner.start()
    return runner
