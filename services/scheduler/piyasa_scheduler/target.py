"""What a turn replies to: a mention, a human's question, a message it disagrees with, or nothing.

In that order of preference, among the chat's recent lines:

1. a line that @-mentions the speaker or replies to it (a human's mention has
   its own, faster path; this is a bot's @-mention, or a mention it answers
   late);
2. a human's question still waiting for an answer;
3. the recent line that most strongly takes the opposite side of one of the
   speaker's stances, with `disagreement_reply_probability` (the fleet's
   `reply_probability`);
4. none: the speaker starts or continues a thread on its topic.
"""

from __future__ import annotations

import random
from datetime import datetime

from piyasa_contracts.events._common import ChatLine
from piyasa_scheduler.chat import ChatState
from piyasa_scheduler.speaker import addressed_to, disagreements, recent_lines
from piyasa_scheduler.state import FleetState


def choose_target(
    fleet: FleetState, chat: ChatState, bot_id: str, now: datetime, rng: random.Random
) -> ChatLine | None:
    lines = recent_lines(fleet, chat, now)
    mention = addressed_to(chat, bot_id, lines)
    if mention is not None:
        return mention
    question = pending_question(chat)
    if question is not None:
        return question
    found = disagreements(fleet, chat, bot_id, lines)
    if found and rng.random() < fleet.policy.disagreement_reply_probability:
        return found[0].line
    return None


def pending_question(chat: ChatState) -> ChatLine | None:
    """The latest human question to the room that no turn has answered yet."""
    for pending in reversed(chat.pending.values()):
        if pending.question and not pending.is_mention:
            return pending.line
    return None


__all__ = ["choose_target", "pending_question"]
