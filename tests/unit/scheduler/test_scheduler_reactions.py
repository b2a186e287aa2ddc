"""Reactions: a bot reacts once to a line it sides with or doubts."""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

import random
from datetime import timedelta

from piyasa_contracts.events.conversation import ReactionAdded
from piyasa_scheduler.chat import ChatState
from piyasa_scheduler.core import Decision, React, tick
from piyasa_scheduler.reactions import AGREE, DOUBT
from piyasa_scheduler.state import FleetState
from tests.unit.scheduler.scheduler_world import (
    START,
    bot,
    chat,
    event,
    fleet,
    sent,
    settings,
    stance,
)


def world(probability: float = 1.0) -> tuple[FleetState, ChatState]:
    state = fleet(
        [
            bot("bull"),
            bot("bear"),
            bot("author"),
            chat("c1", ["bull", "bear", "author"], target=0),
            stance("bull", "BTC", "bullish"),
            stance("bear", "BTC", "bearish"),
            settings(reaction_probability=probability, reaction_delay_s=[10, 10]),
        ]
    )
    return state, state.chat("c1")


def reactions(decisions: list[Decision]) -> list[React]:
    return [d for d in decisions if isinstance(d, React)]


def test_a_bot_that_sides_with_a_line_reacts_once_after_a_delay() -> None:
    state, c = world()
    state.apply_conversation(
        sent("c1", "author", "BTC bence yükselecek", at=START, message_id=7), 0
    )
    rng = random.Random(1)

    assert reactions(tick(state, c, START, rng)) == []
    [react] = reactions(tick(state, c, START + timedelta(seconds=10), rng))

    p = react.payload
    assert p.target.telegram_message_id == 7 and p.bot_id in {"bull", "bear"}
    assert p.emoji in AGREE if p.bot_id == "bull" else p.emoji == DOUBT
    assert reactions(tick(state, c, START + timedelta(minutes=5), rng)) == []


def test_nobody_reacts_to_a_line_without_a_side() -> None:
    state, c = world()
    state.apply_conversation(sent("c1", "author", "günaydın herkese", at=START, message_id=8), 0)
    rng = random.Random(2)
    assert (
        reactions(tick(state, c, START, rng) + tick(state, c, START + timedelta(minutes=2), rng))
        == []
    )


def test_a_reaction_the_dispatcher_recorded_is_not_repeated() -> None:
    state, c = world()
    state.apply_conversation(sent("c1", "author", "BTC çok yükselir", at=START, message_id=9), 0)
    for bot_id in ("bull", "bear"):
        done = ReactionAdded(
            telegram_chat_id=-1,
            telegram_message_id=9,
            actor_id=bot_id,
            actor_is_bot=True,
            emoji="👍",
        )
        state.apply_conversation(event(done, chat_id="c1"), 0)
    rng = random.Random(3)
    decisions = tick(state, c, START, rng) + tick(state, c, START + timedelta(minutes=1), rng)
    assert reactions(decisions) == []


def test_reactions_are_occasional() -> None:
    state, c = world(probability=0.2)
    rng = random.Random(4)
    total = 0
    for i in range(200):
        at = START + timedelta(minutes=i)
        state.apply_conversation(sent("c1", "author", "BTC yükselir", at=at, message_id=100 + i), 0)
        total += len(reactions(tick(state, c, at, rng)))
    total += len(reactions(tick(state, c, START + timedelta(minutes=300), rng)))
    assert 20 < total < 60  # about one line in five
