"""Human-likeness hygiene: clean what can be cleaned, reject only what cannot.

Strips role prefixes (`Assistant:`, `Ayşe:`), AI tells ("As an AI", "I cannot
provide financial advice", "Bir yapay zeka olarak"), wrapping quotes, the `@`
of mentions of people who are not members, and trims an over-long draft at a
sentence end (the limit: the request's style, capped by the fleet's
`max_message_chars`). Rejects an empty draft, a draft that was nothing but
tells, and one that cannot be brought under the length limit without losing
most of it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from piyasa_domain.text import fold, sentences
from piyasa_guard.model import CheckContext, DraftView, Verdict
from piyasa_guard.reasons import Reason, ReasonCode

_ROLES = (
    r"assistant|ai|bot|system|user|asistan|yapay zeka|yanit|yan\u0131t|cevap|response|answer|"
    r"reply|model|message|mesaj"
)
_PREFIX_TELL = re.compile(
    r"^\s*(as an ai( language model)?|as a language model|as an artificial intelligence|"
    r"bir yapay zek[aâ] olarak|yapay zek[aâ] olarak|bir dil modeli olarak)\s*,?\s*",
    re.IGNORECASE,
)
# On folded text (see piyasa_domain.text.fold): a sentence containing one is dropped.
_TELLS = re.compile(
    r"\b(as an ai|as a language model|i'?m (just )?an ai|i am (just )?an ai|ai language model|"
    r"i (cannot|can't|can ?not|am not able to|'m not able to|am unable to) "
    r"(provide|give|offer|help|assist|answer|comply|fulfil|predict|make predictions|share)|"
    r"i (don't|do not) have (personal|feelings|opinions)|"
    r"(i )?hope (this|that) helps|feel free to ask|let me know if you (have|need)|"
    r"(certainly|sure|of course)! here|here(?:'s| is) (a|my|the) (message|reply|response)|"
    r"yapay zekayim|yapay zeka asistan|dil modeliyim|bir dil modeli|"
    r"(finansal|yatirim) tavsiye(si)? veremem|kisisel (gorus|fikir)\w* yok|"
    r"umarim yardimci olur|baska (bir )?sorunuz|size nasil yardimci)",
)
_QUOTES = {'"': '"', "“": "”", "'": "'", "«": "»", "„": "“"}
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{3,32})\b")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")

MIN_KEPT_FRACTION = 0.6
"""A trim at a sentence end must keep at least this share of the limit."""


@lru_cache(maxsize=1024)
def _role_prefix(bot_name: str) -> re.Pattern[str]:
    names = _ROLES + (f"|{re.escape(bot_name)}" if bot_name else "")
    return re.compile(
        rf"^\s*[\[\(*_]*\s*({names})\s*[\]\)*_]*\s*[:\uff1a]\s*[*_]*\s*", re.IGNORECASE
    )


def strip_role_prefix(text: str, bot_name: str = "") -> str:
    pattern = _role_prefix(bot_name)
    while True:
        stripped = pattern.sub("", text, count=1)
        if stripped == text:
            return text
        text = stripped


def strip_quotes(text: str) -> str:
    t = text.strip()
    if len(t) >= 2 and t[0] in _QUOTES and t[-1] == _QUOTES[t[0]] and t.count(t[0]) <= 2:
        return t[1:-1].strip()
    return t


def strip_tells(text: str) -> tuple[str, bool]:
    """The text without AI tells, and whether any were found."""
    found = False
    kept: list[str] = []
    for sentence in sentences(text):
        cleaned = _PREFIX_TELL.sub("", sentence)
        if cleaned != sentence:
            found = True
            cleaned = cleaned[:1].upper() + cleaned[1:]
        if _TELLS.search(fold(cleaned)):
            found = True
            continue
        if cleaned.strip():
            kept.append(cleaned.strip())
    if not found:
        return text.strip(), False
    return " ".join(kept), True


def strip_unknown_mentions(text: str, usernames: frozenset[str]) -> tuple[str, int]:
    """Turn `@someone` into `someone` unless they are a member the bot may mention."""
    count = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal count
        if m.group(1).lower() in usernames:
            return m.group(0)
        count += 1
        return m.group(1)

    return _MENTION.sub(replace, text), count


def trim_to(text: str, limit: int) -> str | None:
    """The longest prefix ending a sentence within `limit`, if it keeps enough."""
    if len(text) <= limit:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() <= limit]
    if ends and ends[-1] >= MIN_KEPT_FRACTION * limit:
        return text[: ends[-1]].strip()
    return None


class Hygiene:
    name = "hygiene"

    def __call__(self, text: str, draft: DraftView, ctx: CheckContext) -> Verdict:
        notes: list[str] = []
        original = text
        text = strip_role_prefix(text, draft.bot_name)
        if text != original:
            notes.append("role_prefix")
        unquoted = strip_quotes(text)
        if unquoted != text.strip():
            notes.append("quotes")
        text, told = strip_tells(unquoted)
        if told:
            notes.append("ai_tell")
        text, mentions = strip_unknown_mentions(text, draft.usernames)
        if mentions:
            notes.append("unknown_mention")
        text = re.sub(r"[ \t]+", " ", text).strip()
        if not re.search(r"\w", text):
            code = ReasonCode.AI_TELL if told else ReasonCode.EMPTY
            detail = "nothing left after removing AI tells" if told else "the draft is empty"
            return Verdict((Reason(code, detail),), text, tuple(notes))
        limit = min(draft.max_chars, ctx.policy.max_message_chars, 4096)
        trimmed = trim_to(text, limit)
        if trimmed is None:
            detail = f"{len(text)} characters, the limit is {limit}"
            return Verdict((Reason(ReasonCode.TOO_LONG, detail),), text, tuple(notes))
        if trimmed != text:
            notes.append("trimmed")
        return Verdict((), trimmed, tuple(notes))


__all__ = [
    "Hygiene",
    "strip_quotes",
    "strip_role_prefix",
    "strip_tells",
    "strip_unknown_mentions",
    "trim_to",
]
