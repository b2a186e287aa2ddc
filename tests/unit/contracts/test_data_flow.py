"""Who sends and who receives each event: producers.py and subscriptions.py."""

from __future__ import annotations

import pytest

from piyasa_contracts import ALL_EVENTS, CONSUMERS
from piyasa_contracts.events.system import DeadLettered
from piyasa_contracts.producers import CONSUMER_OWNERS, Service, owner_of, producers_of, sent_by
from piyasa_contracts.subscriptions import received_by, subject_matches


def test_every_event_has_a_producer_and_every_consumer_an_owner() -> None:
    assert all(producers_of(event) for event in ALL_EVENTS)
    assert set(CONSUMER_OWNERS) == {spec.name for spec in CONSUMERS}


def test_only_services_that_consume_park_dead_letters() -> None:
    assert DeadLettered not in sent_by(Service.CONFIG)
    assert DeadLettered in sent_by(Service.GUARD)
    with pytest.raises(KeyError):
        owner_of("nobody")


def test_each_consumer_receives_the_events_its_service_handles() -> None:
    received = {spec.name: {e.event_type for e in received_by(spec)} for spec in CONSUMERS}

    assert received["generator"] == {"generation.requested", "regeneration.requested"}
    assert received["guard"] == {"draft.created"}
    assert received["dispatcher"] == {"message.approved", "reaction.approved"}
    assert "message.received" in received["scheduler"]
    assert "turn.expired" in received["scheduler"]
    assert "projector-config" not in received  # the projector's cursor lives in PostgreSQL


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("a.b.>", "a.b.c", True),
        ("a.b.>", "a.b.c.d", True),
        ("a.b.>", "a.b", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.d", False),
        ("a.*", "a.b.c", False),
        ("a.b", "a.b", True),
    ],
)
def test_subject_matching_follows_nats_wildcards(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches
