"""What models add and people don't type is removed before the draft goes out."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike.

from __future__ import annotations

import pytest

from piyasa_generator.cleaning import clean, truncate


def cleaned(text: str, **kw: object) -> str:
    options: dict[str, object] = {"max_chars": 280, "names": ("Ayşe", "bot001")}
    options.update(kw)
    return clean(text, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"BTC bence yukarı."', "BTC bence yukarı."),
        ("“Altın yine rekor kırdı.”", "Altın yine rekor kırdı."),
        ("„Altın yine rekor kırdı.“", "Altın yine rekor kırdı."),
        ("«ETH sıkıcı»", "ETH sıkıcı"),
        ("Ayşe: BTC bence yukarı.", "BTC bence yukarı."),
        ("**Ayşe:** BTC bence yukarı.", "BTC bence yukarı."),
        ('Assistant: "BTC bence yukarı."', "BTC bence yukarı."),
        ("Cevap: tamam", "tamam"),
        ("Here is my message: BTC looks strong.", "BTC looks strong."),
        ("İşte mesajım: BTC güçlü.", "BTC güçlü."),
        ("BTC **çok** güçlü, _gerçekten_", "BTC çok güçlü, gerçekten"),
        ("## BTC\n- güçlü\n- hacimli", "BTC\ngüçlü\nhacimli"),
        ("Bak: [grafik](https://example.com/x) ve `RSI` 70", "Bak: grafik ve RSI 70"),
        ("```\nBTC yukarı\n```", "BTC yukarı"),
        ("> alıntı bu", "alıntı bu"),
        ("1. çeyrek bilançosu güzel geldi", "1. çeyrek bilançosu güzel geldi"),
        ("@uye_1 haklısın, BTC_USD paritesi", "@uye_1 haklısın, BTC_USD paritesi"),
        ('"a" ile "b" aynı değil', '"a" ile "b" aynı değil'),
        ("Mehmet: BTC", "Mehmet: BTC"),  # someone else's name is content, not a prefix
        ("   boşluklar    çok   ", "boşluklar çok"),
    ],
)
def test_model_artefacts_are_removed(raw: str, expected: str) -> None:
    assert cleaned(raw) == expected


def test_emoji_are_removed_where_the_chat_forbids_them() -> None:
    assert cleaned("BTC uçuyor 🚀🚀 📈", allow_emoji=False) == "BTC uçuyor"
    assert cleaned("BTC uçuyor 🚀", allow_emoji=True) == "BTC uçuyor 🚀"


def test_markdown_stays_where_the_chat_allows_it() -> None:
    assert cleaned("BTC **güçlü**", allow_markdown=True) == "BTC **güçlü**"


def test_past_the_limit_it_cuts_at_a_sentence_end_when_one_is_close() -> None:
    text = "BTC güçlü duruyor. Hacim de artıyor. " * 5
    out = cleaned(text, max_chars=60)
    assert len(out) <= 60 and out.endswith(".")


def test_past_the_limit_without_a_sentence_end_it_cuts_at_a_word_with_an_ellipsis() -> None:
    out = truncate("kelime " * 40, 50)
    assert len(out) <= 50 and out.endswith("…") and "kelim…" not in out


def test_nothing_usable_left_is_empty() -> None:
    assert cleaned('""') == ""
    assert cleaned(" \n ") == ""
