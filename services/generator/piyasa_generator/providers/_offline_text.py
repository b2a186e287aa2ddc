"""Expanding the offline writer's grammars and rendering the moves as chat text."""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ are letters, not look-alikes.

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from piyasa_generator.providers.offline import Plan

SLOT = re.compile(r"\{([a-z_.]+)(\??)\}")
WORD = re.compile(r"\w+", re.UNICODE)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?…])")


class Grammar:
    def __init__(self, plan: Plan, rng: random.Random, slots: dict[str, str]) -> None:
        self._plan, self._rng, self._slots = plan, rng, slots

    def has(self, symbol: str) -> bool:
        return symbol in self._plan.rules

    def expand(self, symbol: str, depth: int = 0) -> str:
        rules = self._plan.rules
        options = rules.get(f"{symbol}.{self._plan.register}") or rules[symbol]
        template = self._rng.choice(options)
        if depth > 6:
            return SLOT.sub("", template)
        text = SLOT.sub(
            lambda m: self._fill(m.group(1), depth, optional=bool(m.group(2))), template
        )
        return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))

    def _fill(self, name: str, depth: int, *, optional: bool = False) -> str:
        if optional and self._rng.random() < 0.35:
            return ""
        if name in self._slots:
            return self._slots[name]
        if name == "driver":
            return self.expand(f"driver.{self._plan.lean}", depth + 1)
        return self.expand(name, depth + 1)


def render(sentences: list[str], plan: Plan, rng: random.Random, emoji: str) -> str:
    out: list[str] = []
    for i, sentence in enumerate(sentences):
        sentence = sentence.strip()
        if not sentence:
            continue
        if not out or out[-1][-1] in ".!?":
            sentence = _upper_first(sentence, plan.language)
        if sentence[-1] not in ".!?…":
            closing = "!" if plan.level == "strong" and plan.lean != "neutral" and i == 1 else "."
            sentence += closing
        out.append(sentence)
    if len(out) > 1 and out[0].endswith(".") and rng.random() < 0.5:
        # "@ali katılıyorum, BTC ..." reads better than two stiff sentences.
        out[0] = out[0][:-1] + ","
        out[1] = (
            _lower_first(out[1], plan.language) if not out[1].startswith(plan.topic) else out[1]
        )
    if plan.register == "casual" and out[-1].endswith(".") and rng.random() < 0.2:
        out[-1] = out[-1][:-1]  # people often leave the last period off
    text = " ".join(out)
    return f"{text} {emoji}" if emoji else text


def quirks(text: str, quirks: list[str], plan: Plan) -> str:
    joined = " ".join(quirks).lower()
    if any(w in joined for w in ("küçük harf", "lowercase", "lower case")):
        if plan.language == "tr":
            text = text.replace("I", "ı").replace("İ", "i")
        text = text.lower()
    if any(w in joined for w in ("üç nokta", "ellipsis", "...")):
        text = re.sub(r"\.(?=\s|$)", "...", text)
    if any(w in joined for w in ("ünlem", "exclamation")):
        text = re.sub(r"[.!](?=\s*$)", "!!", text)
    if any(w in joined for w in ("kısaltma", "abbreviat")):
        text = WORD.sub(lambda m: plan.abbreviations.get(m.group(0), m.group(0)), text)
    return text


def _upper_first(text: str, language: str) -> str:
    if not text or not text[0].isalpha():
        return text
    first = "İ" if language == "tr" and text[0] == "i" else text[0].upper()
    return first + text[1:]


def _lower_first(text: str, language: str) -> str:
    if len(text) < 2 or not text[0].isupper() or not text[1].islower():
        return text  # keep acronyms (BTC, ETF), "I'm" and "I think" as they are
    if language == "tr":
        return {"İ": "i", "I": "ı"}.get(text[0], text[0].lower()) + text[1:]
    return text[0].lower() + text[1:]


def similarity(a: str, b: str) -> float:
    wa, wb = set(WORD.findall(a.lower())), set(WORD.findall(b.lower()))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)
