"""The guard's metrics, on the process registry. Labels are closed sets."""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import Counter, Gauge, Histogram

from piyasa_common.metrics import REGISTRY
from piyasa_guard.reasons import ReasonCode

Outcome = Literal["approved", "rejected", "dropped", "expired"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("approved", "rejected", "dropped", "expired")

DECISIONS: Final = Counter(
    "piyasa_guard_decisions_total",
    "Drafts decided, by outcome: approved; rejected (a regeneration follows); dropped "
    "(rejected at the last attempt); expired (the turn's deadline had passed).",
    ["outcome"],
    registry=REGISTRY,
)
REJECTIONS: Final = Counter(
    "piyasa_guard_rejections_total",
    "Rejection reasons, one count per reason of each rejected draft.",
    ["reason"],
    registry=REGISTRY,
)
CHECK_SECONDS: Final = Histogram(
    "piyasa_guard_check_seconds",
    "Time of the pure check of one draft (hygiene, compliance, consistency, near-duplicates).",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
    registry=REGISTRY,
)
DEDUP_ENTRIES: Final = Gauge(
    "piyasa_guard_dedup_entries",
    "Messages in the near-duplicate windows (sent, and approved in flight).",
    registry=REGISTRY,
)

for _outcome in OUTCOMES:
    DECISIONS.labels(_outcome)
for _code in ReasonCode:
    REJECTIONS.labels(_code.value)

__all__ = ["CHECK_SECONDS", "DECISIONS", "DEDUP_ENTRIES", "OUTCOMES", "REJECTIONS", "Outcome"]
