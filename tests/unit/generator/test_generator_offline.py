"""The offline writer: varied, on topic, in line with the stance, deterministic per request."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike.

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from piyasa_contracts.events._common import ChatLine, Member, Persona, StanceView
from piyasa_contracts.events.work import GenerationRequested, RegenerationRequested, StyleRules
from piyasa_generator.providers.offline import OfflineProvider, seed_for, write
from tests.unit.generator.builders import TOPICS, generation_request

# A reader's lexicon, independent of the writer's phrase banks: words that make a market
# message lean one way. Stems are matched at word starts ("düşüş", not "düşünmek").
BULL = {
    "tr": ("yukarı", "yüksel", "iyimser", "toparlan", "zirve", "boğa", "olumlu", "alıcı"),
    "en": ("higher", "bull", "optimistic", "upside", "uptrend", "rally", "buyers", "upbeat",
           "recover", "turn up", "rise", "constructive", "new high", "positive"),
}  # fmt: skip
BEAR = {
    "tr": ("aşağı", "düşüş", "karamsar", "zayıf", "geri çekil", "ayı", "olumsuz", "satıcı"),
    "en": ("lower", "bear", "pessimistic", "downside", "downtrend", "pullback", "pull back",
           "sellers", "gloomy", "weak", "fragile", "drop", "decline", "tired", "negative"),
}  # fmt: skip
NEUTRAL = {
    "tr": ("belirsiz", "bekle", "yatay", "net değil", "iki yön", "erken", "bant", "kararsız",
           "net bir yön", "izle", "seçmedi", "iki senaryo"),
    "en": ("clear direction", "wait and see", "sideways", "either way", "too early", "range",
           "undecided", "watch", "picked a direction", "both scenarios"),
}  # fmt: skip


def leans(text: str, words: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(re.search(rf"(?<!\w){re.escape(w)}", lowered) for w in words)


def varied_requests(n: int, seed: int = 7) -> list[GenerationRequested]:
    """n requests as a fleet sends them: bots, topics, stances, languages, replies, moods."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        language = rng.choice(("tr", "tr", "en"))
        out.append(
            generation_request(
                bot_id=f"bot{i % 40:03d}",
                topic=rng.choice(TOPICS),
                position=rng.choice(("bullish", "bearish", "neutral")),
                strength=round(rng.random(), 2),
                language=language,
                history=rng.randrange(0, 15),
                reply=rng.random() < 0.5,
                rng=rng,
                persona=Persona(
                    tone=rng.choice(("samimi", "resmi", "alaycı", "sert", "friendly")),
                    verbosity=rng.random(),
                    emoji_use=rng.random() * 0.6,
                    catchphrases=rng.choice(([], ["sabır kazandırır"], ["hodl"])),
                ),
            )
        )
    return out


def offline(request: GenerationRequested, attempt: int = 0) -> str:
    return write(request, seed=seed_for(request.turn_id, attempt))


def test_a_thousand_requests_give_under_five_percent_exact_duplicates() -> None:
    texts = [offline(r) for r in varied_requests(1000)]
    duplicates = sum(count - 1 for count in Counter(texts).values())
    assert duplicates < 50, Counter(texts).most_common(5)


def test_one_bot_on_one_topic_still_varies_across_a_thousand_turns() -> None:
    rng = random.Random(3)
    texts = [
        offline(generation_request(topic="BTC", position="bullish", strength=0.6, rng=rng))
        for _ in range(1000)
    ]
    duplicates = sum(count - 1 for count in Counter(texts).values())
    assert duplicates < 50, Counter(texts).most_common(5)


def test_every_message_names_its_topic_and_agrees_with_the_stance() -> None:
    for request in varied_requests(1000, seed=11):
        text = offline(request)
        stance = next(s for s in request.stances if s.topic == request.topic)
        language = request.language
        assert request.topic is not None and request.topic.lower() in text.lower(), text
        if stance.position == "bullish":
            assert leans(text, BULL[language]) and not leans(text, BEAR[language]), text
        elif stance.position == "bearish":
            assert leans(text, BEAR[language]) and not leans(text, BULL[language]), text
        else:
            assert leans(text, NEUTRAL[language]), text


def test_the_same_request_gives_the_same_message_and_a_regeneration_another() -> None:
    request = generation_request()
    regeneration = RegenerationRequested(
        turn_id=request.turn_id,
        deadline=request.deadline,
        attempt=1,
        request=request,
        rejected_text=offline(request),
        feedback=["near_duplicate: too similar to a recent message"],
    )
    assert offline(request) == offline(request)
    again = write(request, regeneration, seed=seed_for(request.turn_id, 1))
    assert again != regeneration.rejected_text


def test_a_reply_disagrees_with_the_other_side_and_agrees_with_its_own() -> None:
    def reply_to(text: str, position: str) -> str:
        request = generation_request(position=position, strength=0.8, history=0, reply=False)
        target = ChatLine(
            ref="x",
            author_id="m001",
            author_kind="human",
            author_name="Üye 1",
            text=text,
            sent_at=request.deadline,
        )
        return offline(request.model_copy(update={"reply_target": target}))

    disagree = (
        "katılmıyorum",
        "ayrılıyoruz",
        "aceleci",
        "emin olmazdım",
        "farklı",
        "değil",
        "tersini",
    )
    agree = (
        "aynen",
        "katılıyorum",
        "haklısın",
        "üstüne bastın",
        "aynı fikir",
        "doğru",
        "zor",
        "önemli",
    )
    for _ in range(20):
        opposed = reply_to("BTC bence sert düşüşe geçer, aşağı yönlü", "bullish")
        assert leans(opposed, disagree), opposed
        aligned = reply_to("BTC yükseliş trendinde, yukarı gider", "bullish")
        assert leans(aligned, agree) and not leans(aligned.split(",")[0], disagree), aligned


def test_mentions_only_members_that_may_be_mentioned() -> None:
    allowed = {"@uye_0", "@uye_1", "@uye_2", "@uye_3", "@uye_4", "@uye_5"}
    for request in varied_requests(300, seed=5):
        for handle in re.findall(r"@\w+", offline(request)):
            assert handle in allowed
    lonely = generation_request(mentionable=[], reply=True)
    assert "@" not in offline(lonely)


def test_the_bot_never_mentions_itself() -> None:
    me = Member(member_id="bot001", display_name="Ayşe", username="ayse_bot", is_bot=True)
    for i in range(100):
        request = generation_request(rng=random.Random(i))
        request = request.model_copy(update={"mentionable": [*request.mentionable, me]})
        assert "@ayse_bot" not in offline(request)


@pytest.mark.parametrize("language", ["tr", "en"])
def test_style_rules_hold(language: str) -> None:
    for i in range(200):
        request = generation_request(
            language=language,
            rng=random.Random(i),
            style=StyleRules(max_chars=90, emoji=False),
            persona=Persona(verbosity=1.0, emoji_use=1.0, catchphrases=["x y z"]),
        )
        text = offline(request)
        assert len(text) <= 90
        assert not re.search("[\U0001f300-\U0001faff]", text)
        assert "**" not in text and not text.startswith('"')


def test_english_chats_get_english_and_turkish_chats_turkish() -> None:
    en = [offline(generation_request(language="en", rng=random.Random(i))) for i in range(50)]
    tr = [offline(generation_request(language="tr", rng=random.Random(i))) for i in range(50)]
    assert not any(re.search(r"[şğıİ]", t.replace("Üye", "")) for t in en)
    assert sum(bool(re.search(r"[şğıçöü]", t)) for t in tr) > 40


def test_holdings_are_mentioned_in_line_with_the_stance() -> None:
    bearish = [
        offline(
            generation_request(
                position="bearish",
                persona=Persona(verbosity=1.0),
                rng=random.Random(i),
                stances=[StanceView(topic="BTC", position="bearish", strength=0.9)],
            )
        )
        for i in range(200)
    ]
    holding_lines = [t for t in bearish if "pozisyon" in t]
    assert holding_lines
    assert not any("tutmaya devam" in t or "koruyorum" in t for t in holding_lines)


async def test_the_provider_interface_costs_nothing() -> None:
    from piyasa_generator.prompt import build_prompt
    from piyasa_generator.providers.base import Job

    request = generation_request()
    provider = OfflineProvider()
    completion = await provider.complete(Job(request=request, prompt=build_prompt(request)))
    assert completion.text and completion.model == "offline-grammar-1"
    assert not provider.priced and not provider.governed
