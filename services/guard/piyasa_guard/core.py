"""The guard's pure core: `check(draft, context) -> Decision`.

Hygiene cleans first (and rejects only what it cannot clean); every other
check then reads the cleaned text and adds its reasons, so a rejection tells
the generator everything that was wrong at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from piyasa_guard.compliance import Compliance
from piyasa_guard.consistency import HoldingConsistency, StanceConsistency
from piyasa_guard.hygiene import Hygiene
from piyasa_guard.model import Check, CheckContext, Decision, DraftView, Verdict
from piyasa_guard.reasons import Reason, ReasonCode

TELEGRAM_LIMIT = 4096


class NearDuplicate:
    """Too similar to a recent message of the chat (sent or in flight), or of the bot."""

    name = "near_duplicate"

    def __call__(self, text: str, draft: DraftView, ctx: CheckContext) -> Verdict:
        if ctx.duplicates is None:
            return Verdict()
        fingerprint = ctx.duplicates.fingerprint(text)
        match = ctx.duplicates.nearest(
            fingerprint,
            chat_id=draft.chat_id,
            bot_id=draft.bot_id,
            now=ctx.now,
            exclude=draft.turn_id,
        )
        if match is None:
            return Verdict(fingerprint=fingerprint)
        where = "the chat" if match.scope == "chat" else "your own recent messages"
        state = "approved and about to be sent" if match.in_flight else "already sent"
        reason = Reason(
            ReasonCode.NEAR_DUPLICATE,
            f"{match.similarity:.0%} similar to a message in {where} ({state}); say something new",
        )
        return Verdict((reason,), fingerprint=fingerprint, match=match)


DEFAULT_CHECKS: tuple[Check, ...] = (
    Compliance(),
    StanceConsistency(),
    HoldingConsistency(),
    NearDuplicate(),
)


def check(
    draft: DraftView, ctx: CheckContext, checks: Sequence[Check] = DEFAULT_CHECKS
) -> Decision:
    """Approve or reject one draft; never raises for anything the draft says."""
    hygiene = Hygiene()(draft.text, draft, ctx)
    text = hygiene.text if hygiene.text is not None else draft.text
    if hygiene.reasons:
        return Decision(False, text, hygiene.reasons, hygiene.notes)
    reasons: list[Reason] = []
    fingerprint = match = None
    for rule in checks:
        verdict = rule(text, draft, ctx)
        reasons.extend(verdict.reasons)
        fingerprint = verdict.fingerprint or fingerprint
        match = verdict.match or match
    if reasons:
        return Decision(False, text, tuple(reasons), hygiene.notes, match=match)
    final = with_disclaimer(text, ctx.policy.disclaimer)
    return Decision(True, final, (), hygiene.notes, fingerprint=fingerprint)


def with_disclaimer(text: str, disclaimer: str | None) -> str:
    """Append the chat's disclaimer when it fits Telegram's limit."""
    if not disclaimer:
        return text
    combined = f"{text}\n\n{disclaimer}"
    return combined if len(combined) <= TELEGRAM_LIMIT else text


def without_disclaimer(text: str, disclaimer: str | None) -> str:
    """The body of a posted message: what was fingerprinted when it was approved."""
    if disclaimer and text.endswith(f"\n\n{disclaimer}"):
        return text[: -len(disclaimer) - 2]
    return text


__all__ = ["DEFAULT_CHECKS", "NearDuplicate", "check", "with_disclaimer", "without_disclaimer"]
