"""Stance classification: which position does a text take, on which asset, and why.

`StanceClassifier` is the one interface; `LexiconStanceClassifier` is the
offline implementation (lexicon and rules, TR and EN, negation-aware). An LLM
judge implements the same interface in the service that owns the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from piyasa_domain.assets import find_mentions, related, resolve
from piyasa_domain.lexicon import WordHit, match_at
from piyasa_domain.text import Token, Tokens, fold, tokenize

BULLISH = "bullish"
BEARISH = "bearish"
NEUTRAL = "neutral"


@dataclass(frozen=True, slots=True)
class StanceReading:
    """The position a text takes on one topic, with the evidence for it."""

    topic: str
    """A canonical asset id (`BTC`), or `topic:<folded words>` for a free-text topic."""
    position: str
    confidence: float
    reasons: tuple[str, ...] = ()


class StanceClassifier(Protocol):
    def classify(
        self, text: str, *, topics: Sequence[str] = (), default_topic: str | None = None
    ) -> list[StanceReading]:
        """The positions `text` takes, one reading per topic it takes a position on.

        `topics` are free-text topics to look for besides the known assets (a
        stance on "faiz" is found where the text says "faiz"); `default_topic`
        receives the cues of sentences that name no topic at all.
        """
        ...


def topic_key(topic: str) -> str:
    """The key a reading for this free-text topic (or symbol) carries."""
    asset = resolve(topic)
    return asset if asset is not None else f"topic:{' '.join(fold(topic).split())}"


@dataclass(frozen=True)
class ClassifierTuning:
    """The rules' knobs; the defaults are what the labelled fixtures were tuned to."""

    negator_reach: int = 5
    """How many words after `not`/`asla` a cue is still negated."""
    post_negator_reach: int = 3
    """How many words before `degil`/`yok` a cue is negated."""
    negated_weight: float = 0.8
    contrast_before: float = 0.5
    contrast_after: float = 1.3
    hedge: float = 0.6
    question: float = 0.4
    confidence_half: float = 0.5
    """|score| at which confidence is 0.5: confidence = |s| / (|s| + half)."""


@dataclass
class _Cue:
    pos: int
    value: float
    words: str
    notes: list[str] = field(default_factory=list)


class LexiconStanceClassifier:
    """Offline stance classifier: lexicon cues, negation, contrast, hedges, attribution."""

    def __init__(self, tuning: ClassifierTuning | None = None) -> None:
        self.tuning = tuning or ClassifierTuning()

    def classify(
        self, text: str, *, topics: Sequence[str] = (), default_topic: str | None = None
    ) -> list[StanceReading]:
        tokens = tokenize(text)
        mentions = _mentions(tokens, topics)
        cues = self._cues(tokens, {p for m in mentions for p in range(m[1], m[2])})
        default = topic_key(default_topic) if default_topic else None
        scores: dict[str, float] = {}
        reasons: dict[str, list[str]] = {}
        items = tokens.items
        for cue in cues:
            target = _attribute(items, cue.pos, mentions, default)
            if target is None:
                continue
            topic, inverted = target
            value = -cue.value if inverted else cue.value
            scores[topic] = scores.get(topic, 0.0) + value
            note = f"{cue.words}:{value:+.2f}" + (f"({','.join(cue.notes)})" if cue.notes else "")
            reasons.setdefault(topic, []).append(note)
        readings = []
        for topic, score in scores.items():
            if abs(score) < 1e-9:
                continue
            confidence = abs(score) / (abs(score) + self.tuning.confidence_half)
            readings.append(
                StanceReading(
                    topic,
                    BULLISH if score > 0 else BEARISH,
                    round(confidence, 3),
                    tuple(reasons[topic]),
                )
            )
        readings.sort(key=lambda r: -r.confidence)
        return readings

    def _cues(self, tokens: Tokens, skip: set[int]) -> list[_Cue]:
        t = self.tuning
        items = tokens.items
        words = [tok.base for tok in items]
        hits: list[tuple[int, int, WordHit]] = []
        i = 0
        while i < len(items):
            if i in skip:
                i += 1
                continue
            if items[i].suffix == "t" and items[i].base.endswith("n"):
                hits.append((i, 1, _CONTRACTED_NOT))
                i += 1
                continue
            found = match_at(words, i)
            if found is None:
                i += 1
                continue
            hit, span = found
            hits.append((i, span, hit))
            i += span

        cues: dict[int, _Cue] = {}
        for pos, span, hit in hits:
            if hit.entry.kind == "cue":
                value = hit.entry.polarity * hit.entry.weight
                cue = _Cue(pos, value, " ".join(w.base for w in items[pos : pos + span]))
                if hit.negated:
                    cue.value = -value * t.negated_weight
                    cue.notes.append("negative verb")
                if hit.potential:
                    cue.value *= t.hedge
                    cue.notes.append("may")
                cues[pos] = cue

        ordered = sorted(cues)
        negated_persistence: set[int] = set()
        negated_cessation: set[int] = set()
        kinds = {pos: hit.entry.kind for pos, _, hit in hits}

        def flip(pos: int, why: str) -> None:
            cue = cues[pos]
            cue.value = -cue.value * t.negated_weight
            cue.notes.append(why)

        def same_clause(a: int, b: int) -> bool:
            return items[a].sentence == items[b].sentence and items[a].clause == items[b].clause

        def same_sentence(a: int, b: int) -> bool:
            return items[a].sentence == items[b].sentence

        # Negators flip what follows: a cue, or a persistence/cessation word.
        for pos, _, hit in hits:
            if hit.entry.kind != "negator":
                continue
            for nxt in range(pos + 1, min(len(items), pos + 1 + t.negator_reach)):
                if not same_clause(pos, nxt):
                    break
                kind = kinds.get(nxt)
                if kind == "cue" and nxt in cues:
                    flip(nxt, f"negated by {items[pos].text}")
                    break
                if kind == "persistence":
                    negated_persistence.add(nxt)
                    break
                if kind == "cessation":
                    negated_cessation.add(nxt)
                    break
                if kind == "negator":
                    break

        def previous_cue(pos: int, reach: int, clause_only: bool) -> int | None:
            for prev in range(pos - 1, max(-1, pos - 1 - reach), -1):
                if not same_sentence(pos, prev) or (clause_only and not same_clause(pos, prev)):
                    return None
                if prev in cues:
                    return prev
            return None

        # Post-negators (degil, yok, beklemiyorum) flip the cue just before.
        for pos, _, hit in hits:
            if hit.entry.kind != "post_negator":
                continue
            if pos + 1 < len(items) and items[pos + 1].base in ("mi", "mu"):
                continue  # "yukselecek degil mi?" is a tag question, not a negation
            prev_kind_pos = next(
                (p for p in range(pos - 1, max(-1, pos - 3), -1) if kinds.get(p) == "persistence"),
                None,
            )
            if prev_kind_pos is not None:
                negated_persistence.add(prev_kind_pos)
                continue
            prev = previous_cue(pos, t.post_negator_reach, clause_only=True)
            if prev is not None:
                flip(prev, f"negated by {items[pos].text}")

        # "is over", "bitti": the cue before has ended; "won't last": likewise.
        for pos, _, hit in hits:
            kind = hit.entry.kind
            ends = (kind == "cessation" and pos not in negated_cessation) or (
                kind == "persistence" and pos in negated_persistence
            )
            if not ends:
                continue
            prev = previous_cue(pos, 6, clause_only=True)
            if prev is not None:
                flip(prev, f"ended by {items[pos].text}")

        # Someone else's view counts half; disbelieved after it, it flips.
        reported = {
            (items[pos].sentence, items[pos].clause)
            for pos, _, hit in hits
            if hit.entry.kind == "report"
        }
        disbelieved: set[tuple[int, int]] = set()
        for pos, _, hit in hits:
            cognitive = hit.entry.kind == "post_negator" and hit.entry.words[0] in _COGNITIVE
            if hit.entry.kind != "disbelief" and not cognitive:
                continue
            here = (items[pos].sentence, items[pos].clause)
            disbelieved.update(
                clause for clause in reported if clause[0] == here[0] and clause[1] < here[1]
            )
        for c in ordered:
            clause = (items[c].sentence, items[c].clause)
            if clause in disbelieved and "negated by" not in " ".join(cues[c].notes):
                flip(c, "disbelieved")
        reported -= disbelieved
        for c in ordered:
            if (items[c].sentence, items[c].clause) in reported:
                cues[c].value *= 0.5
                cues[c].notes.append("reported")

        # Contrast: "..., ama ..." - what follows weighs more.
        for pos, _, hit in hits:
            if hit.entry.kind != "contrast":
                continue
            for c in ordered:
                if not same_sentence(pos, c):
                    continue
                cues[c].value *= t.contrast_before if c < pos else t.contrast_after
        hedged = {items[pos].sentence for pos, _, hit in hits if hit.entry.kind == "hedge"}
        for c in ordered:
            sentence = items[c].sentence
            if sentence in hedged:
                cues[c].value *= t.hedge
            if sentence in tokens.questions or _has_question_particle(items, sentence):
                cues[c].value *= t.question
                cues[c].notes.append("question")
        return [cues[c] for c in ordered]


_COGNITIVE = frozenset({"inanmiyorum", "sanmiyorum"})
"""Post-negators that also disbelieve a reported clause before them."""


def _contracted_not() -> WordHit:
    from piyasa_domain.lexicon import Entry

    return WordHit(Entry(("n't",), "negator"), negated=False, potential=False)


_CONTRACTED_NOT = _contracted_not()

Mention = tuple[str, int, int]  # (topic key, start, end)


def _mentions(tokens: Tokens, topics: Sequence[str]) -> list[Mention]:
    items = tokens.items
    found: list[Mention] = [(m.asset, m.start, m.end) for m in find_mentions(items)]
    taken = {p for _, s, e in found for p in range(s, e)}
    for topic in topics:
        key = topic_key(topic)
        if not key.startswith("topic:"):
            continue
        words = key[len("topic:") :].split()
        if not words:
            continue
        for i in range(len(items) - len(words) + 1):
            if any(p in taken for p in range(i, i + len(words))):
                continue
            if all(
                items[i + k].base == w or (k == len(words) - 1 and items[i + k].base.startswith(w))
                for k, w in enumerate(words)
            ):
                found.append((key, i, i + len(words)))
                taken.update(range(i, i + len(words)))
    found.sort(key=lambda m: m[1])
    return [m for m in found if not _is_reference(items, m)]


_REFERENCE_BEFORE = frozenset({"against", "vs", "versus"})
_REFERENCE_AFTER = frozenset({"karsisinda", "karsisindaki"})


def _is_reference(items: tuple[Token, ...], mention: Mention) -> bool:
    """`against the lira`, `TL karsisinda`: the yardstick, not what the cue is about."""
    _, start, end = mention
    before = {items[i].base for i in range(max(0, start - 2), start)}
    after = items[end].base if end < len(items) else ""
    return bool(before & _REFERENCE_BEFORE) or after in _REFERENCE_AFTER


def _attribute(
    items: tuple[Token, ...], pos: int, mentions: list[Mention], default: str | None
) -> tuple[str, bool] | None:
    """The topic a cue at `pos` speaks about, and whether the view is inverted (TL vs USD)."""
    here = items[pos]

    def pick(candidates: list[Mention]) -> Mention | None:
        # The subject comes before its verb in both languages: prefer the
        # nearest mention before the cue, then the nearest after it.
        before = [m for m in candidates if m[1] < pos]
        if before:
            return max(before, key=lambda m: m[1])
        after = [m for m in candidates if m[1] > pos]
        return min(after, key=lambda m: m[1]) if after else None

    in_clause = [
        m
        for m in mentions
        if items[m[1]].sentence == here.sentence and items[m[1]].clause == here.clause
    ]
    chosen = pick(in_clause) or pick([m for m in mentions if items[m[1]].sentence == here.sentence])
    if chosen is None:
        before = [m for m in mentions if m[1] < pos]
        chosen = before[-1] if before else None
    if chosen is None:
        return (default, False) if default else None
    topic = chosen[0]
    inverse = related(topic)
    if inverse is not None:
        return inverse, True
    return topic, False


def _has_question_particle(items: tuple[Token, ...], sentence: int) -> bool:
    return any(
        t.sentence == sentence and t.base in ("mi", "mu", "misin", "musun", "midir", "miyiz")
        for t in items
    )


__all__ = [
    "BEARISH",
    "BULLISH",
    "NEUTRAL",
    "ClassifierTuning",
    "LexiconStanceClassifier",
    "StanceClassifier",
    "StanceReading",
    "topic_key",
]
