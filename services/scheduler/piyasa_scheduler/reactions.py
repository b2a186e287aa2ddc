"""Reactions: a bot that sides with (or doubts) a recent line may react to it with an emoji.

People react more often than they answer. Each new line is considered once:
among the chat's other bots that may speak now, those holding a stance the
line agrees with may react 👍 🔥 💯 👏, those it contradicts 🤔; with
`reaction_probability` one of them does, after `reaction_delay_s`. A bot
reacts at most once to a message (Telegram keeps one reaction per bot per
message); reactions are not messages, so they neither take a turn nor count
against the hourly limit. The emoji come from Telegram's fixed reaction list.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from piyasa_contracts.events._common import ChatLine
from piyasa_domain import topic_key
from piyasa_scheduler.chat import ChatState, ReactionPlan
from piyasa_scheduler.speaker import can_speak
from piyasa_scheduler.state import FleetState

AGREE = ("👍", "🔥", "💯", "👏")
DOUBT = "🤔"


def leanings(fleet: FleetState, chat: ChatState, line: ChatLine) -> dict[str, bool]:
    """Bots of the chat (not the author) with a stance on the line's topics: True when
    the line sides with them, False when it contradicts them."""
    out: dict[str, bool] = {}
    readings = chat.facts_of(line).readings
    if not readings:
        return out
    for bot_id in chat.bot_ids:
        if bot_id == line.author_id:
            continue
        stances = {topic_key(s.topic): s.position.value for s in fleet.stances.of(bot_id)}
        for reading in readings:
            position = stances.get(reading.topic)
            if position in (None, "neutral") or reading.position == "neutral":
                continue
            out[bot_id] = out.get(bot_id, True) and reading.position == position
    return out


def plan_reactions(fleet: FleetState, chat: ChatState, now: datetime, rng: random.Random) -> None:
    """Decide, once per new line with a Telegram message id, whether a bot reacts to it."""
    p = fleet.policy
    for line in chat.lines:
        if line.ref in chat.reaction_considered or line.telegram_message_id is None:
            continue
        chat.reaction_considered.add(line.ref)
        if (now - line.sent_at).total_seconds() > p.recent_window_s:
            continue
        sides = leanings(fleet, chat, line)
        if not sides or rng.random() >= p.reaction_probability:
            continue
        bot_id = rng.choice(sorted(sides))
        emoji = rng.choice(AGREE) if sides[bot_id] else DOUBT
        due = line.sent_at + timedelta(seconds=rng.uniform(*p.reaction_delay_s))
        chat.reaction_plans[line.ref] = ReactionPlan(bot_id, emoji, due)


def due_reactions(
    fleet: FleetState, chat: ChatState, now: datetime
) -> list[tuple[ChatLine, ReactionPlan]]:
    """Planned reactions that are due and whose bot may act now; they leave the plan."""
    out = []
    for ref, plan in list(chat.reaction_plans.items()):
        line = chat.line(ref)
        if line is None or line.telegram_message_id is None:
            del chat.reaction_plans[ref]
            continue
        if plan.due > now:
            continue
        del chat.reaction_plans[ref]
        key = (line.telegram_message_id, plan.bot_id)
        if key in chat.reacted or not can_speak(fleet, chat, plan.bot_id, now, limit=False):
            continue
        chat.record_reaction(*key)
        out.append((line, plan))
    return out


__all__ = ["AGREE", "DOUBT", "due_reactions", "leanings", "plan_reactions"]
