"""The context a generation request carries, so the generator keeps no state.

Persona and current emotion, the stances (those on the turn's topic first)
and holdings, relationships, the chat's last N lines, the reply target, and
who may be mentioned: the chat's other bots and the humans seen in it (most
recent first), never anyone else.
"""

from __future__ import annotations

from datetime import datetime

from piyasa_contracts.events._common import ChatLine, Emotion, HoldingView, Member, StanceView
from piyasa_contracts.events.config import BotChanged
from piyasa_contracts.events.work import GenerationRequested, Relationship, StyleRules
from piyasa_domain import topic_key
from piyasa_scheduler.chat import ChatState
from piyasa_scheduler.ledger import TurnReason
from piyasa_scheduler.speaker import recent_lines
from piyasa_scheduler.state import PRIORITY, FleetState

_MOODS = ((-0.5, "gloomy"), (-0.15, "uneasy"), (0.15, "calm"), (0.5, "upbeat"))


def mentionable(fleet: FleetState, chat: ChatState, speaker: str) -> list[Member]:
    """The chat's real members the speaker may @-mention: its other bots, then humans seen."""
    members: list[Member] = []
    for bot_id in chat.bot_ids:
        bot = fleet.bots.get(bot_id)
        if bot is None or bot_id == speaker:
            continue
        status = fleet.statuses.get(bot_id)
        members.append(
            Member(
                member_id=bot_id,
                display_name=bot.name,
                username=fleet.username_of(bot_id),
                telegram_user_id=status.telegram_user_id if status else None,
                is_bot=True,
            )
        )
    humans = list(reversed(chat.humans.values()))[: fleet.policy.mentionable_humans]
    return (members + humans)[:500]


def emotion(fleet: FleetState, chat: ChatState, bot: BotChanged, now: datetime) -> Emotion:
    """Baseline mood, moved by how the recent lines side with or against the bot's stances."""
    stances = {topic_key(s.topic): s.position.value for s in fleet.stances.of(bot.id)}
    lean = 0.0
    for line in recent_lines(fleet, chat, now):
        if line.author_id == bot.id:
            continue
        for reading in chat.facts_of(line).readings:
            position = stances.get(reading.topic)
            if position in (None, "neutral") or reading.position == "neutral":
                continue
            lean += reading.confidence if reading.position == position else -reading.confidence
    lean = max(-1.0, min(1.0, lean))
    mood = max(-1.0, min(1.0, bot.emotion.baseline_mood + bot.emotion.volatility * lean))
    label = next((name for top, name in _MOODS if mood <= top), "elated")
    return Emotion(mood=round(mood, 3), label=label)


def build_request(
    fleet: FleetState,
    chat: ChatState,
    *,
    turn_id: str,
    bot_id: str,
    reason: TurnReason,
    reply_target: ChatLine | None,
    topic: str | None,
    now: datetime,
    deadline: datetime,
) -> GenerationRequested:
    bot = fleet.bots[bot_id]
    policy = fleet.policy
    key = topic_key(topic) if topic else None
    stances = sorted(
        fleet.stances.of(bot_id), key=lambda s: (topic_key(s.topic) != key, -s.strength)
    )[:50]
    history = chat.lines[-policy.history_lines :] if policy.history_lines else []
    config = chat.config
    return GenerationRequested(
        turn_id=turn_id,
        deadline=deadline,
        bot_id=bot_id,
        bot_name=bot.name,
        persona=bot.persona,
        emotion=emotion(fleet, chat, bot, now),
        stances=[
            StanceView(
                topic=s.topic,
                position=s.position,
                strength=s.strength,
                rationale=s.rationale,
                cooldown_until=s.cooldown_until,
            )
            for s in stances
        ],
        holdings=[
            HoldingView(symbol=h.symbol, quantity=h.quantity, average_cost=h.average_cost)
            for h in fleet.holdings.of(bot_id)[:50]
        ],
        relationships=[
            Relationship(other_id=r.other_id, affinity=r.affinity, note=r.note)
            for r in policy.relationships_of(bot_id)
            if r.other_id in chat.bot_ids or r.other_id in chat.humans
        ][:100],
        history=history[-200:],
        reply_target=reply_target,
        mentionable=mentionable(fleet, chat, bot_id),
        topic=topic[:120] if topic else None,
        language=config.language if config is not None else bot.language,
        priority=PRIORITY[reason],
        style=StyleRules(
            max_chars=min(int(120 + 400 * bot.persona.verbosity), 4096),
            emoji=bot.persona.emoji_use >= 0.05,
        ),
        llm_provider=bot.llm.provider if bot.llm else None,
        llm_model=bot.llm.model if bot.llm else None,
    )


__all__ = ["build_request", "emotion", "mentionable"]
