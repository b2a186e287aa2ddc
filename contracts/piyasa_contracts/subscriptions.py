"""Which events each durable consumer receives, derived from the real routing.

Rather than restating the routing, each event type is routed once with probe
ids through `subject_for`, and the probe subject is matched against the
consumers' filters with NATS wildcard rules. A filter that stops matching the
subjects its events are published on therefore shows up here (and in the
generated AsyncAPI document), not in production.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from piyasa_contracts.envelope import Envelope, EventKeys, Payload
from piyasa_contracts.registry import ALL_EVENTS, subject_for
from piyasa_contracts.topology import ConsumerSpec, Topology

_PROBE_TOPOLOGY = Topology()
_PROBE_BOT = "probebot"
_PROBE_CHAT = "probechat"
_PROBE_AGGREGATE = "probeaggregate"
_PROBE_CONSUMER = "probeconsumer"

PartitionKey = Literal["bot_id", "chat_id"]


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, a trailing `>` one or more."""
    wanted, parts = pattern.split("."), subject.split(".")
    for i, want in enumerate(wanted):
        if want == ">":
            return len(parts) > i
        if i >= len(parts) or want not in ("*", parts[i]):
            return False
    return len(wanted) == len(parts)


def probe_subject(event: type[Payload], topology: Topology = _PROBE_TOPOLOGY) -> str:
    """The subject `event` is published on, for placeholder ids."""
    envelope = Envelope(
        id="probe",
        type=event.event_type,
        version=event.version,
        occurred_at=datetime(2000, 1, 1, tzinfo=UTC),
        correlation_id="probe",
        keys=EventKeys(bot_id=_PROBE_BOT, chat_id=_PROBE_CHAT, turn_id="probeturn"),
        # Only the fields routing reads: a config aggregate's id, a dead letter's consumer.
        payload={"id": _PROBE_AGGREGATE, "consumer": _PROBE_CONSUMER},
    )
    return subject_for(topology, envelope)


def partition_key(event: type[Payload]) -> PartitionKey | None:
    """The envelope key whose hash picks the event's partition, if it is partitioned."""
    tokens = probe_subject(event).split(".")
    if _PROBE_BOT in tokens:
        return "bot_id"
    if _PROBE_CHAT in tokens:
        return "chat_id"
    return None


def received_by(
    spec: ConsumerSpec, topology: Topology = _PROBE_TOPOLOGY
) -> tuple[type[Payload], ...]:
    """Events of the consumer's stream that at least one of its filters matches.

    A partitioned consumer's `{p}` is matched as a wildcard: which partition a
    subject lands in is the routing's business, tested on its own.
    """
    root = f"{topology.prefix}.{topology.stream_spec(spec.stream).subject_root}"
    patterns = [f"{root}.{f.replace('{p}', '*')}" for f in spec.filters]
    return tuple(
        event
        for event in ALL_EVENTS
        if event.stream is spec.stream
        and any(subject_matches(p, probe_subject(event, topology)) for p in patterns)
    )


def subject_template(event: type[Payload]) -> str:
    """The event's subject with its variable tokens named.

    For example `{prefix}.work.approved.{partition}.{botId}`.
    """
    ids = {
        _PROBE_BOT: "{botId}",
        _PROBE_CHAT: "{chatId}",
        _PROBE_AGGREGATE: "{aggregateId}",
        _PROBE_CONSUMER: "{consumer}",
    }
    _prefix, *rest = probe_subject(event).split(".")
    named = ["{partition}" if token.isdigit() else ids.get(token, token) for token in rest]
    return ".".join(["{prefix}", *named])
