"""Market sentiment vocabulary, TR and EN, on folded text (see `piyasa_domain.text`).

Each entry is a phrase of folded words. A word ending in `*` is a stem: it
matches any word that starts with it, subject to the stem's exclusions, and a
Turkish verb stem followed by a negative suffix (`-me/-ma`: `yukselmez`,
`dusmeyecek`) counts with its polarity flipped. A word starting with `~` is a
regular expression over the whole word, for stems too short to stand alone
(`cok-` "collapse" is also `cok` "very"); its literal prefix is the stem.

Kinds:
  cue          bullish (+) or bearish (-) with a weight
  negator      flips the next cue within a few words (`not`, `never`, `asla`)
  post_negator flips the cue just before it (`degil`, `yok`, `beklemiyorum`)
  cessation    the cue before it has ended (`bitti`, `is over`): flips it
  persistence  `last`, `sustainable`: negated, flips the cue before it
  contrast     `ama`, `but`: what follows weighs more than what came before
  hedge        `might`, `belki`: weakens the sentence
  idiom        read as a whole and ignored, so that its words do not act alone
               (`sonu gelmez` "no end to it" is not the negation `gelmez`)
  report       someone else's view (`diyor`, `analysts say`): its clause counts
               half, and flips when the speaker then disbelieves it
  disbelief    `katilmiyorum`, `I doubt it`: flips a reported clause before it
               (so do `inanmiyorum` and `sanmiyorum` when their own clause has no cue)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

Kind = Literal[
    "cue",
    "negator",
    "post_negator",
    "cessation",
    "persistence",
    "contrast",
    "hedge",
    "idiom",
    "report",
    "disbelief",
]


@dataclass(frozen=True, slots=True)
class Entry:
    words: tuple[str, ...]
    kind: Kind
    polarity: int = 0
    weight: float = 1.0


def _cues(polarity: int, weight: float, *phrases: str) -> list[Entry]:
    return [Entry(tuple(p.split()), "cue", polarity, weight) for p in phrases]


def _kind(kind: Kind, *phrases: str) -> list[Entry]:
    return [Entry(tuple(p.split()), kind) for p in phrases]


BULL, BEAR = 1, -1

ENTRIES: tuple[Entry, ...] = tuple(
    [
        # --- Turkish, bullish
        *_cues(
            BULL,
            1.0,
            "yuksel*",
            "tirman*",
            "firla*",
            "coskulu*",
            "costu",
            "cosar",
            "coskun*",
            "ralli*",
            "boga*",
            "iyimser*",
            "rekor*",
            "tavan*",
            "yukari*",
            "prim*",
            "roket*",
            "ucus*",
            "ucar",
            "ucacak*",
            "ucuyor*",
            "ucmaz",
            "ucmayacak",
            "uctu",
            "toparla*",
            "guclen*",
            "parliyor",
            "parlar",
            "degerlen*",
            "deger kazan*",
            "kazandir*",
            "zirve*",
            "kirilim*",
            "artis*",
            "artar",
            "artacak*",
            "artiyor*",
            "artti",
            "pozitif*",
            "kapida",
            "coskuyla",
            "alici* istekli",
            "alicilar guclu",
            "durdurulamaz",
            "onu acik",
        ),
        *_cues(BULL, 1.0, "🚀", "📈"),
        *_cues(BEAR, 1.0, "📉"),
        *_kind("idiom", "sonu gelmez", "sonu yok", "no end", "can't be stopped"),
        *_cues(BULL, 0.6, "guclu*", "ucuz*", "saglam*", "firsat*", "potansiyel*", "yesil*"),
        # --- Turkish, bearish
        *_cues(
            BEAR,
            1.0,
            "dus*",
            "cakil*",
            "~cok(er|erse|us|use|usu|uste|uyor|ecek|ebilir|tu|mus|mez|meyecek|muyor|medi)[a-z]*",
            "gerile*",
            "geriliyor*",
            "eriyor*",
            "eriyecek*",
            "eridi",
            "kaybed*",
            "kaybet*",
            "kaybi*",
            "ayi piyasa*",
            "ayilar*",
            "balon*",
            "kotumser*",
            "asagi*",
            "kirmizi*",
            "kan banyosu*",
            "duzeltme*",
            "satis baskisi*",
            "satis dalgasi*",
            "saticilar baskin",
            "negatif*",
            "geri cekil*",
            "boga tuzagi*",
            "umudu kestim",
            "kotu gunler",
            "destekler kirildi",
            "iner",
            "inecek",
        ),
        *_cues(BEAR, 0.6, "pahali*", "siskin*", "zayif*", "kotu*", "riskli*", "baski altinda"),
        # --- English, bullish
        *_cues(
            BULL,
            1.0,
            "rally",
            "rallying",
            "rallied",
            "rallies",
            "ripping",
            "rip higher",
            "moon",
            "mooning",
            "pump",
            "pumping",
            "pumped",
            "surge",
            "surging",
            "surged",
            "surges",
            "soar",
            "soaring",
            "soared",
            "climb",
            "climbing",
            "climbed",
            "climbs",
            "rise",
            "rising",
            "rises",
            "rose",
            "risen",
            "higher",
            "highs",
            "all time high",
            "all time highs",
            "breakout",
            "breaking out",
            "broke out",
            "break out",
            "bull",
            "bulls",
            "bullish",
            "bull market",
            "bull run",
            "uptrend",
            "gain",
            "gains",
            "gaining",
            "outperforming",
            "outperform",
            "booming",
            "boom",
            "explode upward",
            "exploding higher",
            "unstoppable",
            "optimistic",
            "recover",
            "recovering",
            "recovery",
            "rebound",
            "rebounding",
            "bounce",
            "bouncing",
            "undervalued",
            "on fire",
            "winner",
            "going up",
            "heading up",
            "goes up",
            "go up",
            "to the moon",
            "upside",
            "grinding higher",
            "strengthening",
            "stronger",
            "gaining value",
            "push higher",
            "waking up",
            "has legs",
            "reversal",
        ),
        *_cues(BULL, 0.6, "strong", "strength", "cheap", "momentum", "beautiful", "great"),
        # --- English, bearish
        *_cues(
            BEAR,
            1.0,
            "crash",
            "crashing",
            "crashed",
            "crashes",
            "dump",
            "dumping",
            "drop",
            "dropping",
            "dropped",
            "drops",
            "fall",
            "falling",
            "fell",
            "falls",
            "plunge",
            "plunging",
            "plunged",
            "tank",
            "tanking",
            "tanked",
            "sink",
            "sinking",
            "sank",
            "slide",
            "sliding",
            "slid",
            "decline",
            "declining",
            "declines",
            "collapse",
            "collapsing",
            "collapsed",
            "bubble",
            "overvalued",
            "overpriced",
            "overextended",
            "weaken",
            "weakening",
            "lower",
            "lows",
            "going down",
            "heading down",
            "go down",
            "goes down",
            "bear",
            "bears",
            "bearish",
            "bear market",
            "downtrend",
            "downside",
            "sell off",
            "selloff",
            "correction",
            "pullback",
            "peaked",
            "topping out",
            "rolling over",
            "breaking down",
            "break down",
            "bleed",
            "bleeding",
            "falling knife",
            "pessimistic",
            "freefall",
            "losing steam",
            "pain ahead",
            "dead",
            "exhausted",
            "bull trap",
            "set to fall",
            "shaky",
        ),
        *_cues(BEAR, 0.6, "weak", "expensive", "terrible", "fragile", "brutal", "tired"),
        # --- negation and structure
        *_kind(
            "negator",
            "not",
            "no",
            "never",
            "cannot",
            "nothing",
            "hardly",
            "no longer",
            "no way",
            "without",
            "asla",
            "hic de",
        ),
        *_kind(
            "post_negator",
            "degil",
            "yok",
            "inanmiyorum",
            "sanmiyorum",
            "beklemiyorum",
            "beklemem",
            "hayal",
            "wishful thinking",
            "gelmez",
            "gormem",
            "olmaz",
            "olmayacak",
        ),
        *_kind(
            "report",
            "diyor",
            "diyorlar",
            "soyluyor",
            "soyluyorlar",
            "iddia ediyor",
            "bekliyorlar",
            "say",
            "says",
            "said",
            "claim",
            "claims",
            "expect",
            "predict",
        ),
        *_kind(
            "disbelief",
            "katilmiyorum",
            "hic sanmam",
            "doubt",
            "disagree",
            "not so sure",
            "don't buy it",
            "dont buy it",
        ),
        *_kind(
            "cessation",
            "bitti",
            "bitmis",
            "sona erdi",
            "over",
            "done",
            "ended",
            "finished",
            "tukendi",
            "durdu",
            "stopped",
            "surmez",
            "surmeyecek",
            "devam etmez",
            "devam etmeyecek",
            "gecici",
            "temporary",
        ),
        *_kind(
            "persistence",
            "last",
            "sustainable",
            "surdurulebilir",
            "kalici",
            "continue",
        ),
        *_kind(
            "contrast",
            "ama",
            "fakat",
            "ancak",
            "lakin",
            "aksine",
            "but",
            "however",
            "though",
            "although",
            "instead",
        ),
        *_kind(
            "hedge",
            "might",
            "could",
            "may",
            "maybe",
            "perhaps",
            "possibly",
            "belki",
            "galiba",
            "sanirim",
            "olabilir",
        ),
    ]
)

# Stems whose prefix also starts unrelated words: these words are not cues.
EXCLUDED: frozenset[str] = frozenset(
    {
        "dusun",
        "dusunuyorum",
        "dusunmuyorum",
        "dusunce",
        "dusunceler",
        "dusunmek",
        "dusuk",
        "dusman",
        "dusmani",
        "dususunu",
        "artik",
        "arti",
        "artisi",
        "prime",
        "primer",
        "zirvede",
        "yukarida",
        "asagida",
        "gerilim",
        "tavandan",
    }
)

# Turkish negative verb endings after a stem: -mez/-maz, -miyor, -meyecek,
# -medi, -memis, -mesin, -meden, -meyen, -meyebilir. Not -mek, -mesi, -meye, -meli.
_TR_NEGATIVE = re.compile(
    r"^m[ea](z|d[iu]|m[iu]s|m$|s[iu]n|y[ea]c[ea]k|y[ea]n|y[ea]bil|d[ea]n)|^m[iu]yor"
)
_TR_POTENTIAL = re.compile(r"(y?[ea]bil)")


@dataclass(frozen=True, slots=True)
class WordHit:
    entry: Entry
    negated: bool
    """A Turkish verb in a negative form: its polarity is flipped."""
    potential: bool
    """A Turkish -ebilir form ("may rise"): a hedge on this cue."""


def _key(word: str) -> str:
    if word.startswith("~"):
        literal = re.match(r"[a-z]*", word[1:])
        return literal.group(0) if literal else ""
    return word.rstrip("*")


@cache
def _index() -> dict[str, list[Entry]]:
    """First word (stem for `*` and `~` words) -> entries starting with it, longest first."""
    index: dict[str, list[Entry]] = {}
    for entry in ENTRIES:
        index.setdefault(_key(entry.words[0]), []).append(entry)
    for entries in index.values():
        entries.sort(key=lambda e: -len(e.words))
    return index


@cache
def _stems() -> frozenset[str]:
    return frozenset(
        _key(e.words[0]) for e in ENTRIES if e.words[0].endswith("*") or e.words[0][0] == "~"
    )


@cache
def _compiled(pattern: str) -> tuple[re.Pattern[str], int]:
    literal = re.match(r"[a-z]*", pattern[1:])
    return re.compile(pattern[1:]), len(literal.group(0)) if literal else 0


def word_matches(pattern: str, word: str) -> tuple[bool, bool, bool]:
    """(matches, negated, potential) for one lexicon word against one folded word."""
    if pattern.startswith("~"):
        rx, stem_len = _compiled(pattern)
        if not rx.fullmatch(word):
            return False, False, False
        rest = word[stem_len:]
        negated = bool(_TR_NEGATIVE.match(rest))
        return True, negated, bool(_TR_POTENTIAL.search(rest)) and not negated
    if not pattern.endswith("*"):
        return word == pattern, False, False
    stem = pattern[:-1]
    if not word.startswith(stem) or word in EXCLUDED:
        return False, False, False
    if any(word.startswith(x) for x in EXCLUDED if x.startswith(stem) and len(x) > len(stem) + 1):
        return False, False, False
    rest = word[len(stem) :]
    negated = bool(_TR_NEGATIVE.match(rest))
    return True, negated, bool(_TR_POTENTIAL.search(rest)) and not negated


def match_at(words: list[str], i: int) -> tuple[WordHit, int] | None:
    """The longest lexicon entry starting at word i, and how many words it spans."""
    index = _index()
    candidates: list[Entry] = []
    word = words[i]
    if word in index:
        candidates.extend(index[word])
    stems = _stems()
    for k in range(1, len(word)):
        if word[:k] in stems:
            candidates.extend(index.get(word[:k], ()))
    best: tuple[WordHit, int] | None = None
    for entry in candidates:
        n = len(entry.words)
        if i + n > len(words):
            continue
        negated = potential = False
        ok = True
        for k, pattern in enumerate(entry.words):
            m, neg, pot = word_matches(pattern, words[i + k])
            if not m:
                ok = False
                break
            negated = negated or neg
            potential = potential or pot
        if ok and (best is None or n > best[1]):
            best = (WordHit(entry, negated, potential), n)
    return best


__all__ = ["BEAR", "BULL", "ENTRIES", "EXCLUDED", "Entry", "Kind", "WordHit", "match_at"]
