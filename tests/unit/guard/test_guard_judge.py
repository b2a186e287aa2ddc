"""Stance judges: an LLM behind the classifier's interface, with an offline fallback."""

from __future__ import annotations

import pytest

from piyasa_domain import LexiconStanceClassifier
from piyasa_guard.errors import JudgeUnavailable
from piyasa_guard.judge import LlmJudge, OfflineJudge, parse_answer


async def test_the_offline_judge_is_the_classifier() -> None:
    readings = await OfflineJudge(LexiconStanceClassifier()).readings(
        "Bitcoin düşecek.", topics=["BTC"], default_topic=None
    )
    assert [(r.topic, r.position) for r in readings] == [("BTC", "bearish")]


async def test_the_llm_judges_answer_becomes_readings_with_reasons() -> None:
    async def complete(prompt: str) -> str:
        assert "BTC/USD" in prompt
        return (
            '[{"topic": "BTC/USD", "position": "bullish", "confidence": 0.9, "reason": "cheers"}]'
        )

    judge = LlmJudge(complete, LexiconStanceClassifier(), timeout_s=1)
    [reading] = await judge.readings("to the moon", topics=["BTC/USD"], default_topic=None)
    assert (reading.topic, reading.position, reading.reasons) == ("BTC", "bullish", ("llm:cheers",))


@pytest.mark.parametrize("failure", [JudgeUnavailable("down"), ValueError("not json")])
async def test_a_failing_llm_falls_back_to_the_classifier(failure: Exception) -> None:
    async def complete(prompt: str) -> str:
        raise failure

    judge = LlmJudge(complete, LexiconStanceClassifier(), timeout_s=1)
    [reading] = await judge.readings("Bitcoin düşecek.", topics=["BTC"], default_topic=None)
    assert reading.position == "bearish" and "llm_fallback" in reading.reasons


def test_positions_other_than_bullish_or_bearish_are_dropped() -> None:
    assert parse_answer('[{"topic": "gold", "position": "none"}]') == []
    with pytest.raises(ValueError):
        parse_answer("I think it is bullish")
