"""Who may speak and who speaks next.

A bot may speak when it is enabled, running, not refused by Telegram (a
revoked token, a chat that removed it), inside its active hours (with
room for a turn to finish before they end), and under its hourly limit
(messages sent in the last hour plus its turns in flight, in every chat).

Among those, a scheduled turn excludes the last speaker (no monologues:
only a reply to a mention lets a bot speak twice in a row) and, once the
same two bots have alternated `back_and_forth_limit` times without a
`drift_pause_s` silence, both of them. The rest are drawn with weights:

    activity        hourly headroom and the persona's verbosity
    recency         a bot that spoke a minute ago is less likely than one silent for ten
    being addressed a recent line @-mentions it or replies to it
    disagreement    a recent line takes the opposite side of one of its stances
    relationships   strong feelings (either way) about the last author
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from piyasa_contracts.events._common import ChatLine
from piyasa_contracts.events.config import ControlState
from piyasa_domain import topic_key
from piyasa_scheduler.activity import Window
from piyasa_scheduler.chat import ChatState
from piyasa_scheduler.state import FleetState

RECENCY_TAU_S = 600.0
"""Silence after which a bot is as likely to speak as if it never had."""
RECENCY_FLOOR = 0.15
ADDRESSED_BOOST = 4.0
DISAGREEMENT_BOOST = 2.0
RELATIONSHIP_BOOST = 0.5


def can_speak(
    fleet: FleetState, chat: ChatState, bot_id: str, now: datetime, *, limit: bool = True
) -> bool:
    """May the bot act in the chat now; `limit=False` for what its hourly limit does not
    count (a reaction)."""
    bot = fleet.bots.get(bot_id)
    if bot is None or not bot.enabled or bot_id not in chat.bot_ids:
        return False
    if fleet.refused(bot_id, chat.chat_id):
        return False
    if fleet.controls.of_bot(bot_id) is not ControlState.RUNNING:
        return False
    if not Window.of(bot.active_hours).allows_turn(now, fleet.policy.turn_deadline_s):
        return False
    return not limit or fleet.hourly_used(bot_id, now) < bot.hourly_limit


def recent_lines(fleet: FleetState, chat: ChatState, now: datetime) -> list[ChatLine]:
    """The last few lines of the chat, inside the recent window."""
    p = fleet.policy
    since = now.timestamp() - p.recent_window_s
    return [line for line in chat.lines[-p.recent_lines :] if line.sent_at.timestamp() >= since]


def back_and_forth(
    chat: ChatState, now: datetime, drift_pause_s: float
) -> tuple[frozenset[str], int]:
    """The two bots of the trailing back-and-forth and its length (turns in flight included).

    A human's line, a third bot, or a silence of `drift_pause_s` ends it.
    """
    pair: list[str] = []
    run = 0
    previous = now
    for author, at in reversed(chat.authors()):
        if not author or (previous - at).total_seconds() >= drift_pause_s:
            break
        if run < 2:
            if author in pair:
                break
            pair.append(author)
        elif author != pair[run % 2]:
            break
        run += 1
        previous = at
    return (frozenset(pair), run) if run >= 2 else (frozenset(), run)


def scheduled_candidates(fleet: FleetState, chat: ChatState, now: datetime) -> list[str]:
    """Bots that may take a scheduled turn now."""
    p = fleet.policy
    last = chat.last_bot_speaker()
    pair, run = back_and_forth(chat, now, p.drift_pause_s)
    tired = pair if run >= p.back_and_forth_limit_for(chat.chat_id) else frozenset()
    return [
        b for b in chat.bot_ids if b != last and b not in tired and can_speak(fleet, chat, b, now)
    ]


@dataclass(frozen=True, slots=True)
class Disagreement:
    line: ChatLine
    topic: str
    """The stance's own topic label (as the operator wrote it)."""
    score: float
    """stance strength x the classifier's confidence in the line's opposite position."""


def disagreements(
    fleet: FleetState, chat: ChatState, bot_id: str, lines: Sequence[ChatLine]
) -> list[Disagreement]:
    """Recent lines by others that take the opposite side of one of the bot's stances."""
    stances = {
        topic_key(s.topic): s for s in fleet.stances.of(bot_id) if s.position.value != "neutral"
    }
    if not stances:
        return []
    found: list[Disagreement] = []
    for line in lines:
        if line.author_id == bot_id:
            continue
        for reading in chat.facts_of(line).readings:
            stance = stances.get(reading.topic)
            if stance is None or reading.position in ("neutral", stance.position.value):
                continue
            found.append(Disagreement(line, stance.topic, stance.strength * reading.confidence))
    found.sort(key=lambda d: -d.score)
    return found


def addressed_to(chat: ChatState, bot_id: str, lines: Sequence[ChatLine]) -> ChatLine | None:
    """The latest of `lines` that @-mentions or replies to the bot, if it has not spoken since."""
    for line in reversed(lines):
        if line.author_id == bot_id:
            return None
        if bot_id in chat.addressed.get(line.ref, ()):
            return line
    return None


def weights(
    fleet: FleetState, chat: ChatState, candidates: Sequence[str], now: datetime
) -> list[float]:
    lines = recent_lines(fleet, chat, now)
    last_author = chat.lines[-1].author_id if chat.lines else None
    spoke_at: dict[str, datetime] = {}
    for author, at in chat.authors():
        if author:
            spoke_at[author] = at
    out = []
    for bot_id in candidates:
        bot = fleet.bots[bot_id]
        limit = max(bot.hourly_limit, 1)
        headroom = max(limit - fleet.hourly_used(bot_id, now), 0) / limit
        w = max(headroom, 0.05) * (0.5 + bot.persona.verbosity)
        last = spoke_at.get(bot_id)
        if last is not None:
            idle = (now - last).total_seconds()
            w *= min(max(idle / RECENCY_TAU_S, RECENCY_FLOOR), 1.0)
        if addressed_to(chat, bot_id, lines) is not None:
            w *= 1.0 + ADDRESSED_BOOST
        found = disagreements(fleet, chat, bot_id, lines)
        if found:
            w *= 1.0 + DISAGREEMENT_BOOST * found[0].score
        if last_author is not None and last_author != bot_id:
            w *= 1.0 + RELATIONSHIP_BOOST * abs(fleet.policy.affinity(bot_id, last_author))
        out.append(w)
    return out


def choose_speaker(
    fleet: FleetState,
    chat: ChatState,
    candidates: Sequence[str],
    now: datetime,
    rng: random.Random,
) -> str | None:
    """One of `candidates`, drawn with the weights above; None when there is none."""
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    return rng.choices(list(candidates), weights=weights(fleet, chat, candidates, now))[0]


__all__ = [
    "Disagreement",
    "addressed_to",
    "back_and_forth",
    "can_speak",
    "choose_speaker",
    "disagreements",
    "recent_lines",
    "scheduled_candidates",
    "weights",
]
