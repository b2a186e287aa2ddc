# ruff: noqa: RUF001  (Turkish text on purpose)
"""The near-duplicate index: windows by count and age, in-flight approvals, cost."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from piyasa_guard.dedup import NearDuplicateIndex, Window

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
TEXT = "Bitcoin yine 60 binin üzerine çıktı, alıcılar bayağı istekli görünüyor."
PARAPHRASE = "Bitcoin yine 60 binin üstüne çıktı, alıcılar epey istekli görünüyor."


def index(**kwargs: object) -> NearDuplicateIndex:
    return NearDuplicateIndex(threshold=0.4, **kwargs)  # type: ignore[arg-type]


def add(
    ix: NearDuplicateIndex,
    key: str,
    text: str,
    *,
    chat: str = "c1",
    bot: str = "b1",
    at: datetime = NOW,
    sent: bool = True,
) -> None:
    ix.add(key, ix.fingerprint(text), chat_id=chat, bot_id=bot, at=at, sent=sent)


def test_a_paraphrase_in_the_chat_is_found() -> None:
    ix = index()
    add(ix, "t1", TEXT)
    match = ix.nearest(ix.fingerprint(PARAPHRASE), chat_id="c1", bot_id="b2", now=NOW)
    assert match is not None and match.key == "t1" and match.scope == "chat"


def test_unrelated_text_on_the_same_topic_is_not() -> None:
    ix = index()
    add(ix, "t1", TEXT)
    other = "Bitcoin ETF çıkışları bugün arttı, kurumsallar temkinli."
    assert ix.nearest(ix.fingerprint(other), chat_id="c1", bot_id="b2", now=NOW) is None


def test_the_bots_own_messages_in_other_chats_count() -> None:
    ix = index()
    add(ix, "t1", TEXT, chat="elsewhere", bot="b1")
    match = ix.nearest(ix.fingerprint(PARAPHRASE), chat_id="c1", bot_id="b1", now=NOW)
    assert match is not None and match.scope == "bot"


def test_messages_leave_the_window_by_age_and_by_count() -> None:
    ix = index(chat_window=Window(2, timedelta(hours=1)), bot_window=Window(2, timedelta(hours=1)))
    add(ix, "old", TEXT, at=NOW - timedelta(hours=2))
    assert ix.nearest(ix.fingerprint(TEXT), chat_id="c1", bot_id="x", now=NOW) is None
    add(ix, "t1", TEXT, at=NOW)
    add(ix, "t2", "Altın bugün sakin.", at=NOW)
    add(ix, "t3", "Dolar yatay seyrediyor.", at=NOW)
    assert ix.nearest(ix.fingerprint(TEXT), chat_id="c1", bot_id="x", now=NOW) is None
    assert len(ix) == 2


def test_an_approval_in_flight_counts_until_its_turn_fails() -> None:
    ix = index()
    add(ix, "t1", TEXT, sent=False)
    match = ix.nearest(ix.fingerprint(PARAPHRASE), chat_id="c1", bot_id="b2", now=NOW)
    assert match is not None and match.in_flight
    ix.discard("t1")
    assert ix.nearest(ix.fingerprint(PARAPHRASE), chat_id="c1", bot_id="b2", now=NOW) is None


def test_sent_after_approved_is_one_message_and_is_not_discarded() -> None:
    ix = index()
    add(ix, "t1", TEXT, sent=False)
    add(ix, "t1", TEXT, sent=True)
    ix.discard("t1")
    assert len(ix) == 1


def test_the_drafts_own_turn_is_excluded() -> None:
    ix = index()
    add(ix, "t1", TEXT, sent=False)
    assert (
        ix.nearest(ix.fingerprint(TEXT), chat_id="c1", bot_id="b1", now=NOW, exclude="t1") is None
    )


def test_a_large_window_is_searched_through_its_bands() -> None:
    big = Window(5_000, timedelta(days=30))
    ix = index(chat_window=big, bot_window=big)
    for i in range(1_500):  # past the size compared in full
        add(
            ix,
            f"h{i}",
            f"mesaj {i} piyasa notu numara {i * 7919 % 10007}",
            bot=f"b{i % 3}",
            at=NOW - timedelta(seconds=1_500 - i),
        )
    add(ix, "target", TEXT, bot="b0")
    match = ix.nearest(ix.fingerprint(PARAPHRASE), chat_id="c1", bot_id="b9", now=NOW)
    assert match is not None and match.key == "target"
    ix.discard("target")  # sent, so it stays
    assert ix.nearest(ix.fingerprint(PARAPHRASE), chat_id="c1", bot_id="b9", now=NOW) is not None


def distinct(i: int) -> str:
    rng = random.Random(i)
    return " ".join("".join(rng.choices("abcdefghijklmnoprstuvyz", k=6)) for _ in range(8))


def test_rows_are_reused_after_eviction_without_confusing_windows() -> None:
    small = Window(3, timedelta(days=1))
    ix = index(chat_window=small, bot_window=Window(3, timedelta(days=1)))
    for i in range(2_000):  # many times the initial capacity: rows are freed and reused
        add(ix, f"k{i}", distinct(i), chat=f"c{i % 5}", bot=f"b{i % 7}")
    found = ix.nearest(ix.fingerprint(distinct(1_999)), chat_id="c4", bot_id="x", now=NOW)
    assert found is not None and found.key == "k1999"
    assert ix.nearest(ix.fingerprint(distinct(3)), chat_id="c3", bot_id="b3", now=NOW) is None
    assert len(ix) <= 5 * 3 + 7 * 3


def test_retuning_rebuilds_the_bands_of_a_large_window_for_the_new_threshold() -> None:
    big = Window(5_000, timedelta(days=30))
    ix = NearDuplicateIndex(threshold=0.9, chat_window=big, bot_window=big)
    for i in range(1_000):  # past the size compared in full: only the bands find candidates
        add(ix, f"h{i}", distinct(i), bot=f"b{i % 3}", at=NOW - timedelta(seconds=1_000 - i))
    add(ix, "target", TEXT, bot="b0")
    loose = "Bitcoin yine 60 binin üzerine çıktı, alıcılar istekli, hacim de artıyor."
    assert ix.nearest(ix.fingerprint(loose), chat_id="c1", bot_id="b9", now=NOW) is None

    ix.retune(threshold=0.4, chat_window_count=5_000)

    match = ix.nearest(ix.fingerprint(loose), chat_id="c1", bot_id="b9", now=NOW)
    assert match is not None and match.key == "target" and 0.4 <= match.similarity < 0.9
    ix.discard("h999")  # sent: kept; the rebuilt buckets still drop what leaves
    assert len(ix) == 1_001


def test_retuning_to_a_smaller_window_sheds_the_oldest_at_its_next_use() -> None:
    ix = index()
    add(ix, "old", TEXT, at=NOW - timedelta(minutes=20))
    for i in range(10):
        add(ix, f"k{i}", distinct(i), at=NOW - timedelta(minutes=10 - i))

    ix.retune(threshold=0.4, chat_window_count=10)

    assert ix.nearest(ix.fingerprint(PARAPHRASE), chat_id="c1", bot_id="b9", now=NOW) is None
