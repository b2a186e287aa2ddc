# ruff: noqa: RUF001  (Turkish text on purpose)
"""Assets and their aliases, with Turkish suffixes and the collisions to avoid."""

from __future__ import annotations

import pytest

from piyasa_domain import find_mentions, resolve, tokenize


@pytest.mark.parametrize(
    ("topic", "asset"),
    [
        ("BTC/USD", "BTC"),
        ("bitcoin", "BTC"),
        ("Altın", "XAU"),
        ("gold", "XAU"),
        ("USD/TRY", "USD"),
        ("dolar", "USD"),
        ("Borsa İstanbul", "BIST100"),
        ("BIST 100", "BIST100"),
        ("THYAO", "THYAO"),
        ("Türk Hava Yolları", "THYAO"),
        ("S&P 500", "SPX"),
        ("faiz", None),
    ],
)
def test_topics_resolve_to_canonical_assets(topic: str, asset: str | None) -> None:
    assert resolve(topic) == asset


def mentioned(text: str) -> list[str]:
    return [m.asset for m in find_mentions(tokenize(text).items)]


def test_turkish_suffixes_with_and_without_apostrophe() -> None:
    assert mentioned("Bitcoin'e, bitcoinde, altınları, ETH'den") == ["BTC", "BTC", "XAU", "ETH"]


def test_below_a_number_is_not_gold() -> None:
    assert mentioned("Fiyat 50 binin altına indi.") == []
    assert mentioned("Altında yükseliş var.") == ["XAU"]


def test_colliding_words_are_not_assets() -> None:
    assert mentioned("sol tarafta garanti kazanç") == []
    assert mentioned("SOL ve Garanti hissesi") == ["SOL", "GARAN"]


def test_dollar_index_is_not_the_dollar() -> None:
    assert mentioned("dolar endeksi") == ["DXY"]
