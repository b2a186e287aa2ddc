"""subject_for: every event lands under its stream's root, on opaque tokens only."""

from __future__ import annotations

import json
import re

import pytest

from piyasa_contracts import (
    ALL_EVENTS,
    Envelope,
    EventKeys,
    MalformedEvent,
    Payload,
    Topology,
    subject_for,
)
from piyasa_contracts.events.config import BotChanged
from piyasa_contracts.events.conversation import ConversationPayload, ReactionAdded
from piyasa_contracts.events.work import Approved, WorkPayload
from piyasa_contracts.generate import CONTRACTS_ROOT
from piyasa_contracts.subscriptions import subject_matches
from piyasa_contracts.topology import CONSUMERS

TOPOLOGY = Topology(prefix="tenant7", partitions=32)
OPAQUE = re.compile(r"^[A-Za-z0-9_-]+$")


def _sample(event: type[Payload]) -> Envelope:
    path = CONTRACTS_ROOT / "samples" / "current" / f"{event.event_type}.v{event.version}.json"
    return Envelope.model_validate(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_subject_is_under_the_stream_root_with_opaque_tokens(event: type[Payload]) -> None:
    subject = subject_for(TOPOLOGY, _sample(event))

    root = TOPOLOGY.stream_spec(event.stream).subject_root
    assert subject.startswith(f"tenant7.{root}.")
    assert subject_matches(TOPOLOGY.stream_subjects(event.stream), subject)
    assert all(OPAQUE.match(token) for token in subject.split("."))


@pytest.mark.parametrize(
    "event",
    [e for e in ALL_EVENTS if issubclass(e, WorkPayload | ConversationPayload)],
    ids=lambda e: e.event_type,
)
def test_approved_messages_are_partitioned_by_bot_and_other_work_by_chat(
    event: type[Payload],
) -> None:
    envelope = _sample(event)
    key = getattr(envelope.keys, getattr(event, "routed_by", "chat_id"))
    assert key is not None

    tokens = subject_for(TOPOLOGY, envelope).split(".")

    assert str(TOPOLOGY.partition(key)) in tokens
    assert key in tokens


@pytest.mark.parametrize(
    "event",
    [e for e in ALL_EVENTS if issubclass(e, WorkPayload | ConversationPayload)],
    ids=lambda e: e.event_type,
)
def test_a_partitioned_consumer_gets_the_event_only_on_its_partition(event: type[Payload]) -> None:
    envelope = _sample(event)
    subject = subject_for(TOPOLOGY, envelope)
    key = getattr(envelope.keys, getattr(event, "routed_by", "chat_id"))
    assert key is not None
    owner = TOPOLOGY.partition(key)

    for spec in (s for s in CONSUMERS if s.partitioned and s.stream is event.stream):
        matches = {
            p: any(subject_matches(f, subject) for f in TOPOLOGY.consumer_filters(spec, p))
            for p in range(TOPOLOGY.partitions)
        }
        receivers = {p for p, matched in matches.items() if matched}
        assert receivers in (set(), {owner}), spec.name


def test_config_subject_is_per_aggregate_instance() -> None:
    envelope = _sample(BotChanged)
    subject = subject_for(TOPOLOGY, envelope)
    assert subject == f"tenant7.config.bot.{envelope.payload['id']}"


@pytest.mark.parametrize(
    "free_text", ["BTC/USD", "Borsa Sohbet", "dolar.TL", "alt\u0131n", "a>b", "*"]
)
def test_free_text_never_becomes_a_subject_token(free_text: str) -> None:
    chat = _sample(ReactionAdded)  # routed by chat
    with pytest.raises(ValueError):
        subject_for(TOPOLOGY, chat.model_copy(update={"keys": EventKeys(chat_id=free_text)}))

    bot = _sample(BotChanged)  # routed by its aggregate id
    with pytest.raises(ValueError):
        subject_for(TOPOLOGY, bot.model_copy(update={"payload": {**bot.payload, "id": free_text}}))


def test_work_without_its_routing_key_is_malformed() -> None:
    approved = _sample(Approved)
    with pytest.raises(MalformedEvent) as caught:
        subject_for(TOPOLOGY, approved.model_copy(update={"keys": EventKeys(chat_id="c1")}))
    assert caught.value.field == "keys.bot_id"
