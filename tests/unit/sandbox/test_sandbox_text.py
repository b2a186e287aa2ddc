"""UTF-16 measuring, entity detection and quote finding."""

# ruff: noqa: RUF001 - Turkish letters (dotless i and friends) are what these tests are about

from __future__ import annotations

from piyasa_sandbox.models import MessageEntity
from piyasa_sandbox.text import entity_text, find_entities, find_quote, merge_entities, utf16_len


def test_utf16_counts_astral_emoji_twice_and_turkish_once() -> None:
    assert utf16_len("şğüöçıİ") == 7
    assert utf16_len("📈") == 2
    assert utf16_len("🇹🇷") == 4
    assert entity_text("📈 Şule", 3, 4) == "Şule"


def test_detects_mentions_commands_hashtags_cashtags_and_urls() -> None:
    text = "/fiyat@piyasa_bot $BTC için @ali_k bak: https://ornek.com/a #kripto e@mail.com"
    found = {(entity_text(text, e.offset, e.length), e.type) for e in find_entities(text)}
    assert found == {
        ("/fiyat@piyasa_bot", "bot_command"),
        ("$BTC", "cashtag"),
        ("@ali_k", "mention"),
        ("https://ornek.com/a", "url"),
        ("#kripto", "hashtag"),
    }


def test_a_slash_inside_a_word_is_not_a_command() -> None:
    assert find_entities("1/2 oranında, TL/USD") == []


def test_given_entities_win_over_detected_ones() -> None:
    given = [MessageEntity(offset=0, length=6, type="text_link", url="https://x.y")]
    detected = find_entities("@ali_k ve @veli_k")
    merged = merge_entities(given, detected)
    assert [(e.offset, e.type) for e in merged] == [(0, "text_link"), (10, "mention")]


def test_quote_position_is_the_occurrence_nearest_the_hint() -> None:
    text = "🙂 al al al"
    assert find_quote(text, "al", None) == 3
    assert find_quote(text, "al", 8) == 9
    assert find_quote(text, "sat", None) is None
