"""The dispatcher's Prometheus metrics, on the process registry `/metrics` renders.

Label values are bounded: Bot API method names the client calls, Telegram's
numeric error codes, fixed outcome and reason codes, and config chat ids
(as many as the operators configured).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from piyasa_common.metrics import REGISTRY

_FAST_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

TELEGRAM_CALLS: Final = Counter(
    "piyasa_telegram_calls_total",
    "Bot API calls by method and outcome (ok, network, or Telegram's error_code).",
    ["method", "outcome"],
    registry=REGISTRY,
)
TELEGRAM_SECONDS: Final = Histogram(
    "piyasa_telegram_call_seconds",
    "Bot API call latency by method (long polls included).",
    ["method"],
    buckets=(*_FAST_BUCKETS, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
SENDS: Final = Counter(
    "piyasa_dispatcher_sends_total",
    "Turns the dispatcher finished, by outcome: sent, expired, or the error table's action "
    "(disable_in_chat, disable_bot, drop, ambiguous).",
    ["outcome"],
    registry=REGISTRY,
)
MESSAGES_SENT: Final = Counter(
    "piyasa_dispatcher_messages_sent_total",
    "Messages posted to Telegram, by config chat id.",
    ["chat_id"],
    registry=REGISTRY,
)
RETRIES: Final = Counter(
    "piyasa_dispatcher_retries_total",
    "Sends rescheduled after a failure, by reason (429, 5xx, network, migrate).",
    ["reason"],
    registry=REGISTRY,
)
RETRY_AFTER_SECONDS: Final = Counter(
    "piyasa_dispatcher_retry_after_seconds_total",
    "Seconds of pause 429 answers imposed on bots (each bot waits alone).",
    registry=REGISTRY,
)
EXPIRED: Final = Counter(
    "piyasa_dispatcher_turns_expired_total",
    "Turns dropped because their deadline passed before they could be posted, by where.",
    ["where"],
    registry=REGISTRY,
)
AMBIGUOUS: Final = Counter(
    "piyasa_dispatcher_ambiguous_total",
    "Sends whose outcome is unknown (a crash or a lost answer between recording the intent "
    "and recording Telegram's message id); never posted again, by where it was found.",
    ["where"],
    registry=REGISTRY,
)
AMBIGUOUS_WINDOW: Final = Histogram(
    "piyasa_dispatcher_ambiguous_window_seconds",
    "Time between recording a send's intent and recording Telegram's message id: a crash "
    "inside this window leaves the outcome unknown.",
    buckets=_FAST_BUCKETS,
    registry=REGISTRY,
)
APPROVED_TO_SENT: Final = Histogram(
    "piyasa_dispatcher_approved_to_sent_seconds",
    "From the approved event's time to Telegram's answer (typing and limits included).",
    buckets=(*_FAST_BUCKETS, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
SCHEDULED: Final = Gauge(
    "piyasa_dispatcher_scheduled_sends",
    "Sends persisted and waiting on this replica (typing, turn order, rate limits).",
    registry=REGISTRY,
)
TYPING: Final = Counter(
    "piyasa_dispatcher_typing_actions_total",
    "sendChatAction typing calls, by outcome (sent, skipped by the budget, failed).",
    ["outcome"],
    registry=REGISTRY,
)
UPDATES: Final = Counter(
    "piyasa_dispatcher_updates_total",
    "Telegram updates received, by source (poll, webhook) and outcome "
    "(event, duplicate, ignored, deadletter).",
    ["source", "outcome"],
    registry=REGISTRY,
)
POLL_CONFLICTS: Final = Counter(
    "piyasa_dispatcher_poll_conflicts_total",
    "getUpdates answered 409: another poller or a webhook holds the token.",
    registry=REGISTRY,
)
POLLERS: Final = Gauge(
    "piyasa_dispatcher_pollers",
    "Bots this replica long-polls (each token by exactly one replica).",
    registry=REGISTRY,
)
ACTIVE_BOTS: Final = Gauge(
    "piyasa_dispatcher_active_bots",
    "Bots with a token in the partitions this replica owns.",
    registry=REGISTRY,
)
TOKEN_CHECKS: Final = Counter(
    "piyasa_dispatcher_token_checks_total",
    "getMe checks of bot tokens, by result (verified, invalid, error).",
    ["result"],
    registry=REGISTRY,
)

_calls: dict[tuple[str, str], Counter] = {}
_seconds: dict[str, Histogram] = {}


def telegram_call(method: str, outcome: str, seconds: float) -> None:
    """Count one Bot API call (children cached: this runs on every send)."""
    counter = _calls.get((method, outcome))
    if counter is None:
        counter = _calls[(method, outcome)] = TELEGRAM_CALLS.labels(method, outcome)
    counter.inc()
    histogram = _seconds.get(method)
    if histogram is None:
        histogram = _seconds[method] = TELEGRAM_SECONDS.labels(method)
    histogram.observe(seconds)
