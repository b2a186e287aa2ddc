"""What the scheduler reads in a line: the topics it names, the stances it takes, a question.

A line is analysed once, when it is folded in, with the shared domain
classifier (`piyasa_domain`): negation-aware, Turkish and English. Topics and
stances are keyed by `piyasa_domain.topic_key`, the same key a bot's stance
topic or holding symbol gets, so "BTC/USD", "bitcoin'e" and "Bitcoin" meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from piyasa_domain import StanceClassifier, find_mentions, fold, tokenize, topic_key

# Turkish question particles and words (folded), and English openers of a question.
_TR_QUESTION = frozenset(
    {
        "mi", "mu", "misin", "musun", "miyim", "muyum", "miyiz", "muyuz", "misiniz",
        "musunuz", "midir", "mudur", "miydi", "muydu", "ne", "neden", "niye", "nasil",
        "kac", "hangi", "nereden", "nereye", "sizce", "acaba",
    }
)  # fmt: skip
_EN_OPENERS = frozenset(
    {
        "what", "why", "how", "when", "which", "who", "where", "should", "will",
        "would", "is", "are", "do", "does", "did", "can", "could", "anyone",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reading:
    topic: str
    """A topic key (`BTC`, `topic:faiz`)."""
    position: str
    confidence: float


@dataclass(frozen=True, slots=True)
class LineFacts:
    topics: tuple[str, ...] = ()
    """Topic keys the line names, in order of first mention."""
    readings: tuple[Reading, ...] = ()
    question: bool = False


NO_FACTS = LineFacts()


def is_question(text: str) -> bool:
    if "?" in text:
        return True
    words = fold(text).replace("'", " ").split()
    if not words:
        return False
    return any(w.strip(".,!;:") in _TR_QUESTION for w in words) or words[0] in _EN_OPENERS


class Analyzer:
    """Reads lines with a stance classifier; pure, so a harness may memoise it."""

    def __init__(self, classifier: StanceClassifier) -> None:
        self._classifier = classifier

    def analyze(self, text: str, topics: Sequence[str] = ()) -> LineFacts:
        """Facts of one line; `topics` are the chat's free-text topics to look for."""
        if not text.strip():
            return NO_FACTS
        found: list[str] = [m.asset for m in find_mentions(tokenize(text).items)]
        folded = f" {' '.join(fold(text).split())} "
        for topic in topics:
            words = " ".join(fold(topic).split())
            if words and f" {words}" in folded:
                found.append(topic_key(topic))
        readings = tuple(
            Reading(r.topic, r.position, r.confidence)
            for r in self._classifier.classify(text, topics=topics)
        )
        found.extend(r.topic for r in readings)
        return LineFacts(tuple(dict.fromkeys(found)), readings, is_question(text))


__all__ = ["NO_FACTS", "Analyzer", "LineFacts", "Reading", "is_question"]
