"""Holding claims: what a text says, in the first person, about owning an asset.

"hic almadim", "bende hic BTC yok", "I don't own any", "I sold all my ETH" are
claims of holding none; "hala tutuyorum", "bende var", "I'm still holding",
"I never sold" are claims of holding some. Other people's holdings ("Ahmet
hic almamis", "my friend never bought") are not the speaker's claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from piyasa_domain.assets import find_mentions
from piyasa_domain.text import Token, tokenize


@dataclass(frozen=True, slots=True)
class HoldingClaim:
    asset: str
    holds: bool
    """True: "I hold some"; False: "I hold none"."""
    confidence: float
    reasons: tuple[str, ...]


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# Turkish, on folded text. First person is in the verb (-dim, -iyorum) or a marker.
_TR_OWNER = re.compile(r"\b(bende|elimde|portfoyumde|benim|hesabimda|cuzdanimda|sepetimde)\b")
_TR_OWNED_1SG = re.compile(
    r"\b\w*(hissem|hisselerim|pozisyonum|payim|param|birikimim|seyim|dovizim)\b"
    r"|\b(hisse|pozisyon|pay)\w*\s+yok\b"
)
_TR_ZERO = re.compile(r"\bsifir\s+pozisyon")
_TR_NONE = _rx(
    r"\b(hic\s+)?\w*\s*(almadim|almamistim|girmedim|bulasmadim|yatirmadim|biriktirmedim)\b",
    r"\byatirim\s+yapmadim\b",
    r"\bsahip\s+olmadim\b",
    r"\bsahibi\s+degilim\b",
    r"\btutmuyorum\b",
    r"\b(hepsini|tamamini|tumunu|cogunu\s+degil\s+hepsini)\s+(\w+\s+)?(sattim|bozdurdum|cikardim)\b",
    r"\bhepsi\s+satildi\b",
    r"\belden\s+cikardim\b",
    r"\b(tamamen\s+)?ciktim\b",
    r"\bsifir\s+pozisyon\w*\b",
    r"\bson\s+[\w']+(\s+(de|da))?\s+sattim\b",
    r"\bher\s+seyi\s+sattim\b",
    r"\bhicbir\s+seyim\s+yok\b",
)
_TR_NONE_WITH_OWNER = _rx(r"\b(yok|kalmadi|kalmamis|olmadi)\b")
_TR_HAS = _rx(
    r"\b(tutuyorum|tutmaya\s+devam|tasiyorum|satmadim|satmayacagim|biriktiriyorum|"
    r"stake\s+ediyorum|icerdeyim|cikmadim|bozdurmadim|almistim|aldim|topluyorum)\b",
    r"\bsatmayi\s+(hic\s+)?dusunmuyorum\b",
    r"\bcikmayi\s+(hic\s+)?dusunmuyorum\b",
    r"\bhala\s+(elimde|portfoyumde|tutuyorum|duruyor)\b",
)
_TR_HAS_WITH_OWNER = _rx(r"\bvar\b", r"\bduruyor\b", r"\b(portfoyumde|elimde)\b")
_TR_TIME = _rx(r"\b(bugun|dun|bu\s+sabah|bu\s+hafta|bu\s+ay|az\s+once)\b")

# English, on folded text with contractions kept (don't, i've).
_EN_I = _rx(
    r"\bi\b", r"\bi'(m|ve|d|ll)\b", r"\bme\b", r"\bmy\s+(portfolio|bag|savings|wallet|account)\b"
)
_EN_ELLIPTIC = _rx(
    r"^\s*(never|haven't|havent|no|zero|nothing|not|sold|got\s+out|exited|dumped|out\s+of|"
    r"still\s+(holding|have|own))\b",
)
_EN_NONE = _rx(
    r"\b(don't|dont|do not|never|haven't|havent|have not|didn't|did not|not)\s+(really\s+|ever\s+|"
    r"even\s+|personally\s+)?(own|owned|have|had|hold|held|buy|bought|touch|touched|invest|"
    r"invested|keep|kept|got|get|holding|in)\b",
    r"\b(have|has|own|hold|got|i've got|i have)\s+(absolutely\s+)?(no|zero|nothing|none)\b",
    r"\bnot\s+(a|an)\s+\w+\s+(shareholder|holder|owner)\b",
    r"\bisn't\s+something\s+i\s+own\b",
    r"\bsold\s+(all|every|everything|my\s+entire|my\s+whole|the\s+whole|out|it\s+all)\b",
    r"\b(i'm|i am|im)\s+(completely\s+|totally\s+)?out\s+of\b",
    r"\bgot\s+out\s+of\b",
    r"\bexited\b",
    r"\bdumped\s+all\b",
    r"\bnothing\s+left\b",
    r"\bno\s+[\w&/]+\s+(in\s+my|for\s+me)\b",
    r"\bzero\s+[\w&/]+\s+in\s+my\b",
    r"\bno\s+(exposure|position)\b",
    r"\b(none|nothing)\s+in\s+my\b",
    r"\bnot\s+a\s+single\s+[\w&/]+\s+left\b",
    r"\b(used\s+to|no\s+longer)\s+(own|have|hold)\b",
)
_EN_HAS_NEGATED_SELL = _rx(
    r"\b(never|haven't|havent|have not|didn't|did not|not|won't|will not|i'm not)\s+"
    r"(ever\s+)?(sold|sell|selling|exited|exit)\b",
)
_EN_HAS = _rx(
    r"\b(holding|hold|own|owned|have|got|stacked|bought|picked up)\b",
    r"\b(long)\s+[\w&/]+",
    r"\bmy\s+[\w&/]+\s+(bag|position|is|are)\b",
    r"\bin\s+my\s+portfolio\b",
    r"\bmy\s+savings\b",
    r"\bstill\s+in\b",
)


_BREAKS = frozenset({"ama", "fakat", "ancak", "but"})


def detect_holding_claims(text: str) -> list[HoldingClaim]:
    """The first-person holding claims in `text`, one per clause and asset.

    A clause that claims without naming an asset speaks of the assets its
    sentence names elsewhere, or else of the ones the previous sentence named
    ("Ethereum mu? Hic almadim ki.").
    """
    tokens = tokenize(text)
    mentions = find_mentions(tokens.items)
    mention_at = {m.start: m for m in mentions}
    claims: list[HoldingClaim] = []
    carried: list[str] = []
    for sentence in _clauses(tokens.items):
        parts = []
        for clause in sentence:
            found = [mention_at[t.index] for t in clause if t.index in mention_at]
            assets = list(dict.fromkeys(m.asset for m in found))
            folded = " ".join(t.text for t in clause)
            possessive = any(m.possessive_1sg for m in found)
            verdict = _turkish(folded, possessive) or _english(folded)
            parts.append((assets, verdict))
        free = [a for assets, verdict in parts if verdict is None for a in assets]
        for assets, verdict in parts:
            if verdict is None:
                continue
            targets = assets or free or carried
            holds, confidence, why = verdict
            for asset in dict.fromkeys(targets):
                claims.append(HoldingClaim(asset, holds, confidence, (why, f"asset:{asset}")))
        named = [a for assets, _ in parts for a in assets]
        if named:
            carried = list(dict.fromkeys(named))
    return claims


def _clauses(items: tuple[Token, ...]) -> list[list[list[Token]]]:
    """Sentences of clauses of tokens; `ama`/`but` also start a clause."""
    sentences: list[list[list[Token]]] = []
    for token in items:
        if not sentences or token.sentence != sentences[-1][-1][-1].sentence:
            sentences.append([[token]])
            continue
        last = sentences[-1][-1][-1]
        if token.clause != last.clause or token.base in _BREAKS:
            sentences[-1].append([token])
        else:
            sentences[-1][-1].append(token)
    return sentences


def _turkish(folded: str, possessive: bool) -> tuple[bool, float, str] | None:
    owner = bool(_TR_OWNER.search(folded) or _TR_OWNED_1SG.search(folded)) or possessive
    if _TR_ZERO.search(folded):
        return False, 0.9, "tr:zero position"
    none = _TR_NONE.search(folded)
    if none and not (none.group(0).strip().endswith("almadim") and _TR_TIME.search(folded)):
        return False, 0.9 if "hic" in folded else 0.8, f"tr:{none.group(0).strip()}"
    if owner:
        m = _TR_NONE_WITH_OWNER.search(folded)
        if m:
            return False, 0.85, f"tr:owner+{m.group(0)}"
    has = _TR_HAS.search(folded)
    if has:
        return True, 0.8, f"tr:{has.group(0)}"
    if owner:
        m = _TR_HAS_WITH_OWNER.search(folded)
        if m:
            return True, 0.8, f"tr:owner+{m.group(0)}"
    return None


def _english(folded: str) -> tuple[bool, float, str] | None:
    for clause in re.split(r"\band\b", folded):
        first_person = _EN_I.search(clause) or _EN_ELLIPTIC.search(clause)
        if not first_person:
            continue
        kept = _EN_HAS_NEGATED_SELL.search(clause)
        if kept:
            return True, 0.8, f"en:{kept.group(0)}"
        none = _EN_NONE.search(clause)
        if none:
            return False, 0.9, f"en:{none.group(0)}"
        has = _EN_HAS.search(clause)
        if has and _EN_I.search(clause):
            return True, 0.7, f"en:{has.group(0)}"
    return None


__all__ = ["HoldingClaim", "detect_holding_claims"]
