"""The backbone's Prometheus metrics, on one registry per process.

Every service exposes `REGISTRY` at `/metrics` (see `piyasa_common.http`).
Services add their own metrics (LLM calls, Telegram calls, ...) to the same
`REGISTRY` in their own modules; this module holds only what the backbone
records: consuming, publishing, consumer state, leases and start-up.

Label values are bounded, never free text:

- `consumer` is a consumer name from `piyasa_contracts.topology`: the consumer's
  (`dispatcher`) on per-event metrics, the durable's (`dispatcher-p007`, one per
  partition) on the consumer-info gauges (lag, ack pending, redelivered);
- `type` is an event type from the contracts registry
  (`piyasa_contracts.registry`), never a value read from an unknown message:
  an undecodable or unknown message is counted with `type="unknown"`;
- `service` is the service's own name;
- `outcome`, `change` take the values listed in the `Literal` aliases below;
- `reason` is a short fixed code chosen by the consumer runner
  (e.g. `max_deliveries`, `malformed`, `unknown_type`), never an exception text;
- `from_version` is a schema version number.
"""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = [
    "CONSUMER_ACK_PENDING",
    "CONSUMER_LAG",
    "CONSUMER_REDELIVERED",
    "CONSUME_OUTCOMES",
    "DEAD_LETTERS",
    "EVENTS_CONSUMED",
    "EVENTS_PUBLISHED",
    "HANDLER_SECONDS",
    "LEASE_CHANGES",
    "LEASE_CHANGE_KINDS",
    "LEASE_PARTITIONS_OWNED",
    "NEWER_VERSION",
    "NOT_OWNER",
    "PUBLISH_OUTCOMES",
    "PUBLISH_RETRIES",
    "REGISTRY",
    "SERVICE_READY",
    "STALE_EPOCH_REJECTED",
    "STARTUP_SECONDS",
    "UNKNOWN_TYPE",
    "UPCAST",
    "ConsumeOutcome",
    "LeaseChange",
    "PublishOutcome",
    "render_latest",
]

ConsumeOutcome = Literal["ack", "nak", "deadletter", "newer_version", "skipped"]
PublishOutcome = Literal["ok", "duplicate", "error"]
LeaseChange = Literal["acquired", "lost", "released"]

CONSUME_OUTCOMES: Final[tuple[ConsumeOutcome, ...]] = (
    "ack",
    "nak",
    "deadletter",
    "newer_version",
    "skipped",
)
PUBLISH_OUTCOMES: Final[tuple[PublishOutcome, ...]] = ("ok", "duplicate", "error")
LEASE_CHANGE_KINDS: Final[tuple[LeaseChange, ...]] = ("acquired", "lost", "released")

UNKNOWN_TYPE: Final = "unknown"
"""The `type` label for a message whose type is not in the contracts registry."""

REGISTRY: Final = CollectorRegistry(auto_describe=True)
"""This process's registry; `/metrics` renders exactly this."""

# Process, platform and GC figures come for free and explain many incidents.
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# Handlers range from a projection's row write (milliseconds) to a generator's
# LLM call (tens of seconds): the buckets cover both ends.
_HANDLER_BUCKETS: Final = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

EVENTS_CONSUMED: Final = Counter(
    "piyasa_events_consumed_total",
    "Events handled by a consumer, by event type and outcome "
    "(ack, nak, deadletter, newer_version, skipped).",
    ["consumer", "type", "outcome"],
    registry=REGISTRY,
)
EVENTS_PUBLISHED: Final = Counter(
    "piyasa_events_published_total",
    "Events published, by event type and outcome (ok, duplicate, error); "
    "a duplicate is JetStream dropping a repeated Nats-Msg-Id and counts as success.",
    ["type", "outcome"],
    registry=REGISTRY,
)
HANDLER_SECONDS: Final = Histogram(
    "piyasa_handler_seconds",
    "Time a consumer's handler took for one event, from decode to ack/nak.",
    ["consumer"],
    buckets=_HANDLER_BUCKETS,
    registry=REGISTRY,
)
# The three consumer gauges are JetStream's consumer info, read by the service runner every
# PIYASA_CONSUMER_LAG_INTERVAL_S (piyasa_common.lag); `consumer` is the durable's name.
CONSUMER_LAG: Final = Gauge(
    "piyasa_consumer_lag",
    "Messages the durable consumer has not finished: not yet delivered (num_pending) plus "
    "delivered and not yet acknowledged (num_ack_pending: in a handler, or nak'd and waiting "
    "for redelivery). NATS' own jetstream_consumer_num_pending counts the first part only.",
    ["consumer"],
    registry=REGISTRY,
)
CONSUMER_ACK_PENDING: Final = Gauge(
    "piyasa_consumer_ack_pending",
    "Messages delivered to the durable consumer and not yet acknowledged (num_ack_pending).",
    ["consumer"],
    registry=REGISTRY,
)
CONSUMER_REDELIVERED: Final = Gauge(
    "piyasa_consumer_redelivered",
    "Messages the durable consumer has delivered more than once and not yet acknowledged "
    "(num_redelivered): naks and ack timeouts still being worked off.",
    ["consumer"],
    registry=REGISTRY,
)
DEAD_LETTERS: Final = Counter(
    "piyasa_dead_letters_total",
    "Events parked on the dead-letter subject, by consumer and a fixed reason code.",
    ["consumer", "reason"],
    registry=REGISTRY,
)
NEWER_VERSION: Final = Counter(
    "piyasa_newer_version_total",
    "Events of a schema version newer than this reader knows, nak'd with a delay; "
    "non-zero outside a rolling update means a consumer is behind its producers.",
    ["type"],
    registry=REGISTRY,
)
UPCAST: Final = Counter(
    "piyasa_upcast_total",
    "Events read at an older schema version and upcast to the current one.",
    ["type", "from_version"],
    registry=REGISTRY,
)
LEASE_PARTITIONS_OWNED: Final = Gauge(
    "piyasa_lease_partitions_owned",
    "Partitions whose lease this replica currently holds.",
    ["service"],
    registry=REGISTRY,
)
LEASE_CHANGES: Final = Counter(
    "piyasa_lease_changes_total",
    "Partition lease changes on this replica (acquired, lost, released).",
    ["service", "change"],
    registry=REGISTRY,
)
NOT_OWNER: Final = Counter(
    "piyasa_partition_not_owner_total",
    "Messages handed back (nak) because this replica's partition lease may have expired.",
    ["consumer"],
    registry=REGISTRY,
)
STALE_EPOCH_REJECTED: Final = Counter(
    "piyasa_stale_epoch_rejected_total",
    "Events rejected because they came from a partition owner whose lease epoch is stale.",
    ["consumer"],
    registry=REGISTRY,
)
SERVICE_READY: Final = Gauge(
    "piyasa_service_ready",
    "1 while the service reports ready (every readiness check passes), else 0.",
    ["service"],
    registry=REGISTRY,
)
STARTUP_SECONDS: Final = Gauge(
    "piyasa_startup_seconds",
    "Seconds from process start to first ready (state loaded and caught up).",
    ["service"],
    registry=REGISTRY,
)
PUBLISH_RETRIES: Final = Counter(
    "piyasa_publish_retries_total",
    "Publish attempts retried after a timeout or a lost ack (same Nats-Msg-Id).",
    registry=REGISTRY,
)


def render_latest() -> tuple[bytes, str]:
    """The registry in Prometheus text format, and the content type to serve it with."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
