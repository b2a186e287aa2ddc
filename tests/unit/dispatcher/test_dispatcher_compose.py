"""Building sendMessage from an approved message: length, quotes, mentions, typing time."""

# ruff: noqa: RUF001 -- Turkish text on purpose
from __future__ import annotations

import random
import re
from datetime import UTC, datetime

from piyasa_contracts.events._common import ChatLine
from piyasa_contracts.events.work import MentionEntity
from piyasa_dispatcher import compose
from piyasa_dispatcher.sandbox_fleet import sandbox_username


def line(text: str) -> ChatLine:
    return ChatLine(
        ref="r",
        author_id="p_1",
        author_kind="human",
        author_name="Mert",
        text=text,
        telegram_message_id=7,
        sent_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_text_over_4096_characters_is_refused_before_sending() -> None:
    assert compose.too_long("ş" * 4096) is None
    assert compose.too_long("  " + "a" * 4096 + "\n") is None  # Telegram trims first
    assert compose.too_long("a" * 4097) == "message is too long"
    assert compose.too_long("😀" * 4096) is None  # 16 KB: under the byte limit


def test_utf16_offsets_count_astral_characters_twice() -> None:
    text = "😀 Ayşe"
    assert compose.utf16_len(text) == 7
    assert compose.utf16_slice(text, 3, 4) == "Ayşe"


def test_a_quote_only_when_it_is_an_exact_substring_of_the_target() -> None:
    target = line("altın bu hafta 2500 olur mu?")

    assert compose.quote_for(target, "2500 olur") == "2500 olur"
    assert compose.quote_for(target, "2500 Olur") is None
    assert compose.quote_for(target, "   ") is None
    assert compose.quote_for(None, "2500") is None
    assert compose.quote_for(line("x" * 2000), "x" * 1025) is None  # over 1024 units


def test_reply_parameters_always_allow_sending_without_the_target() -> None:
    reply = compose.reply_parameters(7, "2500")
    assert reply is not None
    assert (reply.message_id, reply.allow_sending_without_reply, reply.quote) == (7, True, "2500")
    assert compose.reply_parameters(None, "2500") is None


def test_only_people_without_a_username_get_a_text_mention_entity() -> None:
    text = "😀 Ayşe Nur ve @mert_trader"
    mentions = [
        MentionEntity(member_id="p_ayse", offset=3, length=8),
        MentionEntity(member_id="p_mert", offset=15, length=12),
        MentionEntity(member_id="p_unknown", offset=3, length=4),
    ]

    entities = compose.mention_entities(mentions, text, {"p_ayse": 42, "p_mert": 43})

    [entity] = entities
    assert (entity.type, entity.offset, entity.length) == ("text_mention", 3, 8)
    assert entity.user is not None and entity.user.id == 42
    assert entity.user.first_name == "Ayşe Nur"


def test_typing_time_follows_the_length_and_the_bots_own_speed() -> None:
    rng = random.Random(1)
    short = compose.typing_seconds(
        "a" * 12, bot_id="b1", chars_per_second=12.0, max_s=25.0, jitter=0.0, rng=rng
    )
    long = compose.typing_seconds(
        "a" * 120, bot_id="b1", chars_per_second=12.0, max_s=25.0, jitter=0.0, rng=rng
    )
    capped = compose.typing_seconds(
        "a" * 4000, bot_id="b1", chars_per_second=12.0, max_s=25.0, jitter=0.0, rng=rng
    )

    assert abs(long - 10 * short) < 1e-9
    assert capped == 25.0
    assert 0.8 <= compose.speed_factor("b1") <= 1.25
    assert compose.speed_factor("b1") == compose.speed_factor("b1")
    off = compose.typing_seconds(
        "abc", bot_id="b", chars_per_second=12, max_s=0, jitter=0.2, rng=rng
    )
    assert off == 0.0


def test_a_sandbox_bot_without_a_username_gets_a_readable_valid_one() -> None:
    for name in ("Kemal Bey", "Işıl Çağlar", "Ömer", "☀️"):
        username = sandbox_username(name, "522f7c9034605dae8a078ef159bc63e3")
        assert re.fullmatch(r"[a-z0-9_]{5,32}", username) and username.endswith("_522f_bot")
    assert sandbox_username("Kemal Bey", "522f7c90") == "kemal_bey_522f_bot"
    assert sandbox_username("Işıl Çağlar", "abcd") == "isil_caglar_abcd_bot"
