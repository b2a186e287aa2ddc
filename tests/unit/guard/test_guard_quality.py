"""Quality floors on the held-out fixtures, which tuning never looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from piyasa_guard.quality import CLASSES, ClassScore, evaluate, load_cases

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "guard"
PRECISION_FLOOR = 0.9
RECALL_FLOOR = 0.8


@pytest.fixture(scope="module")
def heldout_scores() -> dict[str, ClassScore]:
    scores, _ = evaluate(load_cases(FIXTURES / "heldout"))
    return {s.label: s for s in scores}


def test_the_fixtures_have_enough_cases_per_class_and_language() -> None:
    for split, floor in (("tuning", 50), ("heldout", 20)):
        cases = load_cases(FIXTURES / split)
        for label in CLASSES:
            for language in ("tr", "en"):
                n = sum(1 for c in cases if c.label == label and c.language == language)
                assert n >= floor, (split, label, language, n)


@pytest.mark.parametrize("label", CLASSES)
def test_heldout_precision_and_recall_meet_the_floors(
    heldout_scores: dict[str, ClassScore], label: str
) -> None:
    score = heldout_scores[label]
    assert score.precision >= PRECISION_FLOOR, score
    assert score.recall >= RECALL_FLOOR, score


def test_case_ids_are_unique() -> None:
    cases = load_cases(FIXTURES / "tuning", FIXTURES / "heldout")
    assert len({c.id for c in cases}) == len(cases)
