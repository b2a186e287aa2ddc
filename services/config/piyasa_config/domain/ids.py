"""Ids of aggregates whose identity is a natural key.

A stance is one bot's view of one topic, a holding one bot's position in one
symbol, a control the state of one scope and target: their ids are derived
from that key, so creating the same one twice lands on the same subject and
JetStream's expected-sequence check refuses the second, with no reservation
needed. Topics and symbols are free text and never become subject tokens:
only the derived hex id does.
"""

from __future__ import annotations

import uuid

from piyasa_contracts.events.config import ControlScope

_NAMESPACE = uuid.UUID("1b7c4f0e-7a52-5e8e-9d3b-636f6e666967")  # fixed forever


def _derive(*parts: str) -> str:
    return uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex


def stance_id(bot_id: str, topic: str) -> str:
    return _derive("stance", bot_id, topic.strip().casefold())


def holding_id(bot_id: str, symbol: str) -> str:
    return _derive("holding", bot_id, symbol.strip().upper())


def control_id(scope: ControlScope, target_id: str | None) -> str:
    if scope is ControlScope.FLEET:
        return "fleet"
    return _derive("control", scope.value, target_id or "")


def wizard_aggregate_id(wizard_id: str, kind: str, index: int = 0) -> str:
    """The id of the `index`-th `kind` the wizard run `wizard_id` creates."""
    return _derive("wizard", wizard_id, kind, str(index))


def wizard_event_id(wizard_id: str, aggregate_id: str) -> str:
    """The id of the event that creates it: a retried run finds its own event stored."""
    return _derive("wizard-event", wizard_id, aggregate_id)
