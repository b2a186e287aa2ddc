# ruff: noqa: RUF001  (Turkish text on purpose)
"""Stance and holding consistency: binding stances, cooldowns, open and closed positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from piyasa_domain import LexiconStanceClassifier, StanceReading
from piyasa_guard.consistency import HoldingConsistency, StanceConsistency
from piyasa_guard.model import CheckContext, DraftView, HoldingFact, Policy, StanceFact
from piyasa_guard.reasons import ReasonCode

NOW = datetime(2026, 1, 5, tzinfo=UTC)
COOLING = NOW + timedelta(hours=6)


def stance_codes(text: str, *stances: StanceFact, **ctx: object) -> list[ReasonCode]:
    context = CheckContext(
        now=NOW,
        classifier=LexiconStanceClassifier(),
        stances=stances,
        **ctx,  # type: ignore[arg-type]
    )
    view = DraftView(text=text, bot_id="b", chat_id="c", turn_id="t")
    return [r.code for r in StanceConsistency()(text, view, context).reasons]


def holding_codes(text: str, *holdings: HoldingFact) -> list[ReasonCode]:
    context = CheckContext(now=NOW, classifier=LexiconStanceClassifier(), holdings=holdings)
    view = DraftView(text=text, bot_id="b", chat_id="c", turn_id="t")
    return [r.code for r in HoldingConsistency()(text, view, context).reasons]


def test_a_bearish_bot_cheering_a_rally_in_its_cooldown_is_rejected() -> None:
    bearish = StanceFact("BTC/USD", "bearish", 0.5, COOLING)
    assert stance_codes("Bitcoin rallisi harika, yukarı!", bearish) == [
        ReasonCode.STANCE_CONTRADICTION
    ]


def test_a_weak_stance_out_of_its_cooldown_may_drift() -> None:
    weak = StanceFact("BTC", "bearish", 0.3, NOW - timedelta(hours=1))
    assert stance_codes("Bitcoin rallisi harika, yukarı!", weak) == []


def test_a_firm_stance_binds_without_a_cooldown() -> None:
    firm = StanceFact("gold", "bullish", 0.9, None)
    assert stance_codes("Gold is going to crash.", firm) == [ReasonCode.STANCE_CONTRADICTION]


def test_agreeing_and_unrelated_drafts_pass() -> None:
    bearish = StanceFact("BTC", "bearish", 0.8, COOLING)
    assert stance_codes("Bitcoin yükselmez, hacim yok.", bearish) == []
    assert stance_codes("Altın yükseliyor.", bearish) == []


def test_a_judges_readings_replace_the_classifier() -> None:
    bearish = StanceFact("BTC", "bearish", 0.8, COOLING)
    judged = [StanceReading("BTC", "bullish", 0.9, ("llm: cheering",))]
    assert stance_codes("Hmm.", bearish, readings=judged) == [ReasonCode.STANCE_CONTRADICTION]


def test_the_confidence_threshold_is_a_policy() -> None:
    bearish = StanceFact("BTC", "bearish", 0.8, COOLING)
    strict = Policy(stance_confidence=0.99)
    assert stance_codes("Bitcoin yükselecek.", bearish, policy=strict) == []


def test_saying_none_of_a_held_symbol_is_rejected() -> None:
    assert holding_codes("Hiç Bitcoin almadım.", HoldingFact("BTC", 0.5)) == [
        ReasonCode.HOLDING_CONTRADICTION
    ]
    assert holding_codes("I don't own any gold.", HoldingFact("XAU", 3)) == [
        ReasonCode.HOLDING_CONTRADICTION
    ]


def test_saying_none_of_crypto_contradicts_holding_a_coin() -> None:
    assert holding_codes("Kriptoda hiç param yok.", HoldingFact("ETH", 1)) == [
        ReasonCode.HOLDING_CONTRADICTION
    ]


def test_claiming_a_closed_position_is_rejected() -> None:
    assert holding_codes("I'm still holding my Tesla.", HoldingFact("TSLA", 0)) == [
        ReasonCode.HOLDING_CONTRADICTION
    ]


def test_claims_about_other_symbols_or_people_pass() -> None:
    assert holding_codes("Hiç ETH almadım.", HoldingFact("BTC", 1)) == []
    assert holding_codes("Ahmet hiç Bitcoin almamış.", HoldingFact("BTC", 1)) == []
    assert holding_codes("Bitcoin'lerimi satmıyorum.", HoldingFact("BTC", 1)) == []
