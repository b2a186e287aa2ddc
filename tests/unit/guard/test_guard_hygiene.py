# ruff: noqa: RUF001  (Turkish text on purpose)
"""Hygiene cleans AI tells, role prefixes and over-length, and rejects only what it cannot."""

from __future__ import annotations

from datetime import UTC, datetime

from piyasa_domain import LexiconStanceClassifier
from piyasa_guard.hygiene import Hygiene, strip_role_prefix, strip_tells, trim_to
from piyasa_guard.model import CheckContext, DraftView
from piyasa_guard.reasons import ReasonCode

CTX = CheckContext(now=datetime(2026, 1, 5, tzinfo=UTC), classifier=LexiconStanceClassifier())


def clean(text: str, **draft: object) -> tuple[str | None, list[ReasonCode]]:
    view = DraftView(text=text, bot_id="b", chat_id="c", turn_id="t", **draft)  # type: ignore[arg-type]
    verdict = Hygiene()(text, view, CTX)
    return verdict.text, [r.code for r in verdict.reasons]


def test_role_prefixes_are_stripped() -> None:
    assert strip_role_prefix("Assistant: Bitcoin yine hareketli.") == "Bitcoin yine hareketli."
    assert strip_role_prefix("**Ayşe:** Selam!", "Ayşe") == "Selam!"
    assert strip_role_prefix("Cevap: Bence de.") == "Bence de."


def test_ai_tells_are_removed_keeping_the_message() -> None:
    text, found = strip_tells("As an AI, I think gold looks strong today. Hope this helps!")
    assert found
    assert text == "I think gold looks strong today."
    text, found = strip_tells("Bir yapay zeka olarak yatırım tavsiyesi veremem. Altın sakin bugün.")
    assert found and text == "Altın sakin bugün."


def test_a_human_i_cannot_is_not_a_tell() -> None:
    text, found = strip_tells("I cannot believe how fast BTC moved today.")
    assert not found and text == "I cannot believe how fast BTC moved today."


def test_a_draft_that_was_only_tells_is_rejected() -> None:
    _, codes = clean("As an AI language model, I cannot provide financial advice.")
    assert codes == [ReasonCode.AI_TELL]


def test_an_empty_draft_is_rejected() -> None:
    assert clean("   ")[1] == [ReasonCode.EMPTY]


def test_too_long_is_trimmed_at_a_sentence_end_when_most_of_it_stays() -> None:
    text = "Birinci cümle burada bitiyor. İkinci cümle de çok uzun ve devam ediyor."
    assert trim_to(text, 60) is None  # keeping 29 of 60 characters is not enough
    assert trim_to(text, 40) == "Birinci cümle burada bitiyor."
    cleaned, codes = clean("Kısa bir giriş. " + "x" * 100, max_chars=50)
    assert codes == [ReasonCode.TOO_LONG]
    cleaned, codes = clean("Bugün piyasa sakin. Herkes veriyi bekliyor. Sonra", max_chars=45)
    assert codes == [] and cleaned == "Bugün piyasa sakin. Herkes veriyi bekliyor."


def test_mentions_of_non_members_lose_their_at() -> None:
    text, codes = clean("@ayse ve @uydurma ne diyor?", usernames=frozenset({"ayse"}))
    assert codes == [] and text == "@ayse ve uydurma ne diyor?"


def test_wrapping_quotes_are_removed() -> None:
    assert clean('"Bugün hacim düşük."')[0] == "Bugün hacim düşük."
