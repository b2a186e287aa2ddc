"""What a turn is about: a topic scored from the chat, the bot and the reply target.

Candidates are the chat's topics, the bot's stance topics and holdings, and
the assets named in the recent lines; they meet on `piyasa_domain.topic_key`
("BTC/USD", "bitcoin" and "BTC" are one topic). Each scores

    1                                      every candidate
  + 2 x 0.7^k  for each recent line naming it (k = 0 for the latest)
  + 1.5 x strength                         the bot holds a stance on it
  + 1                                      the bot holds a position in it
  + 1                                      it is one of the chat's topics
  + 6                                      the reply target is about it
  x 0.5                                    the bot's own last line was about it (variety)

and one is drawn with probability proportional to its score squared, so the
favourite usually wins and the chat still wanders.
"""

from __future__ import annotations

import random
from datetime import datetime

from piyasa_contracts.events._common import ChatLine
from piyasa_domain import topic_key
from piyasa_scheduler.chat import ChatState
from piyasa_scheduler.speaker import recent_lines
from piyasa_scheduler.state import FleetState


def topic_scores(
    fleet: FleetState, chat: ChatState, bot_id: str, target: ChatLine | None, now: datetime
) -> dict[str, float]:
    """Score per topic label; the label is the first name a topic was met under."""
    labels: dict[str, str] = {}
    scores: dict[str, float] = {}

    def add(key: str, label: str, points: float) -> None:
        labels.setdefault(key, label[:120])
        scores[labels[key]] = scores.get(labels[key], 1.0) + points

    for stance in fleet.stances.of(bot_id):
        add(topic_key(stance.topic), stance.topic, 1.5 * stance.strength)
    for holding in fleet.holdings.of(bot_id):
        if holding.quantity != 0:
            add(topic_key(holding.symbol), holding.symbol, 1.0)
    if chat.config is not None:
        for topic in chat.config.topics:
            add(topic_key(topic), topic, 1.0)
    lines = recent_lines(fleet, chat, now)
    for age, line in enumerate(reversed(lines)):
        for key in chat.facts_of(line).topics:
            add(key, _label(key), 2.0 * 0.7**age)
    if target is not None:
        for key in chat.facts_of(target).topics:
            add(key, _label(key), 6.0)
    own = next((line for line in reversed(chat.lines) if line.author_id == bot_id), None)
    if own is not None:
        for key in chat.facts_of(own).topics:
            if key in labels:
                scores[labels[key]] *= 0.5
    return scores


def choose_topic(
    fleet: FleetState,
    chat: ChatState,
    bot_id: str,
    target: ChatLine | None,
    now: datetime,
    rng: random.Random,
) -> str | None:
    scores = topic_scores(fleet, chat, bot_id, target, now)
    if not scores:
        return None
    labels = list(scores)
    return rng.choices(labels, weights=[scores[label] ** 2 for label in labels])[0]


def _label(key: str) -> str:
    """A readable label for a key met only in text: the asset id, or the topic's words."""
    return key.removeprefix("topic:")


__all__ = ["choose_topic", "topic_scores"]
