"""Evaluating the guard on labelled fixtures: precision and recall per class.

A fixture case (see `tests/fixtures/guard/README.md`) becomes a draft and a
context; the decision's reasons map to classes (`reason_class`); a case
counts as a true positive for its label when that class is predicted.
Confidence intervals are Wilson score intervals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from piyasa_domain import LexiconStanceClassifier, StanceClassifier
from piyasa_guard.core import check
from piyasa_guard.dedup import NearDuplicateIndex
from piyasa_guard.model import CheckContext, Decision, DraftView, HoldingFact, Policy, StanceFact
from piyasa_guard.reasons import reason_class

CLASSES: tuple[str, ...] = (
    "stance_contradiction",
    "holding_contradiction",
    "near_duplicate",
    "compliance",
    "clean",
)
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    id: str
    language: str
    label: str
    text: str
    context: dict[str, Any]
    expected: dict[str, Any]


def load_cases(*paths: Path) -> list[Case]:
    """Cases from .jsonl files, or from every .jsonl file under a directory."""
    cases: list[Case] = []
    for path in paths:
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            for line in file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    raw = json.loads(line)
                    cases.append(
                        Case(
                            raw["id"],
                            raw["language"],
                            raw["label"],
                            raw["text"],
                            raw["context"],
                            raw["expected"],
                        )
                    )
    return cases


def decide(
    case: Case,
    *,
    classifier: StanceClassifier | None = None,
    policy: Policy | None = None,
    threshold: float = 0.4,
) -> Decision:
    """Run the real guard core on one case."""
    ctx_raw = case.context
    index = NearDuplicateIndex(threshold=threshold)
    for n, line in enumerate(ctx_raw.get("chat_recent", [])):
        at = NOW - timedelta(minutes=line["age_minutes"])
        index.add(
            f"chat-{n}",
            index.fingerprint(line["text"]),
            chat_id="chat",
            bot_id="another-bot",
            at=at,
            sent=line.get("state", "sent") == "sent",
        )
    for n, line in enumerate(ctx_raw.get("bot_recent", [])):
        at = NOW - timedelta(minutes=line["age_minutes"])
        index.add(
            f"bot-{n}",
            index.fingerprint(line["text"]),
            chat_id="another-chat",
            bot_id="bot",
            at=at,
            sent=True,
        )
    stances = tuple(
        StanceFact(
            s["topic"],
            s["position"],
            s["strength"],
            NOW + timedelta(days=1) if s.get("cooldown") else None,
        )
        for s in ctx_raw.get("stances", [])
    )
    holdings = tuple(HoldingFact(h["symbol"], h["quantity"]) for h in ctx_raw.get("holdings", []))
    draft = DraftView(
        text=case.text,
        bot_id="bot",
        chat_id="chat",
        turn_id="turn",
        language=case.language,
        topic=ctx_raw.get("topic"),
        max_chars=1000,
    )
    ctx = CheckContext(
        now=NOW,
        classifier=classifier or LexiconStanceClassifier(),
        stances=stances,
        holdings=holdings,
        policy=policy or Policy(),
        duplicates=index,
    )
    return check(draft, ctx)


def predicted_classes(decision: Decision) -> set[str]:
    if decision.approved:
        return {"clean"}
    return {reason_class(r.code) for r in decision.reasons}


@dataclass(frozen=True)
class ClassScore:
    label: str
    support: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision_ci(self) -> tuple[float, float]:
        return wilson(self.tp, self.tp + self.fp)

    @property
    def recall_ci(self) -> tuple[float, float]:
        return wilson(self.tp, self.tp + self.fn)


@dataclass(frozen=True)
class Outcome:
    case: Case
    predicted: frozenset[str]
    decision: Decision

    @property
    def correct(self) -> bool:
        return self.case.label in self.predicted and (
            self.case.label != "clean" or self.predicted == {"clean"}
        )


def evaluate(cases: Sequence[Case], **kwargs: Any) -> tuple[list[ClassScore], list[Outcome]]:
    outcomes = [
        Outcome(c, frozenset(predicted_classes(d)), d) for c in cases for d in [decide(c, **kwargs)]
    ]
    return score(outcomes), outcomes


def score(outcomes: Iterable[Outcome]) -> list[ClassScore]:
    items = list(outcomes)
    scores = []
    for label in CLASSES:
        tp = sum(1 for o in items if o.case.label == label and label in o.predicted)
        fp = sum(1 for o in items if o.case.label != label and label in o.predicted)
        fn = sum(1 for o in items if o.case.label == label and label not in o.predicted)
        support = sum(1 for o in items if o.case.label == label)
        scores.append(ClassScore(label, support, tp, fp, fn))
    return scores


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96)."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


__all__ = [
    "CLASSES",
    "NOW",
    "Case",
    "ClassScore",
    "Outcome",
    "decide",
    "evaluate",
    "load_cases",
    "predicted_classes",
    "score",
    "wilson",
]
