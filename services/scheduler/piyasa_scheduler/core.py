"""The scheduling core: state, clock and random source in; requests and expirations out.

`tick(fleet, chat, now, rng)` looks at one chat and returns what to publish.
It is pure in the sense that matters: no I/O, no clock, no global random
source, so the same inputs and seed give the same decisions; it advances the
chat's own schedule (its ledger, pace and reply plans) as it decides.

In one tick, in this order:

1. **Expire** turns in flight that passed their deadline, or whose chat or
   bot was paused, stopped, disabled or removed (DESIGN 3a: pause and stop
   expire the chat's turns in flight). Each is announced (`Expire`) so that
   every stage drops it and counts why.
2. **Plan** replies to new human messages, once each: a mention of a bot
   (@username or a reply to its message) with `mention_reply_probability`
   (otherwise it is let go at once), after `mention_delay_s`; a question with
   `question_reply_probability`, any other message with the chat's
   `reply_probability`, after `human_delay_s`.
3. **Pace**: due slots accrue along the chat's rhythm (`pacing`).
4. **Emit** while the chat has fewer than `turns_in_flight` turns open:
   a due reply to a mention first (a pending mention holds everything else
   back until it is answered), then a due reply to a human, then a
   scheduled turn if a slot is waiting and the chat has been quiet for
   `min_gap_s`.
5. **React**: a bot may react to a line it sides with or doubts
   (`reactions`); a reaction is not a turn.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from piyasa_contracts.events._common import ChatLine
from piyasa_contracts.events.config import ControlState
from piyasa_contracts.events.work import GenerationRequested, ReactionApproved
from piyasa_scheduler.activity import ChatRhythm, Window
from piyasa_scheduler.chat import ChatState, PendingHuman, ReplyPlan
from piyasa_scheduler.context import build_request
from piyasa_scheduler.ledger import Outcome, Turn, TurnReason
from piyasa_scheduler.reactions import due_reactions, plan_reactions
from piyasa_scheduler.speaker import (
    can_speak,
    choose_speaker,
    recent_lines,
    scheduled_candidates,
)
from piyasa_scheduler.state import FleetState
from piyasa_scheduler.target import choose_target
from piyasa_scheduler.topic import choose_topic


@dataclass(frozen=True, slots=True)
class Request:
    """Emit a generation request for a new turn (already open in the ledger)."""

    turn: Turn
    payload: GenerationRequested


@dataclass(frozen=True, slots=True)
class Expire:
    """Announce that a turn expired; it is already closed in the ledger."""

    turn: Turn
    reason: str
    """A short code: deadline, chat_paused, chat_stopped, chat_removed, bot_paused, ..."""
    at: datetime


@dataclass(frozen=True, slots=True)
class React:
    """A bot reacts to a line (not a turn: it takes no place in the ledger)."""

    chat_id: str
    payload: ReactionApproved
    at: datetime


Decision = Request | Expire | React


def new_turn_id(rng: random.Random) -> str:
    """A turn id born at the tick (an edge): random, and reproducible under a seed."""
    return f"{rng.getrandbits(128):032x}"


def tick(
    fleet: FleetState,
    chat: ChatState,
    now: datetime,
    rng: random.Random,
    *,
    epoch: int | None = None,
) -> list[Decision]:
    decisions: list[Decision] = list(_expire(fleet, chat, now))
    if _chat_halt(fleet, chat) is not None:
        chat.pacer.reset()
        return decisions
    _plan_replies(fleet, chat, now, rng)
    chat.pacer.advance_to(
        rhythm_of(fleet, chat), now, rng, fleet.policy, quiet=not recent_lines(fleet, chat, now)
    )
    limit = fleet.policy.turns_in_flight_for(chat.chat_id)
    while chat.ledger.in_flight < limit:
        request = _next_request(fleet, chat, now, rng, epoch)
        if request is None:
            break
        fleet.open_turn(request.turn)
        decisions.append(request)
    plan_reactions(fleet, chat, now, rng)
    for line, plan in due_reactions(fleet, chat, now):
        payload = ReactionApproved(
            turn_id=new_turn_id(rng),
            deadline=now + timedelta(seconds=fleet.policy.turn_deadline_s),
            bot_id=plan.bot_id,
            target=line,
            emoji=plan.emoji,
        )
        decisions.append(React(chat.chat_id, payload, now))
    return decisions


def wake_at(fleet: FleetState, chat: ChatState, now: datetime) -> datetime | None:
    """The next instant at which `tick` may decide something without a new event.

    Exact for deadlines, due slots and reply plans; eligibility that changes
    with time alone (an hourly limit freeing up, active hours starting) is
    caught by the caller's maximum tick interval.
    """
    p = fleet.policy
    times = [t for t in (chat.ledger.next_deadline(), chat.pacer.wake_at(p)) if t]
    for ref, pending in chat.pending.items():
        plan = chat.plans.get(ref)
        times.append(pending.line.sent_at + timedelta(seconds=p.human_pending_s))
        if plan is not None and plan.will_reply:
            times.append(plan.due)
    times += [plan.due for plan in chat.reaction_plans.values()]
    if chat.pacer.has_slot() and (last := _last_activity(chat)) is not None:
        times.append(last + timedelta(seconds=p.min_gap_s))
    # What is already due and still waits, waits for an event (an outcome) or for time
    # alone to make a bot eligible; neither is a reason to wake now.
    return min((t for t in times if t > now), default=None)


def rhythm_of(fleet: FleetState, chat: ChatState) -> ChatRhythm:
    """The chat's rate curve: its target and activity curve over its bots' waking hours."""
    cached = chat.rhythm
    if cached is not None and cached[0] == fleet.version:
        return cached[1]
    rhythm = _rhythm(fleet, chat)
    chat.rhythm = (fleet.version, rhythm)
    return rhythm


def _rhythm(fleet: FleetState, chat: ChatState) -> ChatRhythm:
    config = chat.config
    assert config is not None  # tick halts chats without config first
    p = fleet.policy
    bots = [
        fleet.bots[b]
        for b in config.bot_ids
        if b in fleet.bots
        and fleet.bots[b].enabled
        and fleet.controls.of_bot(b) is ControlState.RUNNING
    ]
    zones = Counter(b.active_hours.timezone for b in bots)
    timezone = (
        p.timezone_for(chat.chat_id)
        or (min(zones, key=lambda z: (-zones[z], z)) if zones else None)
        or p.default_timezone
    )
    return ChatRhythm(
        target_per_hour=config.target_per_hour,
        curve=tuple(config.activity_curve),
        timezone=timezone,
        windows=tuple(sorted(Window.of(b.active_hours) for b in bots)),
        margin_s=p.turn_deadline_s,
    )


# -- 1. expiry ---------------------------------------------------------------
def _chat_halt(fleet: FleetState, chat: ChatState) -> str | None:
    if chat.config is None:
        return "chat_removed"
    state = fleet.controls.of_chat(chat.chat_id)
    return None if state is ControlState.RUNNING else f"chat_{state.value}"


def _bot_halt(fleet: FleetState, chat: ChatState, bot_id: str) -> str | None:
    bot = fleet.bots.get(bot_id)
    if bot is None or bot_id not in chat.bot_ids:
        return "bot_removed"
    if not bot.enabled or fleet.refused(bot_id, chat.chat_id):
        return "bot_disabled"
    state = fleet.controls.of_bot(bot_id)
    return None if state is ControlState.RUNNING else f"bot_{state.value}"


def _expire(fleet: FleetState, chat: ChatState, now: datetime) -> list[Expire]:
    out = []
    halted = _chat_halt(fleet, chat)
    for turn in chat.ledger.turns():
        reason = "deadline" if turn.deadline <= now else None
        reason = reason or halted or _bot_halt(fleet, chat, turn.bot_id)
        if reason is None:
            continue
        if fleet.close_turn(chat.chat_id, turn.turn_id, Outcome.EXPIRED, now) is not None:
            out.append(Expire(turn, reason, now))
    return out


# -- 2. reply plans --------------------------------------------------------------
def _plan_replies(fleet: FleetState, chat: ChatState, now: datetime, rng: random.Random) -> None:
    p = fleet.policy
    config = chat.config
    assert config is not None
    for ref, pending in list(chat.pending.items()):
        if (now - pending.line.sent_at).total_seconds() > p.human_pending_s:
            chat.answered(ref)  # let go: the moment has passed
            continue
        if ref in chat.plans:
            continue
        if pending.is_mention:
            if rng.random() >= p.mention_reply_probability:
                # Ignored: no reply of its own. A later turn of the bot may still take the
                # line as its target, as it would any line that mentions it.
                chat.answered(ref)
                continue
            will, delay = True, p.mention_delay_s
        else:
            chance = p.question_reply_probability if pending.question else config.reply_probability
            will, delay = rng.random() < chance, p.human_delay_s
        due = pending.line.sent_at + timedelta(seconds=rng.uniform(*delay))
        chat.plans[ref] = ReplyPlan(will, due)


# -- 4. emission -------------------------------------------------------------------
def _next_request(
    fleet: FleetState, chat: ChatState, now: datetime, rng: random.Random, epoch: int | None
) -> Request | None:
    mention, holding = _due_mention(fleet, chat, now)
    if mention is not None:
        pending, addressed = mention
        chat.pacer.count_reply(fleet.policy)
        return _request(fleet, chat, addressed, TurnReason.MENTION, pending.line, now, rng, epoch)
    if holding:
        return None
    human = _due_human(chat, now)
    if human is not None:
        candidates = [b for b in chat.bot_ids if can_speak(fleet, chat, b, now)]
        answering = choose_speaker(fleet, chat, candidates, now, rng)
        if answering is not None:
            chat.pacer.count_reply(fleet.policy)
            return _request(fleet, chat, answering, TurnReason.HUMAN, human.line, now, rng, epoch)
    if not chat.pacer.has_slot() or not _quiet_enough(fleet, chat, now):
        return None
    speaker = choose_speaker(fleet, chat, scheduled_candidates(fleet, chat, now), now, rng)
    if speaker is None:
        return None
    chat.pacer.use_slot()
    target = choose_target(fleet, chat, speaker, now, rng)
    return _request(fleet, chat, speaker, TurnReason.SCHEDULED, target, now, rng, epoch)


def _due_mention(
    fleet: FleetState, chat: ChatState, now: datetime
) -> tuple[tuple[PendingHuman, str] | None, bool]:
    """The oldest mention whose reply is due and whose bot can speak; and whether a
    mention not yet due holds the other turns back (one its bot can answer)."""
    holding = False
    for ref, pending in chat.pending.items():
        if not pending.is_mention:
            continue
        able = [b for b in pending.addressed if can_speak(fleet, chat, b, now)]
        if not able:
            continue  # deferred: answered when one of its bots can speak, or let go
        plan = chat.plans[ref]
        if plan.due <= now:
            return (pending, able[0]), True
        holding = True
    return None, holding


def _due_human(chat: ChatState, now: datetime) -> PendingHuman | None:
    """The latest message to the room whose planned reply is due."""
    for ref, pending in reversed(chat.pending.items()):
        plan = chat.plans.get(ref)
        if not pending.is_mention and plan is not None and plan.will_reply and plan.due <= now:
            return pending
    return None


def _last_activity(chat: ChatState) -> datetime | None:
    latest = chat.ledger.latest()
    times = [t for t in (chat.last_message_at(), latest.requested_at if latest else None) if t]
    return max(times) if times else None


def _quiet_enough(fleet: FleetState, chat: ChatState, now: datetime) -> bool:
    last = _last_activity(chat)
    return last is None or (now - last).total_seconds() >= fleet.policy.min_gap_s


def _request(
    fleet: FleetState,
    chat: ChatState,
    bot_id: str,
    reason: TurnReason,
    target: ChatLine | None,
    now: datetime,
    rng: random.Random,
    epoch: int | None,
) -> Request:
    if target is not None:
        _answered(chat, target, reason)
    turn = Turn(
        turn_id=new_turn_id(rng),
        chat_id=chat.chat_id,
        bot_id=bot_id,
        reason=reason,
        requested_at=now,
        deadline=now + timedelta(seconds=fleet.policy.turn_deadline_s),
        epoch=epoch,
        reply_ref=target.ref if target is not None else None,
    )
    topic = choose_topic(fleet, chat, bot_id, target, now, rng)
    payload = build_request(
        fleet,
        chat,
        turn_id=turn.turn_id,
        bot_id=bot_id,
        reason=reason,
        reply_target=target,
        topic=topic,
        now=now,
        deadline=turn.deadline,
    )
    return Request(turn, payload)


def _answered(chat: ChatState, target: ChatLine, reason: TurnReason) -> None:
    """A reply settles its target; a reply to the room settles the room's older messages too."""
    chat.answered(target.ref)
    if reason is TurnReason.MENTION:
        return
    for ref, pending in list(chat.pending.items()):
        if not pending.is_mention and pending.line.sent_at <= target.sent_at:
            chat.answered(ref)


__all__ = ["Decision", "Expire", "React", "Request", "new_turn_id", "rhythm_of", "tick", "wake_at"]
