"""The market vocabulary's assets: canonical ids, aliases and tickers, TR and EN.

An asset is found in text by any of its aliases, with Turkish case suffixes
(`Bitcoin'e`, `bitcoinde`, `altinlari`) and English possessives (`Tesla's`).
Short tickers match only as whole words, and the ones that collide with a
common word (`SOL` is Turkish for "left", `Garanti` the word "guarantee")
only as typed, in capitals, or with the guard words below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from piyasa_domain.text import Token, fold, tokenize


@dataclass(frozen=True)
class Asset:
    id: str
    kind: str
    aliases: tuple[str, ...]
    """Lower-case aliases as people write them; multi-word ones too."""
    exact: tuple[str, ...] = ()
    """Surface forms that only count when typed exactly so (capitalised tickers, proper names)."""
    inverse_of: str | None = None
    """A view on this asset is the opposite view on that one (the lira vs USD/TRY)."""
    not_before: tuple[str, ...] = field(default=())
    """Folded words that, right after the alias, mean it is not this asset."""


ASSETS: tuple[Asset, ...] = (
    Asset("BTC", "crypto", ("bitcoin", "btc", "xbt", "btcusd", "btc/usd", "btcusdt")),
    Asset("ETH", "crypto", ("ethereum", "eth", "ether", "ethusd", "eth/usd")),
    Asset("SOL", "crypto", ("solana", "solusd"), exact=("SOL",)),
    Asset("XRP", "crypto", ("xrp", "ripple")),
    Asset("DOGE", "crypto", ("dogecoin", "doge")),
    Asset("CRYPTO", "crypto", ("kripto", "crypto", "kripto para", "cryptocurrency")),
    Asset("XAU", "commodity", ("altin", "gold", "xau", "xauusd", "gram altin", "ons altin")),
    Asset("XAG", "commodity", ("gumus", "silver", "xag")),
    Asset("BRENT", "commodity", ("petrol", "brent", "oil", "crude", "ham petrol", "wti")),
    Asset(
        "USD",
        "fx",
        ("dolar", "dollar", "usd", "usdtry", "usd/try", "dolar/tl", "usd/tl", "kur", "doviz"),
        not_before=("endeksi", "endeks", "index"),
    ),
    Asset("TRY", "fx", ("tl", "lira", "turk lirasi", "turkish lira"), inverse_of="USD"),
    Asset("DXY", "fx", ("dolar endeksi", "dollar index", "dxy")),
    Asset("EUR", "fx", ("euro", "avro", "eur", "eurusd", "eur/usd")),
    Asset(
        "BIST100",
        "index",
        ("bist", "bist100", "bist 100", "xu100", "borsa istanbul", "borsa", "istanbul index"),
    ),
    Asset("SPX", "index", ("s&p 500", "s&p", "sp500", "spx")),
    Asset("NDX", "index", ("nasdaq", "ndx", "nasdaq 100")),
    Asset("THYAO", "stock", ("thyao", "thy", "turk hava yollari", "turkish airlines")),
    Asset("ASELS", "stock", ("aselsan", "asels")),
    Asset(
        "GARAN",
        "stock",
        ("garan", "garanti bankasi", "garanti bbva"),
        exact=("Garanti",),
        not_before=(
            "kazanc",
            "getiri",
            "kar",
            "para",
            "kazandirir",
            "profit",
            "return",
            "returns",
            "gains",
        ),
    ),
    Asset("AKBNK", "stock", ("akbank", "akbnk")),
    Asset("SISE", "stock", ("sisecam", "sise")),
    Asset("EREGL", "stock", ("eregli", "eregl")),
    Asset("TUPRS", "stock", ("tupras", "tuprs")),
    Asset("KCHOL", "stock", ("koc holding", "kchol")),
    Asset("BIMAS", "stock", ("bimas",), exact=("BIM", "BİM")),
    Asset("PGSUS", "stock", ("pegasus", "pgsus")),
    Asset("TSLA", "stock", ("tesla", "tsla")),
    Asset("AAPL", "stock", ("apple", "aapl")),
    Asset("NVDA", "stock", ("nvidia", "nvda")),
)

BY_ID: dict[str, Asset] = {a.id: a for a in ASSETS}

# Folded Turkish case/possessive/plural endings and English plural/possessive
# that may follow an alias without an apostrophe (`bitcoinde`, `altinlarimi`).
_SUFFIX = re.compile(
    r"^(l[ae]r)?(im|um|m|in|un|n|i|u|si|su|imiz|umuz|iniz|unuz)?"
    r"(n)?(de|da|te|ta|den|dan|ten|tan|deki|daki|ye|ya|e|a|yi|yu|ni|nu|nin|nun|in|un|le|la|ci|cu)?"
    r"(ki)?$|^s$"
)


@dataclass(frozen=True, slots=True)
class Mention:
    asset: str
    start: int
    """Index of the first token of the alias."""
    end: int
    """Index after the last token."""
    possessive_1sg: bool
    """The alias carries a first-person possessive (`Ethereum'um`, `altinim`, `dolarim`)."""


@cache
def _alias_index() -> dict[str, tuple[tuple[tuple[str, ...], Asset], ...]]:
    """First word of an alias -> (alias words, asset), longest aliases first."""
    index: dict[str, list[tuple[tuple[str, ...], Asset]]] = {}
    for asset in ASSETS:
        for alias in asset.aliases:
            words = tuple(t.base for t in tokenize(alias).items)
            if words:
                index.setdefault(words[0], []).append((words, asset))
    # Longest aliases first: "dolar endeksi" before "dolar", "gram altin" before "altin".
    return {k: tuple(sorted(v, key=lambda item: -len(item[0]))) for k, v in index.items()}


@cache
def _exact_index() -> dict[str, Asset]:
    return {form: asset for asset in ASSETS for form in asset.exact}


def _candidates(token: Token) -> list[tuple[tuple[str, ...], Asset]]:
    """Aliases whose first word this token may spell: itself, or a prefix plus a suffix."""
    index = _alias_index()
    found = list(index.get(token.base, ()))
    if not token.suffix:
        for k in range(len(token.base) - 1, 3, -1):
            found.extend(index.get(token.base[:k], ()))
    return found


def _word_matches(alias: str, token: Token, last: bool) -> tuple[bool, str]:
    """Does a token spell this alias word? Returns (matched, what followed it)."""
    if token.base == alias:
        return True, token.suffix
    if not last or token.suffix or len(alias) < 4:
        return False, ""
    if token.base.startswith(alias):
        rest = token.base[len(alias) :]
        if _SUFFIX.match(rest):
            return True, rest
    return False, ""


def _is_possessive_1sg(rest: str) -> bool:
    return rest in ("m", "im", "um", "imi", "umu", "mi", "mu", "imde", "umda", "imden", "lerim")


def find_mentions(tokens: Sequence[Token]) -> list[Mention]:
    """Every asset named in a token sequence, left to right, no overlaps."""
    mentions: list[Mention] = []
    taken: set[int] = set()
    toks = list(tokens)
    for i in range(len(toks)):
        if i in taken:
            continue
        found = _match_at(toks, i)
        if found is None:
            continue
        mention = found
        mentions.append(mention)
        taken.update(range(mention.start, mention.end))
    return mentions


def _match_at(toks: list[Token], i: int) -> Mention | None:
    token = toks[i]
    exact = _exact_index()
    asset = exact.get(token.original) or exact.get(token.original.split("'")[0])
    if asset is not None:
        nxt = toks[i + 1].base if i + 1 < len(toks) else ""
        if nxt not in asset.not_before:
            return Mention(asset.id, i, i + 1, _is_possessive_1sg(token.suffix))
    for words, asset in sorted(_candidates(token), key=lambda item: -len(item[0])):
        n = len(words)
        if i + n > len(toks):
            continue
        rest = ""
        ok = True
        for k, word in enumerate(words):
            matched, rest = _word_matches(word, toks[i + k], last=k == n - 1)
            if not matched:
                ok = False
                break
        if not ok:
            continue
        nxt = toks[i + n].base if i + n < len(toks) else ""
        if nxt in asset.not_before:
            continue
        if asset.id == "XAU" and _altin_means_below(toks, i):
            continue
        return Mention(asset.id, i, i + n, _is_possessive_1sg(rest))
    return None


def _altin_means_below(toks: list[Token], i: int) -> bool:
    """`50 binin altina` is "below 50k", not gold: `alt-` after a number or a genitive."""
    token = toks[i]
    if token.base not in ("altina", "altinda", "altindan") and not (
        token.base == "altin" and token.suffix in ("a", "da", "dan")
    ):
        return False
    if i == 0:
        return False
    prev = toks[i - 1]
    word = prev.joined
    return word.isdigit() or word.endswith(("in", "un", "nin", "nun", "sinin", "sunun"))


@cache
def resolve(topic: str) -> str | None:
    """The canonical asset a free-text topic or symbol names (`BTC/USD` -> BTC), if any."""
    toks = tokenize(topic).items
    mentions = find_mentions(toks)
    if mentions:
        return mentions[0].asset
    folded = fold(topic).strip()
    for asset in ASSETS:
        if folded == asset.id.lower():
            return asset.id
    return None


def related(asset: str) -> str | None:
    """The asset that a view on `asset` is the inverse of (TRY -> USD)."""
    a = BY_ID.get(asset)
    return a.inverse_of if a else None


def ids(mentions: Iterable[Mention]) -> list[str]:
    return [m.asset for m in mentions]


__all__ = ["ASSETS", "BY_ID", "Asset", "Mention", "find_mentions", "ids", "related", "resolve"]
