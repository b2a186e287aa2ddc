"""What the pure checks read and return. No I/O, no clock: `now` is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from piyasa_domain import StanceClassifier, StanceReading
from piyasa_guard.dedup import Fingerprint, Match
from piyasa_guard.reasons import Reason


@dataclass(frozen=True, slots=True)
class DraftView:
    """The parts of a draft the checks read."""

    text: str
    bot_id: str
    chat_id: str
    turn_id: str
    language: str = "tr"
    bot_name: str = ""
    topic: str | None = None
    max_chars: int = 280
    usernames: frozenset[str] = frozenset()
    """Usernames (lower-case, no @) the bot may mention: the chat's real members."""
    persona_text: str = ""
    """The persona's own words; echoing them verbatim is a prompt leak."""


@dataclass(frozen=True, slots=True)
class StanceFact:
    topic: str
    position: str
    strength: float
    cooldown_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class HoldingFact:
    symbol: str
    quantity: float


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds; `GuardSettings` documents their defaults."""

    stance_confidence: float = 0.55
    firm_stance_strength: float = 0.7
    holding_confidence: float = 0.7
    disclaimer: str | None = None
    max_message_chars: int = 4096
    """The fleet's longest message (`max_message_chars`); Telegram's limit without one."""


class DuplicateLookup(Protocol):
    def fingerprint(self, text: str) -> Fingerprint: ...

    def nearest(
        self,
        fingerprint: Fingerprint,
        *,
        chat_id: str,
        bot_id: str,
        now: datetime,
        exclude: str | None = None,
    ) -> Match | None: ...


@dataclass(frozen=True)
class CheckContext:
    now: datetime
    classifier: StanceClassifier
    stances: Sequence[StanceFact] = ()
    holdings: Sequence[HoldingFact] = ()
    policy: Policy = Policy()
    duplicates: DuplicateLookup | None = None
    readings: Sequence[StanceReading] | None = None
    """Stance readings from a judge; None: the classifier reads the text."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One check's outcome: reasons to reject, and (hygiene) the cleaned text."""

    reasons: tuple[Reason, ...] = ()
    text: str | None = None
    notes: tuple[str, ...] = ()
    fingerprint: Fingerprint | None = None
    """The near-duplicate check's fingerprint of the text, kept to record an approval."""
    match: Match | None = None


@dataclass(frozen=True)
class Decision:
    approved: bool
    text: str
    """The text to post (cleaned, with the disclaimer) or the cleaned rejected draft."""
    reasons: tuple[Reason, ...] = ()
    notes: tuple[str, ...] = ()
    """What hygiene cleaned, for logs."""
    fingerprint: Fingerprint | None = field(default=None, compare=False)
    """The approved text's fingerprint, to record it as in flight."""
    match: Match | None = None


class Check(Protocol):
    """One rule over a draft. Hygiene may also clean the text."""

    name: str

    def __call__(self, text: str, draft: DraftView, ctx: CheckContext) -> Verdict: ...


__all__ = [
    "Check",
    "CheckContext",
    "Decision",
    "DraftView",
    "DuplicateLookup",
    "HoldingFact",
    "Policy",
    "StanceFact",
    "Verdict",
]
