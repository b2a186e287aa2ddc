"""Derived event ids and causal metadata."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from piyasa_contracts import EventKeys, derive_event_id, make_event, new_event_id
from piyasa_contracts.events.conversation import TurnExpired, TurnStage
from piyasa_contracts.events.work import Rejected, RejectionReason

NOW = datetime(2025, 3, 14, 10, 30, tzinfo=UTC)
CAUSE_ID = "7d2c8a0f6b4e1f9d5c3b1a9f7e5d3c1b"


def test_derived_id_is_deterministic() -> None:
    first = derive_event_id(CAUSE_ID, "draft.created", 0)
    assert first == derive_event_id(CAUSE_ID, "draft.created", 0)
    # Pinned: a change to the namespace or the recipe would re-id every event ever derived.
    assert first == "60da0b8ef8ae5e3a9b2cbd470dc453c0"


@pytest.mark.parametrize(
    ("cause", "emitted_type", "attempt"),
    [
        ("7d2c8a0f6b4e1f9d5c3b1a9f7e5d3c1c", "draft.created", 0),
        (CAUSE_ID, "turn.expired", 0),
        (CAUSE_ID, "draft.created", 1),
    ],
)
def test_derived_id_differs_when_any_input_differs(
    cause: str, emitted_type: str, attempt: int
) -> None:
    assert derive_event_id(cause, emitted_type, attempt) != derive_event_id(
        CAUSE_ID, "draft.created", 0
    )


def test_derived_id_inputs_cannot_run_into_each_other() -> None:
    assert derive_event_id("a", "b.c", 0) != derive_event_id("a.b", "c", 0)


def test_negative_attempt_is_refused() -> None:
    with pytest.raises(ValueError):
        derive_event_id(CAUSE_ID, "draft.created", -1)


def test_fresh_ids_are_unique_opaque_tokens() -> None:
    ids = {new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def _edge_event() -> TurnExpired:
    return TurnExpired(
        turn_id="t_9b3e7c1d5a2f4e8c", stage=TurnStage.SCHEDULER, reason="chat paused"
    )


def test_an_edge_event_starts_its_own_correlation() -> None:
    event = make_event(_edge_event(), occurred_at=NOW, keys=EventKeys(chat_id="c1"))

    assert event.correlation_id == event.id
    assert event.causation_id is None
    assert (event.type, event.version) == ("turn.expired", 1)


def test_a_caused_event_inherits_correlation_and_derives_its_id() -> None:
    cause = make_event(_edge_event(), occurred_at=NOW, correlation_id="corr-from-the-api")
    rejected = Rejected(
        turn_id="t_9b3e7c1d5a2f4e8c",
        deadline=NOW,
        attempt=0,
        reasons=[RejectionReason(code="near_duplicate")],
        will_retry=False,
    )

    event = make_event(rejected, occurred_at=NOW, cause=cause, attempt=2)

    assert event.correlation_id == "corr-from-the-api"
    assert event.causation_id == cause.id
    assert event.id == derive_event_id(cause.id, "draft.rejected", 2)
    # Redelivery of the same cause re-emits the very same id.
    assert make_event(rejected, occurred_at=NOW, cause=cause, attempt=2).id == event.id
    assert make_event(rejected, occurred_at=NOW, cause=cause, attempt=3).id != event.id
