# ruff: noqa: RUF001  (Turkish text on purpose)
"""check(draft, context): every reason at once, hygiene first, disclaimers last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from piyasa_domain import LexiconStanceClassifier
from piyasa_guard.core import check, with_disclaimer, without_disclaimer
from piyasa_guard.dedup import NearDuplicateIndex
from piyasa_guard.model import CheckContext, DraftView, HoldingFact, Policy, StanceFact
from piyasa_guard.reasons import ReasonCode

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


def context(**kwargs: object) -> CheckContext:
    return CheckContext(now=NOW, classifier=LexiconStanceClassifier(), **kwargs)  # type: ignore[arg-type]


def draft(text: str) -> DraftView:
    return DraftView(text=text, bot_id="b1", chat_id="c1", turn_id="t9", max_chars=280)


def test_a_clean_draft_is_approved_cleaned_and_fingerprinted() -> None:
    index = NearDuplicateIndex()
    decision = check(draft("Assistant: Bugün piyasa sakin."), context(duplicates=index))
    assert decision.approved
    assert decision.text == "Bugün piyasa sakin."
    assert decision.fingerprint is not None
    assert "role_prefix" in decision.notes


def test_every_problem_is_reported_at_once() -> None:
    index = NearDuplicateIndex()
    sent = "Hemen Bitcoin alın, yükseliş başladı!"
    index.add("t1", index.fingerprint(sent), chat_id="c1", bot_id="b2", at=NOW, sent=True)
    ctx = context(
        duplicates=index,
        stances=[StanceFact("BTC", "bearish", 0.9, NOW + timedelta(days=1))],
        holdings=[HoldingFact("BTC", 1)],
    )
    decision = check(draft("Hemen Bitcoin alın, yükseliş başladı! Hiç Bitcoin almadım ama."), ctx)
    codes = {r.code for r in decision.reasons}
    assert codes == {
        ReasonCode.DIRECT_ORDER,
        ReasonCode.STANCE_CONTRADICTION,
        ReasonCode.HOLDING_CONTRADICTION,
        ReasonCode.NEAR_DUPLICATE,
    }
    assert all(r.detail for r in decision.reasons)


def test_hygiene_rejects_before_other_checks() -> None:
    decision = check(draft("As an AI, I cannot provide investment advice."), context())
    assert [r.code for r in decision.reasons] == [ReasonCode.AI_TELL]


def test_the_disclaimer_is_appended_and_can_be_removed_again() -> None:
    decision = check(draft("Altın sakin."), context(policy=Policy(disclaimer="YTD.")))
    assert decision.text == "Altın sakin.\n\nYTD."
    assert without_disclaimer(decision.text, "YTD.") == "Altın sakin."
    assert with_disclaimer("x" * 4095, "YTD.") == "x" * 4095
