"""Compliance: promises of returns, orders to readers, price-target promises, leaks.

Rules run on the folded text (`piyasa_domain.text.fold`), so Turkish written
with or without its letters reads the same. Secrets are matched on the raw
text, since keys and tokens are case-sensitive.
"""

from __future__ import annotations

import re

from piyasa_domain.text import fold
from piyasa_guard.model import CheckContext, DraftView, Verdict
from piyasa_guard.reasons import Reason, ReasonCode


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_GUARANTEED = _rx(
    # Turkish
    r"\bgaranti(li)?\s+(\w+\s+)?(kazanc|getiri|kar|para|kazandirir|kazandir)",
    r"\b(kazanc|getiri|kar|kazanir|kazandirir)\w*\s+(\w+\s+)?garanti",
    r"\b(\d+|yuzde\s*\d+|%\s*\d+)\s*(kar|getiri)\s+garanti",
    r"\bkesin\s+(kazanc|kar|getiri|kazandirir|para\s+kazan)",
    r"\b(kazanc|kar|getiri)\s+kesin\b",
    r"\brisksiz\b",
    r"\b(risk|zarar)\w*\s+(\w+\s+)?(sifir|yok)\b",
    r"\bsifir\s+risk",
    r"\bkaybet\w*\s+(ihtimali|riski|sansi)\s+(yok|sifir|olmayan)",
    r"\b(kaybetmezsiniz|kaybetmezsin|zarar\s+etmezsin\w*|zarar\s+etmek\s+imkansiz)",
    r"\b(ikiye|uce|iki\s+katina)\s+(katla\w*)",
    r"\bkatlamanin\s+kesin",
    r"\bher\s+durumda\s+para\s+kazan",
    r"\basla\s+erimez",
    r"\bgaranti\s+para\b",
    r"\bgaranti\s+kazandirir",
    r"\bhic\s+risk\s+almadan",
    # English
    r"\bguarantee(d|s)?\s+([\w%$]+\s+){0,2}(profit|return|gain|money|income|win)",
    r"\b(profit|return|gain)s?\s+(are\s+)?(guaranteed|certain)",
    r"\brisk[\s-]?free\b",
    r"\bzero\s+risk\b",
    r"\bno\s+risk\s+(at\s+all|here|whatsoever)",
    r"\bno\s+risk\b.{0,20}\b(profit|gain|return)",
    r"\b(can't|cannot|can\s+not)\s+(lose|fail)\b",
    r"\bimpossible\s+to\s+lose\b",
    r"\bzero\s+chance\s+of\s+losing\b",
    r"\b(double|triple|10x)\s+your\s+money\b",
    r"\bsure\s+profit\b",
    r"\bwill\s+definitely\s+make\s+money\b",
    r"\bno\s+downside\s+whatsoever\b",
)

_ASSETISH = r"(\w+'?\w*\s+)?"
_ORDER = _rx(
    # Turkish imperatives (2nd person) of buy/sell/enter/exit/collect/invest.
    r"\b(hemen|simdi|bugun|derhal)\s+(\w+\s+){0,2}(al|alin|aliniz|sat|satin|satiniz|girin|cikin|"
    r"toplayin|yatirin|bozdurun)\b",
    r"\b(alin|aliniz|satiniz|toplayin|bozdurun)\b",
    r"\bsatin\s+al(in|iniz|sin)?\b",
    r"\bsatin\b(?!\s+al)",
    r"\b(al|sat)\s+gitsin\b",
    r"\b(alsin|satsin|alsinlar|satsinlar)\b",
    r"\b(borsaya|borsadan|kriptoya|kriptodan|piyasaya|piyasadan|hisseye|hisseden)\s+"
    r"(\w+\s+)?(girin|cikin)\b",
    r"\b(paranizi|birikiminizi|paranizla|birikiminizle)\b.{0,30}\b(alin|yatirin|yatirin|koyun)\b",
    r"\bkacirmayin\b",
    # English imperatives and "you should".
    r"(^|[.!?,;]\s*)(please\s+)?(just\s+)?(buy|sell|dump|load\s+up|get\s+out|get\s+in|get\s+into|"
    r"go\s+long|go\s+short|go\s+all\s+in|exit|put\s+(all|everything|your))\b",
    r"\b(you|everyone|everybody|y'all|you\s+guys)\s+(should|need\s+to|must|have\s+to|gotta|"
    r"better)\s+(buy|sell|get\s+out|get\s+in|dump|load\s+up|go\s+all\s+in|exit)\b",
    r"\bjust\s+buy\b",
    r"\bbuy\s+the\s+dip\b",
    r"\b(buy|sell)\s+\w+\s+(now|today|immediately|right\s+now)\b",
)

_NUMBER = (
    r"(\$\s*\d[\d,.]*\s*(k|bin|m)?|\d[\d,.]*\s*(k\b|bin\b|milyon\b)?\s*"
    r"(\$|dolar\w*|dollar\w*|usd|tl\b|lira\w*|puan\w*|points?\b|%|'?i\b|'?u\b|'?e\b|'?a\b|'?y[iu]\b)|"
    r"\d+\s*k\b|\d{2,}[\d,.]*|(yuzde|%)\s*\d+|(one|two|three|five|ten|a)\s+dollars?)"
)
_PRICE_TR = _rx(
    rf"{_NUMBER}.{{0,40}}\b(olacak|gorecek|gorur|asacak|gececek|ulasacak|cikacak|gelecek|"
    r"yukselecek|kapatacak|vuracak|test\s+edecek)\b",
    rf"{_NUMBER}.{{0,30}}\bulasmasi\s+(garanti|kesin)",
    rf"\bhedef\s+{_NUMBER}",
)
_PRICE_EN = _rx(
    rf"\b(will|'ll|is\s+going\s+to|are\s+going\s+to|gonna)\s+(definitely\s+|surely\s+|certainly\s+)?"
    rf"(hit|reach|be|be\s+at|go|go\s+to|go\s+up|close|see|touch|cross|rise|climb|surge|top|test)"
    rf"\b.{{0,30}}{_NUMBER}",
    rf"\b(going|headed|heading)\s+to\s+{_NUMBER}",
    rf"\b(hits|reaches|hit)\s+{_NUMBER}.{{0,20}}\bby\b",
)
_CERTAIN = _rx(
    r"\b(kesin|kesinlikle|mutlaka|garanti|yazin|yaziyorum|suphem\s+yok|kesin\s+bilgi|emin\s+olun)\b",
    r"\b(for\s+sure|guaranteed|no\s+doubt|mark\s+my\s+words|definitely|certainly|i\s+promise|"
    r"count\s+on\s+it|no\s+question|100\s*%|100%)",
    r"\b(yarin|haftaya|cumaya|ay\s+sonu\w*|yil\s+sonu\w*|bu\s+(ay|hafta|yil)|iki\s+hafta|"
    r"\w+\s+icinde|sonuna\s+kadar|by\s+\w+|next\s+(week|month|year)|this\s+(month|week|year|quarter)|"
    r"tomorrow|in\s+a\s+week|month\s+end|year\s+end)",
)
_HEDGE = _rx(
    r"\b(could|might|may|maybe|perhaps|possibly|not\s+sure|i\s+guess|belki|galiba|sanirim|"
    r"emin\s+degilim|olabilir|gorebilir|\w+[ae]bilir)\b",
)
_PAST = _rx(r"\b\w+(di|du|ti|tu)\b\.?$")

_SECRET_RAW = re.compile(
    r"\bsk-(proj-|live-|test-)?[A-Za-z0-9_-]{20,}"
    r"|\b\d{8,10}:[A-Za-z0-9_-]{30,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{30,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
_SECRET_FOLDED = _rx(
    r"\b(password|passwd|sifre|parola)\s*(is|:|=)\s*\S+",
    r"\b(admin|panel)\s+(password|sifresi)\b",
    r"\bsystem\s+(prompt|message|instructions?)\b",
    r"\bsistem\s+(prompt\w*|mesaj\w*|talimat\w*)",
    r"\b(my|according\s+to\s+my)\s+(hidden\s+|secret\s+)?(instructions|prompt|persona\s+"
    r"(settings|definition|description))\b",
    r"\bmy\s+instructions\s+say\b",
    r"\b(instructed|told)\s+by\s+my\s+(operator|admin|developer|creator)\b",
    r"\bmy\s+(operator|creator|developer)\s+(told|instructed|programmed)\b",
    r"\b(talimatlarim\w*|talimatim\w*|promptum\w*|prompt'?ta|prompt'?umda|gizli\s+talimat\w*|"
    r"bana\s+verilen\s+(gizli\s+)?talimat\w*|persona\s+(ayarlarim\w*|tanimim\w*)|operatorum\w*)",
)


def _persona_echo(text: str, persona: str, words: int = 8) -> bool:
    """Does the draft repeat `words` consecutive words of the persona verbatim?"""
    p = fold(persona).split()
    if len(p) < words:
        return False
    t = " " + " ".join(fold(text).split()) + " "
    return any(f" {' '.join(p[i : i + words])} " in t for i in range(len(p) - words + 1))


_ANY_NUMBER = re.compile(r"\d|\b(one|two|three|five|ten|a)\s+dollars?\b")


def _price_promise(folded: str) -> str | None:
    if not _ANY_NUMBER.search(folded):
        return None  # no number, no target
    for sentence in re.split(r"(?<!\d)[.!?;]+|[.!?;]+(?!\d)", folded):
        s = sentence.strip()
        if not s:
            continue
        m = _PRICE_TR.search(s) or _PRICE_EN.search(s)
        if m is None:
            continue
        if _HEDGE.search(s):
            continue
        if _CERTAIN.search(s) or re.search(r"\b(will|'ll|olacak|gorecek|hedef)\b", s):
            return m.group(0)
    return None


class Compliance:
    name = "compliance"

    def __call__(self, text: str, draft: DraftView, ctx: CheckContext) -> Verdict:
        folded = fold(text)
        reasons: list[Reason] = []
        m = _GUARANTEED.search(folded)
        if m:
            reasons.append(Reason(ReasonCode.GUARANTEED_RETURN, f"promises returns: {m.group(0)}"))
        m = _ORDER.search(folded)
        if m:
            reasons.append(
                Reason(ReasonCode.DIRECT_ORDER, f"orders readers to trade: {m.group(0).strip()}")
            )
        target = _price_promise(folded)
        if target:
            reasons.append(
                Reason(ReasonCode.PRICE_TARGET_PROMISE, f"promises a price target: {target}")
            )
        if _SECRET_RAW.search(text):
            reasons.append(Reason(ReasonCode.SECRET_LEAK, "contains a key or token"))
        else:
            m = _SECRET_FOLDED.search(folded)
            if m:
                reasons.append(Reason(ReasonCode.SECRET_LEAK, f"reveals its set-up: {m.group(0)}"))
            elif draft.persona_text and _persona_echo(text, draft.persona_text):
                reasons.append(Reason(ReasonCode.SECRET_LEAK, "repeats its persona verbatim"))
        return Verdict(tuple(reasons))


__all__ = ["Compliance"]
