"""The scheduler's metrics, on the process registry. Labels are closed sets.

Counted on the replica that owns the chat's partition, once per event: the
followers that every replica runs fold state but count nothing.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

from piyasa_common.metrics import REGISTRY
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    FailureAction,
    Sent,
    TurnDropped,
    TurnExpired,
    TurnStage,
)
from piyasa_contracts.registry import Event
from piyasa_scheduler.core import Decision, React, Request
from piyasa_scheduler.ledger import Outcome, TurnReason

EXPIRY_REASONS: Final = (
    "deadline",
    "chat_paused",
    "chat_stopped",
    "chat_removed",
    "bot_paused",
    "bot_stopped",
    "bot_disabled",
    "bot_removed",
)
"""The scheduler's own expiry reasons; other stages' free-text reasons count as `other`."""

REQUESTS: Final = Counter(
    "piyasa_scheduler_requests_total",
    "Generation requests emitted, by reason: scheduled (the chat's pace), human (a reply "
    "to a human's message), mention (a reply to a mention of a bot or a reply to it).",
    ["reason"],
    registry=REGISTRY,
)
TURNS_EXPIRED: Final = Counter(
    "piyasa_scheduler_turns_expired_total",
    "Turns announced expired, by the stage that announced it and a reason code.",
    ["stage", "reason"],
    registry=REGISTRY,
)
TURN_OUTCOMES: Final = Counter(
    "piyasa_scheduler_turn_outcomes_total",
    "Turns closed in the ledger, by outcome (sent, failed, dropped, expired).",
    ["outcome"],
    registry=REGISTRY,
)
TURNS_IN_FLIGHT: Final = Gauge(
    "piyasa_scheduler_turns_in_flight",
    "Turns open in the ledgers of the chats this replica schedules.",
    registry=REGISTRY,
)
CHAT_PACE: Final = Gauge(
    "piyasa_scheduler_chat_pace_per_hour",
    "Messages per hour a chat's pace calls for right now (target x activity curve; 0 when "
    "paused, stopped or outside every bot's hours), for the chats this replica schedules.",
    ["chat_id"],
    registry=REGISTRY,
)
ACTIVE_CHATS: Final = Gauge(
    "piyasa_scheduler_active_chats",
    "Chats this replica schedules that are configured, running and have bots.",
    registry=REGISTRY,
)
REACTIONS: Final = Counter(
    "piyasa_scheduler_reactions_total",
    "Reactions the scheduler gave bots to set on a line they side with or doubt.",
    registry=REGISTRY,
)
SLOTS_SKIPPED: Final = Counter(
    "piyasa_scheduler_slots_skipped_total",
    "Due slots dropped because no bot could speak within the grace period.",
    registry=REGISTRY,
)


def count_decision(decision: Decision) -> None:
    """Count what this replica published (expiries are counted when they come back)."""
    if isinstance(decision, Request):
        REQUESTS.labels(decision.turn.reason.value).inc()
    elif isinstance(decision, React):
        REACTIONS.inc()


def count_outcome(event: Event) -> None:
    """Count a turn outcome event of a partition this replica owns."""
    p = event.payload
    if isinstance(p, Sent):
        TURN_OUTCOMES.labels(Outcome.SENT.value).inc()
    elif isinstance(p, DispatchFailed) and p.action is not FailureAction.RETRY:
        TURN_OUTCOMES.labels(Outcome.FAILED.value).inc()
    elif isinstance(p, TurnDropped):
        TURN_OUTCOMES.labels(Outcome.DROPPED.value).inc()
    elif isinstance(p, TurnExpired):
        TURN_OUTCOMES.labels(Outcome.EXPIRED.value).inc()
        TURNS_EXPIRED.labels(p.stage.value, expiry_reason(p.reason)).inc()


def expiry_reason(reason: str) -> str:
    return reason if reason in EXPIRY_REASONS else "other"


for _reason in TurnReason:
    REQUESTS.labels(_reason.value)
for _outcome in Outcome:
    TURN_OUTCOMES.labels(_outcome.value)
for _reason_code in EXPIRY_REASONS:
    TURNS_EXPIRED.labels(TurnStage.SCHEDULER.value, _reason_code)

__all__ = [
    "ACTIVE_CHATS",
    "EXPIRY_REASONS",
    "REACTIONS",
    "REQUESTS",
    "SLOTS_SKIPPED",
    "TURNS_EXPIRED",
    "TURNS_IN_FLIGHT",
    "TURN_OUTCOMES",
    "count_decision",
    "count_outcome",
    "expiry_reason",
]
