# ruff: noqa: RUF001  (Turkish text on purpose)
"""The guard's folded state: config, sent messages, approvals and decisions from the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from piyasa_contracts import EventKeys, make_event
from piyasa_contracts.events._common import Position
from piyasa_contracts.events.config import HoldingChanged, SettingsChanged, StanceChanged
from piyasa_contracts.events.conversation import DispatchFailed, FailureAction, Sent
from piyasa_contracts.events.work import Approved, Rejected, RejectionReason
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.registry import Event
from piyasa_domain import LexiconStanceClassifier
from piyasa_guard.bootstrap import build_state
from piyasa_guard.hygiene import Hygiene
from piyasa_guard.model import CheckContext, DraftView
from piyasa_guard.reasons import ReasonCode
from piyasa_guard.settings import GuardSettings
from piyasa_guard.state import GuardState

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
TEXT = "Altın bugün de yükseliyor, ons fiyatı yeni rekor denemesinde."


def state(**settings: object) -> GuardState:
    return build_state(GuardSettings(instance_id="t", **settings))  # type: ignore[arg-type]


def event(payload: object, keys: EventKeys | None = None, causation: str | None = None) -> Event:
    env = make_event(payload, occurred_at=NOW, keys=keys)  # type: ignore[arg-type]
    if causation:
        env = env.model_copy(update={"causation_id": causation})
    return Event(env, payload)  # type: ignore[arg-type]


def test_stances_and_holdings_follow_their_latest_config_and_deletes() -> None:
    s = state()
    stance = StanceChanged(id="s1", bot_id="b1", topic="BTC", position=Position.BEARISH, strength=1)
    s.apply_config(event(stance), 1)
    s.apply_config(event(HoldingChanged(id="h1", bot_id="b1", symbol="ETH", quantity=2)), 2)
    assert [x.position for x in s.stances("b1") or ()] == ["bearish"]
    assert [x.symbol for x in s.holdings("b1") or ()] == ["ETH"]
    s.apply_config(event(stance.model_copy(update={"deleted": True})), 3)
    assert s.stances("b1") is None  # none left: the request's own view is used


def test_operator_overrides_change_the_policy_and_bad_ones_are_ignored() -> None:
    s = state(guard_disclaimer="YTD")
    values = {"guard": {"max_attempts": 4, "disclaimers": {"c1": "Yatırım tavsiyesi değildir."}}}
    s.apply_config(event(SettingsChanged(id=SETTINGS_ID, values=values)), 1)
    assert s.max_attempts() == 4
    assert s.policy("c1").disclaimer == "Yatırım tavsiyesi değildir."
    assert s.policy("c2").disclaimer == "YTD"
    invalid = SettingsChanged(id=SETTINGS_ID, values={"guard": {"max_attempts": -1}})
    s.apply_config(event(invalid), 2)
    assert s.max_attempts() == 4


def test_sent_messages_enter_the_window_without_their_disclaimer() -> None:
    s = state(guard_disclaimer="Yatırım tavsiyesi değildir.")
    sent = Sent(
        turn_id="t1",
        bot_id="b2",
        telegram_chat_id=-1,
        telegram_message_id=1,
        text=TEXT + "\n\nYatırım tavsiyesi değildir.",
        sent_at=NOW,
    )
    s.apply_conversation(event(sent, EventKeys(chat_id="c1", bot_id="b2")), 1)
    match = s.index.nearest(s.index.fingerprint(TEXT), chat_id="c1", bot_id="b1", now=NOW)
    assert match is not None and match.similarity == 1.0 and not match.in_flight


def test_an_approval_is_in_flight_until_its_turn_fails() -> None:
    s = state()
    approved = Approved(turn_id="t1", deadline=NOW + timedelta(minutes=1), bot_id="b2", text=TEXT)
    keys = EventKeys(chat_id="c1", bot_id="b2", turn_id="t1")
    s.apply_work(event(approved, keys, causation="draft1"), 1)
    assert s.decided("draft1") is not None
    fp = s.index.fingerprint(TEXT)
    assert s.index.nearest(fp, chat_id="c1", bot_id="b1", now=NOW) is not None
    failed = DispatchFailed(turn_id="t1", bot_id="b2", action=FailureAction.DROP)
    s.apply_conversation(event(failed, keys), 2)
    assert s.index.nearest(fp, chat_id="c1", bot_id="b1", now=NOW) is None


def test_another_replicas_rejection_is_remembered_for_a_redelivery() -> None:
    s = state()
    rejected = Rejected(
        turn_id="t1",
        deadline=NOW,
        attempt=2,
        reasons=[RejectionReason(code="direct_order", detail="alın")],
        will_retry=False,
    )
    s.apply_work(event(rejected, EventKeys(chat_id="c1"), causation="draft9"), 1)
    remembered = s.decided("draft9")
    assert remembered is not None and remembered.outcome == "dropped"
    assert [r.code.value for r in remembered.reasons] == ["direct_order"]


def fleet_settings(*, guard: dict[str, object] | None = None, **knobs: object) -> SettingsChanged:
    """The fleet's settings as the config API stores them (every knob, defaulted), with the
    guard's own overrides if given."""
    values = FleetSettings(**knobs).model_dump(mode="json")  # type: ignore[arg-type]
    if guard is not None:
        values["guard"] = guard
    return SettingsChanged(id=SETTINGS_ID, values=values)


def sent_in(chat_id: str, turn_id: str, text: str, at: datetime = NOW) -> Event:
    payload = Sent(
        turn_id=turn_id,
        bot_id="b2",
        telegram_chat_id=-1,
        telegram_message_id=1,
        text=text,
        sent_at=at,
    )
    return event(payload, EventKeys(chat_id=chat_id, bot_id="b2"))


PARAPHRASE = "Altın yine yükseliyor, ons fiyatı rekor denemesinde, dolar zayıf."
"""About 0.64 similar to TEXT."""


def test_the_fleets_dedup_threshold_decides_what_is_a_near_duplicate() -> None:
    s = state(guard_near_duplicate_threshold=0.4)
    s.apply_conversation(sent_in("c1", "t1", TEXT), 1)
    fp = s.index.fingerprint(PARAPHRASE)
    assert s.index.nearest(fp, chat_id="c1", bot_id="b1", now=NOW) is not None

    s.apply_config(event(fleet_settings(dedup_threshold=0.9)), 2)

    assert s.index.nearest(fp, chat_id="c1", bot_id="b1", now=NOW) is None


def test_the_fleets_dedup_window_bounds_the_chats_recent_messages() -> None:
    s = state()
    s.apply_config(event(fleet_settings(dedup_window_messages=10)), 1)
    s.apply_conversation(sent_in("c1", "old", TEXT, NOW - timedelta(minutes=30)), 2)
    for i in range(10):
        filler = f"Mesaj {i}: {'kısa not ' * (i + 1)}"
        s.apply_conversation(sent_in("c1", f"t{i}", filler, NOW - timedelta(minutes=20 - i)), 3)

    fp = s.index.fingerprint(PARAPHRASE)
    assert s.index.nearest(fp, chat_id="c1", bot_id="b1", now=NOW) is None  # fell out


def test_the_fleets_guard_max_retries_bounds_regenerations_and_guard_overrides_win() -> None:
    s = state(guard_max_attempts=2)
    s.apply_config(event(fleet_settings(guard_max_retries=5)), 1)
    assert s.max_attempts() == 5
    s.apply_config(event(fleet_settings(guard_max_retries=5, guard={"max_attempts": 1})), 2)
    assert s.max_attempts() == 1


def test_the_fleets_max_message_chars_caps_a_drafts_length() -> None:
    s = state()
    long = "Altın bugün yükseliyor. " * 8  # 192 characters, sentences of 24
    draft = DraftView(text=long, bot_id="b1", chat_id="c1", turn_id="t1", max_chars=400)

    def hygiene() -> tuple[int, list[ReasonCode]]:
        ctx = CheckContext(now=NOW, classifier=LexiconStanceClassifier(), policy=s.policy("c1"))
        verdict = Hygiene()(long, draft, ctx)
        return len(verdict.text or ""), [r.code for r in verdict.reasons]

    assert hygiene() == (len(long.strip()), [])
    s.apply_config(event(fleet_settings(max_message_chars=100)), 1)
    length, reasons = hygiene()
    assert reasons == [] and 60 <= length <= 100  # trimmed at a sentence end
    s.apply_config(event(fleet_settings(max_message_chars=20)), 2)
    assert hygiene()[1] == [ReasonCode.TOO_LONG]


def test_settings_of_another_aggregate_or_deleted_are_not_the_fleets() -> None:
    s = state(guard_max_attempts=2)
    for ignored in (
        SettingsChanged(id="global", values={"guard_max_retries": 7}),
        SettingsChanged(id=SETTINGS_ID, deleted=True, values={"guard_max_retries": 7}),
        SettingsChanged(id=SETTINGS_ID, values={"guard_max_retries": 70}),  # out of range
    ):
        s.apply_config(event(ignored), 1)
    assert s.max_attempts() == 2 and s.fleet is None
