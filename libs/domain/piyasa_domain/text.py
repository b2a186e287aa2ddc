"""Text normalisation shared by the classifiers: Turkish-aware folding and tokens.

Everything is matched on a *folded* form: lower-cased with Turkish rules
(dotted capital I -> `i`, `I` -> `i`) and with Turkish letters folded to
ASCII (`ş` -> `s`, dotless i -> `i`, `ğ` -> `g`, ...). Folding loses little
for market vocabulary and makes "BIST" and its dotless spelling, "düşüş" and
"dusus" one thing, which matters because chat text is often typed without
Turkish letters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_FOLD = str.maketrans(
    {
        "\u0131": "i",  # dotless i
        "ş": "s",
        "ğ": "g",
        "ü": "u",
        "ö": "o",
        "ç": "c",
        "â": "a",
        "î": "i",
        "û": "u",
        "\u2019": "'",  # right single quotation mark
        "\u2018": "'",  # left single quotation mark
        "`": "'",
    }
)

_WORD = re.compile(r"[0-9a-z]+(?:'[0-9a-z]+)?|[$€₺%🚀📈📉]")
# A sentence runs to `.!?…;` or a newline; a dot between digits (1.10) is no end.
_SENTENCE = re.compile(r"(?:[^.!?…;\n]|(?<=\d)\.(?=\d))+[.!?…;\n]*")
_CLAUSE_BREAK = re.compile(r"(?<!\d),|,(?!\d)|[:()\u2013\u2014]+|\s-\s")

APOSTROPHE = "'"


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower-case with Turkish rules, then fold Turkish letters to ASCII."""
    text = text.replace("İ", "i").replace("I", "i")
    text = unicodedata.normalize("NFC", text).lower().translate(_FOLD)
    # NFC leaves the dot of a decomposed "i̇" behind: drop combining marks.
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text, folded, with what followed an apostrophe split off.

    `BTC'ye` -> base `btc`, suffix `ye`; `don't` -> base `don`, suffix `t`.
    `original` keeps the surface form, for case-sensitive tickers.
    """

    base: str
    suffix: str
    original: str
    index: int
    sentence: int
    clause: int

    @property
    def text(self) -> str:
        return f"{self.base}{APOSTROPHE}{self.suffix}" if self.suffix else self.base

    @property
    def joined(self) -> str:
        """The word as typed without the apostrophe: `btcye`, `dont`."""
        return self.base + self.suffix


@dataclass(frozen=True, slots=True)
class Tokens:
    items: tuple[Token, ...]
    questions: frozenset[int]
    """Sentence numbers that end with a question mark."""

    def __len__(self) -> int:
        return len(self.items)

    def sentence(self, n: int) -> tuple[Token, ...]:
        return tuple(t for t in self.items if t.sentence == n)

    def clause(self, sentence: int, clause: int) -> tuple[Token, ...]:
        return tuple(t for t in self.items if t.sentence == sentence and t.clause == clause)


@lru_cache(maxsize=256)  # one check tokenizes the same draft several times; no more is needed
def tokenize(text: str) -> Tokens:
    """Split a text into folded tokens, numbered by sentence and clause."""
    items: list[Token] = []
    questions: set[int] = set()
    sentence = 0
    pos = 0
    raw = text.replace("\u2019", "'").replace("\u2018", "'")
    for chunk_match in _SENTENCE.finditer(raw):
        chunk = chunk_match.group(0)
        if not chunk.strip():
            continue
        if "?" in chunk[-3:]:
            questions.add(sentence)
        for clause, part in enumerate(_CLAUSE_BREAK.split(chunk)):
            for match in _WORD.finditer(fold(part)):
                word = match.group(0)
                original = _original(part, match.start(), match.end())
                base, _, suffix = word.partition(APOSTROPHE)
                items.append(Token(base, suffix, original, pos, sentence, clause))
                pos += 1
        sentence += 1
    return Tokens(tuple(items), frozenset(questions))


def _original(part: str, start: int, end: int) -> str:
    # Folding keeps lengths for everything but decomposed "İ"; good enough for case checks.
    return part[start:end] if end <= len(part) else part[start:]


@lru_cache(maxsize=4096)
def sentences(text: str) -> tuple[str, ...]:
    """The text's sentences, trimmed, without empty ones."""
    out = []
    for m in _SENTENCE.finditer(text):
        s = m.group(0).strip()
        if s:
            out.append(s)
    return tuple(out)


__all__ = ["APOSTROPHE", "Token", "Tokens", "fold", "sentences", "tokenize"]
