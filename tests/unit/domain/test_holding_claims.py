# ruff: noqa: RUF001  (Turkish text on purpose)
"""First-person holding claims, TR and EN."""

from __future__ import annotations

import pytest

from piyasa_domain import detect_holding_claims


def claims(text: str) -> set[tuple[str, bool]]:
    return {(c.asset, c.holds) for c in detect_holding_claims(text)}


@pytest.mark.parametrize(
    ("text", "asset"),
    [
        ("Hiç Bitcoin almadım.", "BTC"),
        ("Bende altın yok.", "XAU"),
        ("Ethereum'um yok.", "ETH"),
        ("THYAO hisselerimin hepsini sattım.", "THYAO"),
        ("Dolar tutmuyorum.", "USD"),
        ("I don't own any bitcoin.", "BTC"),
        ("I have no gold.", "XAU"),
        ("Sold all my Tesla shares.", "TSLA"),
        ("I've never held ETH.", "ETH"),
    ],
)
def test_claims_of_holding_none(text: str, asset: str) -> None:
    assert (asset, False) in claims(text)


@pytest.mark.parametrize(
    ("text", "asset"),
    [
        ("Bitcoin'lerimi hâlâ tutuyorum.", "BTC"),
        ("Bende biraz altın var.", "XAU"),
        ("I'm still holding my ETH.", "ETH"),
        ("I never sold my Nvidia.", "NVDA"),
    ],
)
def test_claims_of_holding_some(text: str, asset: str) -> None:
    assert (asset, True) in claims(text)


@pytest.mark.parametrize(
    "text",
    [
        "Ali hiç Bitcoin almamış.",  # third person
        "My brother doesn't own any gold.",
        "Bitcoin bugün yükseldi.",  # no claim at all
    ],
)
def test_other_peoples_holdings_are_not_claims(text: str) -> None:
    assert claims(text) == set()


def test_a_claim_without_an_asset_refers_to_the_one_just_named() -> None:
    assert claims("Solana mı? Hiç almadım.") == {("SOL", False)}


def test_each_clause_claims_for_its_own_asset() -> None:
    assert claims("I never bought ETH, but I still have my bitcoin.") == {
        ("ETH", False),
        ("BTC", True),
    }
