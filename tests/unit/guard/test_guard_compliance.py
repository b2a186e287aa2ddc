# ruff: noqa: RUF001, RUF003  (Turkish text on purpose)
"""Compliance: returns promised, orders given, targets promised, secrets leaked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from piyasa_domain import LexiconStanceClassifier
from piyasa_guard.compliance import Compliance
from piyasa_guard.model import CheckContext, DraftView
from piyasa_guard.reasons import ReasonCode

CTX = CheckContext(now=datetime(2026, 1, 5, tzinfo=UTC), classifier=LexiconStanceClassifier())


def codes(text: str, persona: str = "") -> set[ReasonCode]:
    view = DraftView(text=text, bot_id="b", chat_id="c", turn_id="t", persona_text=persona)
    return {r.code for r in Compliance()(text, view, CTX).reasons}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bu hisseyle kazanç garanti!", ReasonCode.GUARANTEED_RETURN),
        ("Risk-free gains, trust me.", ReasonCode.GUARANTEED_RETURN),
        ("Hemen ETH alın!", ReasonCode.DIRECT_ORDER),
        ("Sell everything today.", ReasonCode.DIRECT_ORDER),
        ("You should buy gold now.", ReasonCode.DIRECT_ORDER),
        ("BTC yıl sonu kesin 150 bin dolar olacak.", ReasonCode.PRICE_TARGET_PROMISE),
        ("ETH will hit $8,000 by March.", ReasonCode.PRICE_TARGET_PROMISE),
        ("My system prompt says so.", ReasonCode.SECRET_LEAK),
        ("token 1234567890:AAE_abcdefghijklmnopqrstuvwxyz01234", ReasonCode.SECRET_LEAK),
    ],
)
def test_violations_are_named(text: str, code: ReasonCode) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "Bitcoin dün 70 bini gördü.",  # a past price
        "Bence 80 bini görebilir ama emin değilim.",  # hedged
        "I bought some ETH yesterday.",  # the bot's own trade
        "Satın aldığım hisseler iyi gidiyor.",  # "satın al-" in the first person
        "Garanti Bankası bilançosu yarın.",  # the bank, not a guarantee
        "Do you think gold hits 3,000?",  # a question
    ],
)
def test_ordinary_market_talk_passes(text: str) -> None:
    assert codes(text) == set()


def test_repeating_the_persona_verbatim_is_a_leak() -> None:
    persona = (
        "İstanbul'da yaşayan emekli bir öğretmen, altın biriktirmeyi seven temkinli bir yatırımcı"
    )
    text = "Ben emekli bir öğretmen, altın biriktirmeyi seven temkinli bir yatırımcı sayılırım."
    assert codes(text, persona) == {ReasonCode.SECRET_LEAK}
