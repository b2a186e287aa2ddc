"""Stance judges: the offline classifier, or an LLM, behind one async interface.

`StanceJudge.readings` returns `StanceReading`s with reasons whichever judge
answers. The LLM judge asks for strict JSON and falls back to the offline
classifier when the provider fails, times out or answers nonsense, so a
provider outage never stops the guard; the fallback is counted in a reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from piyasa_domain import BEARISH, BULLISH, StanceClassifier, StanceReading, topic_key
from piyasa_guard.errors import JudgeUnavailable

log = logging.getLogger(__name__)

Complete = Callable[[str], Awaitable[str]]
"""Sends one prompt to an LLM and returns its text answer."""


class StanceJudge(Protocol):
    async def readings(
        self, text: str, *, topics: Sequence[str], default_topic: str | None
    ) -> list[StanceReading]: ...


class OfflineJudge:
    """The lexicon classifier as a judge."""

    def __init__(self, classifier: StanceClassifier) -> None:
        self._classifier = classifier

    async def readings(
        self, text: str, *, topics: Sequence[str], default_topic: str | None
    ) -> list[StanceReading]:
        return self._classifier.classify(text, topics=topics, default_topic=default_topic)


PROMPT = """You check messages of a market chat for the stance they take.
For each of these topics: {topics}
say whether the message below is bullish, bearish or takes no position on it
(questions, quotes of others and hedged remarks take no position).
Answer only with JSON: a list of objects {{"topic": <topic as given>,
"position": "bullish"|"bearish"|"none", "confidence": 0..1, "reason": <short>}}.

Message: {text}"""


class LlmJudge:
    """An LLM reads the stance; the offline classifier answers when it cannot."""

    def __init__(self, complete: Complete, fallback: StanceClassifier, timeout_s: float) -> None:
        self._complete = complete
        self._fallback = fallback
        self._timeout_s = timeout_s

    async def readings(
        self, text: str, *, topics: Sequence[str], default_topic: str | None
    ) -> list[StanceReading]:
        asked = list(dict.fromkeys([*topics, *([default_topic] if default_topic else [])]))
        prompt = PROMPT.format(topics=json.dumps(asked, ensure_ascii=False), text=text)
        try:
            answer = await asyncio.wait_for(self._complete(prompt), self._timeout_s)
            return parse_answer(answer)
        except (TimeoutError, JudgeUnavailable, ValueError, KeyError, TypeError) as exc:
            log.warning("LLM judge unavailable, using the offline classifier: %r", exc)
            readings = self._fallback.classify(text, topics=topics, default_topic=default_topic)
            return [
                StanceReading(r.topic, r.position, r.confidence, (*r.reasons, "llm_fallback"))
                for r in readings
            ]


def parse_answer(answer: str) -> list[StanceReading]:
    """Readings from the judge's JSON answer; ValueError when it is not that."""
    start, end = answer.find("["), answer.rfind("]")
    if start == -1 or end < start:
        raise ValueError("no JSON list in the judge's answer")
    items = json.loads(answer[start : end + 1])
    if not isinstance(items, list):
        raise ValueError("the judge's answer is not a list")
    readings = []
    for item in items:
        position = str(item["position"]).lower()
        if position not in (BULLISH, BEARISH):
            continue
        confidence = min(1.0, max(0.0, float(item.get("confidence", 0.5))))
        reason = str(item.get("reason", ""))[:200]
        readings.append(
            StanceReading(topic_key(str(item["topic"])), position, confidence, (f"llm:{reason}",))
        )
    return readings


def openai_compatible(base_url: str, model: str, api_key: str | None) -> Complete:
    """A `Complete` over an OpenAI-compatible chat completions endpoint (Ollama, vLLM, ...)."""
    import httpx

    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def complete(prompt: str) -> str:
        try:
            async with httpx.AsyncClient(timeout=30.0) as client:
                response = await client.post(
                    url,
                    headers=headers,
                    json={
                        "model": model,
                        "messages": [{"role": "user", "content": prompt}],
                        "temperature": 0,
                    },
                )
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JudgeUnavailable(f"{url}: {exc!r}") from exc
        try:
            return str(body["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as exc:
            raise JudgeUnavailable(f"{url}: unexpected answer shape") from exc

    return complete


__all__ = [
    "PROMPT",
    "Complete",
    "LlmJudge",
    "OfflineJudge",
    "StanceJudge",
    "openai_compatible",
    "parse_answer",
]
