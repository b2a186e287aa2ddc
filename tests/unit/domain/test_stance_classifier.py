# ruff: noqa: RUF001  (Turkish text on purpose)
"""The offline stance classifier: cues, negation (TR and EN), contrast, attribution."""

from __future__ import annotations

import pytest

from piyasa_domain import BEARISH, BULLISH, LexiconStanceClassifier, StanceReading

classifier = LexiconStanceClassifier()


def reading(text: str, topic: str, default_topic: str | None = None) -> StanceReading | None:
    readings = classifier.classify(text, topics=[topic], default_topic=default_topic)
    return next((r for r in readings if r.topic == topic), None)


@pytest.mark.parametrize(
    ("text", "topic", "position"),
    [
        ("Bitcoin bu hafta sert yükselecek gibi.", "BTC", BULLISH),
        ("Altın fiyatı çakılıyor.", "XAU", BEARISH),
        ("ETH is breaking out nicely.", "ETH", BULLISH),
        ("Tesla looks like it will tank.", "TSLA", BEARISH),
        ("THYAO'da satış baskısı var.", "THYAO", BEARISH),
        ("Gumus yukseliste, fiyat tirmaniyor.", "XAG", BULLISH),  # typed without Turkish letters
    ],
)
def test_plain_cues_give_the_position(text: str, topic: str, position: str) -> None:
    found = reading(text, topic)
    assert found is not None and found.position == position


@pytest.mark.parametrize(
    ("text", "topic", "position"),
    [
        # -me/-ma verb negation flips the verb's sense
        ("Bitcoin bu seviyeden düşmez.", "BTC", BULLISH),
        ("Altın yükselmeyecek.", "XAU", BEARISH),
        ("Borsa artık çökmüyor.", "BIST100", BULLISH),
        # değil / yok after the cue
        ("Ethereum'da yükseliş değil, düzeltme var.", "ETH", BEARISH),
        ("Dolar tarafında düşüş yok.", "USD", BULLISH),
        # believing / expecting verbs negated
        ("Gümüşün yükseleceğini sanmıyorum.", "XAG", BEARISH),
        # "-me" verbal nouns are not negation
        ("Bitcoin'in yükselmesi bekleniyor.", "BTC", BULLISH),
        ("Altın yükselmeye devam ediyor.", "XAU", BULLISH),
    ],
)
def test_turkish_negation(text: str, topic: str, position: str) -> None:
    found = reading(text, topic)
    assert found is not None, classifier.classify(text)
    assert found.position == position, found


@pytest.mark.parametrize(
    ("text", "topic", "position"),
    [
        ("Bitcoin is not going to crash.", "BTC", BULLISH),
        ("I never expected gold to rally, and it won't.", "XAU", BEARISH),
        ("Oil is no longer rising.", "BRENT", BEARISH),
        ("Nvidia won't fall much from here.", "NVDA", BULLISH),
        ("This Solana pump won't last.", "SOL", BEARISH),
        ("The ETH sell-off is over.", "ETH", BULLISH),
        ("Apple isn't done dropping.", "AAPL", BEARISH),
    ],
)
def test_english_negation(text: str, topic: str, position: str) -> None:
    found = reading(text, topic)
    assert found is not None, classifier.classify(text)
    assert found.position == position, found


def test_what_follows_but_outweighs_what_comes_before() -> None:
    found = reading("Herkes Bitcoin yükselecek diyor ama bence çakılacak.", "BTC")
    assert found is not None and found.position == BEARISH


def test_a_question_takes_no_confident_position() -> None:
    found = reading("Sizce Ethereum yükselir mi?", "ETH")
    assert found is None or found.confidence < 0.5


def test_cues_go_to_the_asset_they_are_about() -> None:
    readings = {r.topic: r for r in classifier.classify("Altın yükseliyor ama Bitcoin düşüyor.")}
    assert readings["XAU"].position == BULLISH
    assert readings["BTC"].position == BEARISH


def test_the_lira_is_the_inverse_of_the_dollar() -> None:
    found = reading("TL değer kazanıyor.", "USD")
    assert found is not None and found.position == BEARISH


def test_sentences_without_an_asset_speak_of_the_default_topic() -> None:
    found = reading("Bu ralli daha bitmedi, yukarı gidiyoruz.", "BTC", default_topic="BTC")
    assert found is not None and found.position == BULLISH


def test_a_free_text_topic_is_found_by_its_words() -> None:
    readings = classifier.classify("Faizler yükselecek.", topics=["faiz"])
    assert [(r.topic, r.position) for r in readings] == [("topic:faiz", BULLISH)]


def test_readings_carry_their_reasons() -> None:
    found = reading("Bitcoin düşmez.", "BTC")
    assert found is not None
    assert any("negative verb" in r for r in found.reasons)


def test_a_reported_view_counts_half_and_flips_when_disbelieved() -> None:
    found = reading("Herkes Bitcoin uçacak ve yükselecek diyor, ben inanmıyorum.", "BTC")
    assert found is not None and found.position == BEARISH
    assert all("disbelieved" in r for r in found.reasons)
    found = reading("Analysts say gold will rally, and I agree.", "XAU")
    assert found is not None and found.position == BULLISH and found.confidence < 0.6
