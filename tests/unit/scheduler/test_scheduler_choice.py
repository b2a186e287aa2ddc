"""Choosing the speaker, the reply target, the topic, and who may be mentioned."""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from piyasa_scheduler.context import emotion, mentionable
from piyasa_scheduler.speaker import (
    back_and_forth,
    choose_speaker,
    disagreements,
    scheduled_candidates,
    weights,
)
from piyasa_scheduler.target import choose_target
from piyasa_scheduler.topic import choose_topic, topic_scores
from tests.unit.scheduler.scheduler_world import (
    START,
    bot,
    chat,
    fleet,
    fleet_settings,
    holding,
    incoming,
    minutes,
    sent,
    settings,
    stance,
)


def test_a_bot_that_disagrees_with_the_last_message_is_likelier_to_speak() -> None:
    state = fleet(
        [
            bot("bull"),
            bot("bear"),
            bot("quiet"),
            chat("c1", ["bull", "bear", "quiet"]),
            stance("bear", "BTC", "bearish", 0.9),
        ]
    )
    c = state.chat("c1")
    state.apply_conversation(
        sent("c1", "bull", "Bitcoin bence çok yükselecek", at=START - minutes(1)), 0
    )

    w = dict(zip(["bear", "quiet"], weights(state, c, ["bear", "quiet"], START), strict=True))
    assert w["bear"] > 2 * w["quiet"]
    picks = Counter(
        choose_speaker(state, c, ["bear", "quiet"], START, random.Random(s)) for s in range(200)
    )
    assert picks["bear"] > picks["quiet"]


def test_disagreement_reads_negation_and_aliases() -> None:
    state = fleet([bot("a"), bot("b"), chat("c1", ["a", "b"]), stance("b", "BTC/USD", "bullish")])
    c = state.chat("c1")
    state.apply_conversation(
        sent("c1", "a", "bitcoin'in yükseleceğini hiç sanmıyorum", at=START), 0
    )
    state.apply_conversation(sent("c1", "a", "altın düşmez", at=START), 0)

    found = disagreements(state, c, "b", c.lines)
    assert [(d.line.text, d.topic) for d in found] == [
        ("bitcoin'in yükseleceğini hiç sanmıyorum", "BTC/USD")
    ]


def test_being_addressed_and_relationships_raise_the_weight() -> None:
    state = fleet(
        [
            bot("a"),
            bot("friend"),
            bot("stranger"),
            bot("called"),
            chat("c1", ["a", "friend", "stranger", "called"]),
            settings(relationships=[{"bot_id": "friend", "other_id": "a", "affinity": 0.9}]),
        ]
    )
    c = state.chat("c1")
    state.apply_conversation(sent("c1", "a", "@called_bot sen ne dersin", at=START - minutes(1)), 0)

    w = dict(
        zip(
            ["friend", "stranger", "called"],
            weights(state, c, ["friend", "stranger", "called"], START),
            strict=True,
        )
    )
    assert w["called"] > w["friend"] > w["stranger"]


def test_a_bot_that_just_spoke_is_less_likely_than_a_silent_one() -> None:
    state = fleet([bot("a"), bot("b"), bot("c"), chat("c1", ["a", "b", "c"])])
    c = state.chat("c1")
    state.apply_conversation(sent("c1", "b", "x", at=START - minutes(1)), 0)
    state.apply_conversation(sent("c1", "a", "y", at=START - minutes(0.5)), 0)
    w = dict(zip(["b", "c"], weights(state, c, ["b", "c"], START), strict=True))
    assert w["c"] > 3 * w["b"]


def test_back_and_forth_counts_alternation_until_a_pause_or_a_third_voice() -> None:
    state = fleet([bot("a"), bot("b"), bot("c"), chat("c1", ["a", "b", "c"])])
    c = state.chat("c1")
    for i, author in enumerate(["c", "a", "b", "a", "b", "a", "b"]):
        state.apply_conversation(sent("c1", author, "x", at=START + minutes(i)), 0)

    now = START + minutes(7)
    assert back_and_forth(c, now, drift_pause_s=600) == (frozenset({"a", "b"}), 6)
    assert scheduled_candidates(state, c, now) == ["c"]  # a and b are tired of each other
    assert back_and_forth(c, now + minutes(10), drift_pause_s=600) == (frozenset(), 0)


def test_reply_target_prefers_a_mention_then_a_question_then_a_disagreement() -> None:
    state = fleet(
        [
            bot("a"),
            bot("b"),
            bot("c"),
            chat("c1", ["a", "b", "c"]),
            stance("c", "altın", "bearish"),
            settings(disagreement_reply_probability=1.0),
        ]
    )
    c = state.chat("c1")
    rng = random.Random(1)
    assert choose_target(state, c, "c", START, rng) is None  # nothing to answer: a new thread

    state.apply_conversation(sent("c1", "a", "altın uçacak", at=START - minutes(4)), 0)
    assert _text(choose_target(state, c, "c", START, rng)) == "altın uçacak"

    state.apply_conversation(incoming("c1", "p1", "dolar ne olur sizce?", at=START - minutes(3)), 0)
    assert _text(choose_target(state, c, "c", START, rng)) == "dolar ne olur sizce?"

    state.apply_conversation(sent("c1", "b", "@c_bot sen ne diyorsun", at=START - minutes(2)), 0)
    assert _text(choose_target(state, c, "c", START, rng)) == "@c_bot sen ne diyorsun"


@pytest.mark.parametrize(("chance", "low", "high"), [(0.0, 0, 0), (0.6, 100, 140), (1.0, 200, 200)])
def test_the_fleets_reply_probability_is_the_chance_a_turn_answers_a_disagreement(
    chance: float, low: int, high: int
) -> None:
    state = fleet(
        [
            bot("a"),
            bot("c"),
            chat("c1", ["a", "c"]),
            stance("c", "altın", "bearish"),
            fleet_settings(reply_probability=chance),
        ]
    )
    c = state.chat("c1")
    state.apply_conversation(sent("c1", "a", "altın uçacak", at=START - minutes(4)), 0)

    targets = [choose_target(state, c, "c", START, random.Random(s)) for s in range(200)]

    replies = sum(1 for t in targets if t is not None)
    assert low <= replies <= high
    assert {_text(t) for t in targets if t is not None} <= {"altın uçacak"}


def test_old_lines_are_no_reply_targets() -> None:
    state = fleet([bot("a"), bot("c"), chat("c1", ["a", "c"]), stance("c", "altın", "bearish")])
    c = state.chat("c1")
    state.apply_conversation(sent("c1", "a", "altın uçacak", at=START - timedelta(hours=2)), 0)
    assert choose_target(state, c, "c", START, random.Random(1)) is None


def test_topic_follows_the_reply_target_and_the_bots_own_stances() -> None:
    state = fleet(
        [
            bot("a"),
            bot("b"),
            chat("c1", ["a", "b"], topics=["faiz", "BIST"]),
            stance("b", "altın", "bullish", 1.0),
            holding("b", "THYAO", 100),
        ]
    )
    c = state.chat("c1")
    state.apply_conversation(sent("c1", "a", "faiz kararı borsayı vurur", at=START - minutes(1)), 0)

    scores = topic_scores(state, c, "b", None, START)
    assert set(scores) >= {"faiz", "BIST", "altın", "THYAO"}
    assert scores["altın"] > scores["THYAO"]  # a strong stance counts more than a position

    target = c.lines[-1]
    picks = Counter(
        choose_topic(state, c, "b", target, START, random.Random(s)) for s in range(100)
    )
    assert picks.most_common(1)[0][0] in {"faiz", "BIST"}  # what the target talks about


def test_a_bot_varies_its_topic() -> None:
    state = fleet([bot("a"), chat("c1", ["a"], topics=["BTC", "altın"])])
    c = state.chat("c1")
    state.apply_conversation(sent("c1", "a", "BTC sıkıcı", at=START - minutes(1)), 0)
    scores = topic_scores(state, c, "a", None, START)
    # BTC is a chat topic and in the latest line, but it was a's own line: halved.
    assert scores["altın"] >= scores["BTC"]


def test_mentionable_is_the_chats_other_bots_and_the_humans_seen_in_it() -> None:
    state = fleet(
        [
            bot("a"),
            bot("b", username=""),
            bot("elsewhere"),
            chat("c1", ["a", "b"]),
            chat("c2", ["elsewhere"]),
        ]
    )
    c = state.chat("c1")
    state.apply_conversation(
        incoming("c1", "p1", "selam", at=START, username="ayse", name="Ayşe"), 0
    )
    state.apply_conversation(
        incoming("c1", "p2", "merhaba", at=START, username=None, name="Mehmet"), 0
    )
    state.apply_conversation(incoming("c1", "p3", "?", at=START, username=None, name=None), 0)
    state.apply_conversation(incoming("c2", "p9", "hi", at=START, username="other"), 0)

    members = {m.member_id: m for m in mentionable(state, c, "a")}

    assert set(members) == {"b", "p1", "p2"}
    assert members["b"].is_bot and members["b"].display_name == "Bot b"
    assert (members["p1"].username, members["p1"].display_name) == ("ayse", "Ayşe")
    assert members["p2"].username is None  # mentioned by name (a text_mention)


def test_mood_moves_with_the_room() -> None:
    state = fleet([bot("a"), bot("b"), chat("c1", ["a", "b"]), stance("b", "BTC", "bullish")])
    c = state.chat("c1")
    calm = emotion(state, c, state.bots["b"], START)
    state.apply_conversation(sent("c1", "a", "BTC çok sert düşecek", at=START), 0)
    upset = emotion(state, c, state.bots["b"], START)
    assert upset.mood < calm.mood


def _text(line: object) -> str | None:
    return getattr(line, "text", None)
