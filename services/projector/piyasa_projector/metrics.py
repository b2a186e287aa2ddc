"""The projector's metrics, on the process registry `/metrics` serves.

Labels are bounded: `table` is one of `schema.PROJECTION_TABLES`, `stream` a
stream role (CONFIG, CONVERSATION, DEADLETTER), `kind` one of `FAILURE_KINDS`.
"""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import Counter, Gauge, Histogram

from piyasa_common.metrics import REGISTRY

FailureKind = Literal["database", "broker", "gap", "position_moved", "unexpected"]
FAILURE_KINDS: Final[tuple[FailureKind, ...]] = (
    "database",
    "broker",
    "gap",
    "position_moved",
    "unexpected",
)

ROWS_WRITTEN: Final = Counter(
    "piyasa_projector_rows_written_total",
    "Rows upserted into a projection table.",
    ["table"],
    registry=REGISTRY,
)
BATCH_SECONDS: Final = Histogram(
    "piyasa_projector_batch_seconds",
    "Time to apply one fetched batch: decode, dead letters, and the Postgres transaction.",
    ["stream"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
POSITION: Final = Gauge(
    "piyasa_projector_position",
    "Last stream sequence applied and committed to Postgres.",
    ["stream"],
    registry=REGISTRY,
)
LAG: Final = Gauge(
    "piyasa_projector_lag",
    "Messages in the stream after the last one applied, as of the last fetch.",
    ["stream"],
    registry=REGISTRY,
)
FAILURES: Final = Counter(
    "piyasa_projector_failures_total",
    "Stream loops restarted from the stored position after a failure, by kind.",
    ["stream", "kind"],
    registry=REGISTRY,
)
