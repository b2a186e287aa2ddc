# ruff: noqa: RUF001  (Turkish text on purpose)
"""The drafts handler without a broker: one decision per draft, derived ids, bounded retries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from piyasa_common.clock import ManualClock
from piyasa_common.errors import Poison
from piyasa_contracts import Envelope, EventKeys, derive_event_id, make_event
from piyasa_contracts.events._common import Member, Persona
from piyasa_contracts.events.config import SettingsChanged
from piyasa_contracts.events.work import Drafted, GenerationRequested
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.registry import Event
from piyasa_domain import LexiconStanceClassifier
from piyasa_guard.bootstrap import build_state
from piyasa_guard.handler import DraftHandler, mentions_in
from piyasa_guard.settings import GuardSettings
from piyasa_guard.state import GuardState


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish_all(self, envelopes: Sequence[Envelope]) -> list[Any]:
        self.published.extend(envelopes)
        return []


def make_draft(
    text: str,
    *,
    turn: str = "turn1",
    attempt: int = 0,
    deadline: datetime | None = None,
    chat: str | None = "chat1",
    mentionable: Sequence[Member] = (),
) -> Event:
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    request = GenerationRequested(
        turn_id=turn,
        deadline=deadline or now + timedelta(minutes=5),
        bot_id="bot1",
        bot_name="Ayşe",
        persona=Persona(),
        mentionable=list(mentionable),
    )
    payload = Drafted(
        turn_id=turn,
        deadline=request.deadline,
        attempt=attempt,
        request=request,
        text=text,
        provider="offline",
        model="test",
    )
    env = make_event(
        payload, occurred_at=now, keys=EventKeys(bot_id="bot1", chat_id=chat, turn_id=turn)
    )
    return Event(env, payload)


@pytest.fixture
def rig() -> tuple[DraftHandler, FakePublisher, GuardState, ManualClock]:
    clock = ManualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    state = build_state(GuardSettings(guard_max_attempts=2, instance_id="t"))
    publisher = FakePublisher()
    handler = DraftHandler(
        state=state,
        publisher=publisher,
        clock=clock,
        classifier=LexiconStanceClassifier(),  # type: ignore[arg-type]
    )
    return handler, publisher, state, clock


async def test_a_clean_draft_is_approved_with_an_id_derived_from_it(rig: Any) -> None:
    handler, publisher, _, _ = rig
    draft = make_draft("Bugün piyasa sakin.")
    await handler(draft, None)
    [approved] = publisher.published
    assert approved.type == "message.approved"
    assert approved.id == derive_event_id(draft.envelope.id, "message.approved")
    assert approved.keys.bot_id == "bot1" and approved.keys.chat_id == "chat1"


async def test_handling_the_same_draft_twice_emits_the_same_decision(rig: Any) -> None:
    handler, publisher, _, _ = rig
    draft = make_draft("Bugün piyasa sakin.")
    await handler(draft, None)
    await handler(draft, None)
    assert len(publisher.published) == 2
    assert publisher.published[0].id == publisher.published[1].id
    assert publisher.published[0].payload == publisher.published[1].payload


async def test_a_rejection_requests_a_regeneration_with_feedback(rig: Any) -> None:
    handler, publisher, _, _ = rig
    await handler(make_draft("Hemen Bitcoin alın!"), None)
    rejected, regenerate = publisher.published
    assert rejected.type == "draft.rejected" and rejected.payload["will_retry"] is True
    assert [r["code"] for r in rejected.payload["reasons"]] == ["direct_order"]
    assert regenerate.type == "regeneration.requested"
    assert regenerate.payload["attempt"] == 1
    assert regenerate.payload["feedback"][0].startswith("direct_order")


async def test_the_last_attempt_drops_the_turn(rig: Any) -> None:
    handler, publisher, _, _ = rig
    await handler(make_draft("Hemen Bitcoin alın!", attempt=2), None)
    rejected, dropped = publisher.published
    assert rejected.payload["will_retry"] is False
    assert dropped.type == "turn.dropped" and dropped.payload["stage"] == "guard"


async def test_the_fleets_guard_max_retries_of_zero_drops_the_first_rejected_draft(
    rig: Any,
) -> None:
    handler, publisher, state, _ = rig
    values = FleetSettings(guard_max_retries=0).model_dump(mode="json")
    settings = SettingsChanged(id=SETTINGS_ID, values=values)
    state.apply_config(Event(make_event(settings, occurred_at=datetime.now(UTC)), settings), 1)

    await handler(make_draft("Hemen Bitcoin alın!", attempt=0), None)

    rejected, dropped = publisher.published
    assert rejected.payload["will_retry"] is False
    assert dropped.type == "turn.dropped"


async def test_an_expired_turn_is_dropped_as_expired(rig: Any) -> None:
    handler, publisher, _, clock = rig
    clock.advance(3600)
    await handler(make_draft("Bugün piyasa sakin."), None)
    [expired] = publisher.published
    assert expired.type == "turn.expired" and expired.payload["stage"] == "guard"


async def test_two_drafts_in_flight_in_one_chat_do_not_both_pass(rig: Any) -> None:
    handler, publisher, _, _ = rig
    await handler(
        make_draft("Altın bugün yine rekor denemesinde, ons çok hareketli.", turn="a"), None
    )
    await handler(
        make_draft("Altın bugün yine rekor denemesinde, ons epey hareketli.", turn="b"), None
    )
    assert [e.type for e in publisher.published] == [
        "message.approved",
        "draft.rejected",
        "regeneration.requested",
    ]


async def test_a_draft_without_a_chat_key_is_poison(rig: Any) -> None:
    handler, _, _, _ = rig
    with pytest.raises(Poison):
        await handler(make_draft("Selam", chat=None), None)


def test_mentions_are_counted_in_utf16() -> None:
    members = [Member(member_id="m1", display_name="Ali", username="ali_k")]
    [entity] = mentions_in("🚀 @ali_k bak", members)
    assert (entity.member_id, entity.offset, entity.length) == ("m1", 3, 6)
