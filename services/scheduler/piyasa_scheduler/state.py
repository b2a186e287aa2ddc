"""The scheduler's state, folded from the log; every apply is idempotent.

- CONFIG (last per subject): bots, chats, stances, holdings, controls, and
  the policy (the fleet's `settings.changed`: its knobs, then the advanced
  overrides of `values["scheduler"]`; see `policy.py`).
- CONVERSATION (a window): the chats' shared history (sent messages and
  humans' messages: Telegram never shows a bot another bot's message, so this
  is the only history the bots share), humans seen, pending human messages
  and mentions, each bot's sends in the last hour, and turn outcomes that
  close the ledger.
- WORK generation requests (a window as long as a turn's deadline): turns in
  flight, whichever replica emitted them. This is how a partition's new owner
  knows the turns its predecessor left in flight.

Every replica folds every chat (the state is small: bounded lines per chat);
the partition leases decide only which chats a replica *schedules*.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from piyasa_contracts.events._common import ChatLine, Member
from piyasa_contracts.events.config import (
    BotChanged,
    BotStatusChanged,
    ChatChanged,
    ControlChanged,
    HoldingChanged,
    PersonErased,
    SettingsChanged,
    StanceChanged,
)
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    FailureAction,
    IncomingMessage,
    ReactionAdded,
    Sent,
    TurnDropped,
    TurnExpired,
)
from piyasa_contracts.events.work import GenerationRequested
from piyasa_contracts.fleet_settings import SETTINGS_ID
from piyasa_contracts.registry import Event
from piyasa_scheduler.analysis import Analyzer, LineFacts
from piyasa_scheduler.chat import ChatState, PendingHuman, SealedLine
from piyasa_scheduler.controls import Controls
from piyasa_scheduler.ledger import Outcome, Turn, TurnReason
from piyasa_scheduler.people import Unsealer
from piyasa_scheduler.policy import SchedulerPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")

HOUR = timedelta(hours=1)
_MENTION = re.compile(r"@([A-Za-z0-9_]{3,64})")

PRIORITY: dict[TurnReason, int] = {
    TurnReason.MENTION: 8,
    TurnReason.HUMAN: 5,
    TurnReason.SCHEDULED: 2,
}
"""GenerationRequested.priority by reason; read back to know a folded turn's reason."""


def reason_of(priority: int) -> TurnReason:
    return next((r for r, p in PRIORITY.items() if p == priority), TurnReason.SCHEDULED)


class FleetState:
    """Bots, chats and the policy, as every replica folds them."""

    def __init__(
        self, analyzer: Analyzer, unsealer: Unsealer, policy: SchedulerPolicy | None = None
    ) -> None:
        self.analyzer = analyzer
        self.unsealer = unsealer
        self.policy = policy or SchedulerPolicy()
        self.bots: dict[str, BotChanged] = {}
        self.statuses: dict[str, BotStatusChanged] = {}
        """What the dispatcher learnt about each bot's Telegram account."""
        self.chats: dict[str, ChatState] = {}
        self.stances: ByBot[StanceChanged] = ByBot()
        self.holdings: ByBot[HoldingChanged] = ByBot()
        self.controls = Controls()
        self.version = 0
        """Bumped by every config event and settings change: derived views recompute."""
        self._usernames: dict[str, str] = {}
        self._sent: dict[str, dict[str, datetime]] = {}
        self._in_flight: dict[str, set[str]] = {}

    # -- reading -------------------------------------------------------------
    def chat(self, chat_id: str) -> ChatState:
        found = self.chats.get(chat_id)
        if found is None:
            found = self.chats[chat_id] = ChatState(chat_id)
        return found

    def hourly_used(self, bot_id: str, now: datetime) -> int:
        """Messages the bot sent in the last hour, plus its turns in flight in any chat."""
        since = now - HOUR
        sent = sum(1 for at in self._sent.get(bot_id, {}).values() if at > since)
        return sent + len(self._in_flight.get(bot_id, ()))

    def bot_by_username(self, username: str) -> str | None:
        return self._usernames.get(username.lower())

    def username_of(self, bot_id: str) -> str | None:
        """The bot's @username: as configured, else as Telegram's getMe reported it."""
        bot, status = self.bots.get(bot_id), self.statuses.get(bot_id)
        return (bot.username if bot else None) or (status.telegram_username if status else None)

    def refused(self, bot_id: str, chat_id: str) -> bool:
        """Telegram refused the bot: its token was revoked, or the chat does not let it in."""
        status = self.statuses.get(bot_id)
        return status is not None and (
            status.disabled_everywhere or chat_id in status.disabled_in_chats
        )

    # -- the ledger, kept with its per-bot index ------------------------------
    def open_turn(self, turn: Turn) -> bool:
        if not self.chat(turn.chat_id).ledger.open(turn):
            return False
        self._in_flight.setdefault(turn.bot_id, set()).add(turn.turn_id)
        return True

    def close_turn(self, chat_id: str, turn_id: str, outcome: Outcome, at: datetime) -> Turn | None:
        """Close a turn on its first outcome. A turn that ended without a message gives
        its slot back (from `at`): the chat's pace counts messages, not attempts."""
        chat = self.chat(chat_id)
        turn = chat.ledger.close(turn_id, outcome)
        if turn is not None:
            self._in_flight.get(turn.bot_id, set()).discard(turn.turn_id)
            if outcome is not Outcome.SENT:
                chat.pacer.refund(at, self.policy)
        return turn

    # -- folding: CONFIG -------------------------------------------------------
    def apply_config(self, event: Event, sequence: int) -> None:
        del sequence
        p = event.payload
        self.version += 1
        if isinstance(p, BotChanged | BotStatusChanged):
            self.apply_bot_changed(p)
        elif isinstance(p, PersonErased):
            for chat in self.chats.values():
                chat.erase(p.id)
        elif isinstance(p, ChatChanged):
            self.chat(p.id).config = None if p.deleted else p
        elif isinstance(p, StanceChanged):
            self.stances.put(p.bot_id, p.id, p, p.deleted)
        elif isinstance(p, HoldingChanged):
            self.holdings.put(p.bot_id, p.id, p, p.deleted)
        elif isinstance(p, SettingsChanged):
            self.apply_settings_changed(p, event.envelope.id)
        elif isinstance(p, ControlChanged):
            self.controls.apply(p)

    def apply_bot_changed(self, p: BotChanged | BotStatusChanged) -> None:
        """A bot or its Telegram status changed; both may name its @username."""
        old = self.username_of(p.id)
        if old:
            self._usernames.pop(old.lower(), None)
        table: dict[str, Any] = self.bots if isinstance(p, BotChanged) else self.statuses
        if p.deleted:
            table.pop(p.id, None)
        else:
            table[p.id] = p
        new = self.username_of(p.id)
        if new:
            self._usernames[new.lower()] = p.id

    def apply_settings_changed(self, p: SettingsChanged, event_id: str) -> None:
        """The fleet's settings (only the one aggregate, `SETTINGS_ID`; a delete changes
        nothing: the last settings written stay in force)."""
        if p.id != SETTINGS_ID or p.deleted:
            return
        policy = SchedulerPolicy.parse(p.values)
        if policy is None:
            log.warning("ignoring invalid scheduler settings", extra={"event_id": event_id})
            return
        self.policy = policy

    # -- folding: CONVERSATION -------------------------------------------------
    def apply_conversation(self, event: Event, sequence: int) -> None:
        del sequence
        chat_id = event.envelope.keys.chat_id
        if not chat_id:
            return
        p, at = event.payload, event.envelope.occurred_at
        if isinstance(p, Sent):
            self.apply_sent(chat_id, p)
        elif isinstance(p, IncomingMessage):
            self.apply_incoming_message(chat_id, event.envelope.id, p)
        elif isinstance(p, DispatchFailed):
            # A failure the dispatcher retries itself is not the turn's end.
            if p.action is not FailureAction.RETRY:
                self.close_turn(chat_id, p.turn_id, Outcome.FAILED, at)
        elif isinstance(p, TurnExpired):
            self.close_turn(chat_id, p.turn_id, Outcome.EXPIRED, at)
        elif isinstance(p, TurnDropped):
            self.close_turn(chat_id, p.turn_id, Outcome.DROPPED, at)
        elif isinstance(p, ReactionAdded) and p.actor_is_bot:
            self.chat(chat_id).record_reaction(p.telegram_message_id, p.actor_id)

    def apply_sent(self, chat_id: str, p: Sent) -> None:
        self.close_turn(chat_id, p.turn_id, Outcome.SENT, p.sent_at)
        sent = self._sent.setdefault(p.bot_id, {})
        if p.turn_id not in sent:
            sent[p.turn_id] = p.sent_at
            horizon = p.sent_at - HOUR
            for turn_id in [t for t, at in sent.items() if at <= horizon]:
                del sent[turn_id]
        chat = self.chat(chat_id)
        if chat.knows(p.turn_id) or chat.too_old(p.sent_at, self._keep()):
            return  # folded already (the follower and the partition's consumer both see it)
        bot = self.bots.get(p.bot_id)
        line = ChatLine(
            ref=p.turn_id,
            author_id=p.bot_id,
            author_kind="bot",
            author_name=bot.name if bot else p.bot_id,
            text=p.text,
            telegram_message_id=p.telegram_message_id,
            sent_at=p.sent_at,
        )
        addressed = self._addressed(chat, p.text, p.reply_to_message_id, exclude=p.bot_id)
        chat.add_line(line, self._analyze(chat, p.text), addressed, self._keep())
        target = chat.line_by_message(p.reply_to_message_id)
        if target is not None:
            chat.answered(target.ref)

    def apply_incoming_message(self, chat_id: str, event_id: str, p: IncomingMessage) -> None:
        """A human's message. Its sealed name and text are opened here when the unsealer
        can do it at once; otherwise the line waits in `chat.sealed` for the edge to
        open it (`reveal`), which the owner does before it schedules the chat."""
        chat = self.chat(chat_id)
        if chat.knows(event_id) or (p.edit_date is None and chat.too_old(p.date, self._keep())):
            return
        sealed = SealedLine(p.person_id, p.username, p.sender_name, p.text, p.sender_telegram_id)
        opened = self._open_now(sealed)
        text, name, telegram_id = opened or ("", None, None)
        facts = self._analyze(chat, text)
        edited = chat.message_refs.get(p.telegram_message_id) if p.edit_date else None
        if edited is not None:
            if opened is None:
                chat.sealed[edited] = sealed
            else:
                chat.replace_text(edited, text, facts)
            return
        self._see_human(chat, p.person_id, p.username, name, telegram_id)
        line = ChatLine(
            ref=event_id,
            author_id=p.person_id,
            author_kind="human",
            author_name=_author(name, p.username),
            text=text,
            telegram_message_id=p.telegram_message_id,
            sent_at=p.date,
        )
        addressed = [b for b in p.mentioned_bot_ids if b in self.bots]
        addressed += [
            b for b in self._addressed(chat, text, p.reply_to_message_id) if b not in addressed
        ]
        if not chat.add_line(line, facts, tuple(addressed), self._keep()):
            return
        if opened is None:
            chat.sealed[event_id] = sealed
        # An edit of a message older than the history is history, not a new message to answer.
        if p.edit_date is None:
            chat.add_pending(PendingHuman(line, tuple(addressed), facts.question))

    def reveal(
        self, chat_id: str, ref: str, text: str | None, name: str | None, telegram_id: str | None
    ) -> None:
        """The edge opened a sealed line (None: the key is gone; the text stays withheld)."""
        chat = self.chat(chat_id)
        sealed = chat.sealed.pop(ref, None)
        if sealed is None:
            return
        self._see_human(chat, sealed.person_id, sealed.username, name, telegram_id)
        chat.replace_text(
            ref, text or "", self._analyze(chat, text or ""), _author(name, sealed.username)
        )

    def _open_now(self, sealed: SealedLine) -> tuple[str, str | None, str | None] | None:
        text = self.unsealer.open(sealed.text)
        if text is None:
            return None
        telegram_id = self.unsealer.open(sealed.telegram_id) if sealed.telegram_id else None
        return text, self.unsealer.open(sealed.name), telegram_id

    def _see_human(
        self,
        chat: ChatState,
        person_id: str,
        username: str | None,
        name: str | None,
        telegram_id: str | None,
    ) -> None:
        """Remember a human as mentionable: by @username, or by name with their Telegram id."""
        if not (name or username):
            return
        chat.see_human(
            Member(
                member_id=person_id,
                display_name=(name or f"@{username}")[:200],
                username=username,
                telegram_user_id=int(telegram_id)
                if telegram_id and telegram_id.isdigit()
                else None,
                is_bot=False,
            )
        )

    # -- folding: WORK ---------------------------------------------------------
    def apply_work(self, event: Event, sequence: int) -> None:
        del sequence
        env, p = event.envelope, event.payload
        if not isinstance(p, GenerationRequested) or not env.keys.chat_id:
            return
        target = p.reply_target.ref if p.reply_target is not None else None
        self.open_turn(
            Turn(
                turn_id=p.turn_id,
                chat_id=env.keys.chat_id,
                bot_id=p.bot_id,
                reason=reason_of(p.priority),
                requested_at=env.occurred_at,
                deadline=p.deadline,
                epoch=env.epoch,
                reply_ref=target,
            )
        )
        if target is not None:
            self.chat(env.keys.chat_id).answered(target)

    # -- helpers -----------------------------------------------------------------
    def _keep(self) -> int:
        p = self.policy
        return max(p.history_lines, 2 * p.recent_lines, 2 * p.back_and_forth_limit) + 8

    def _analyze(self, chat: ChatState, text: str) -> LineFacts:
        topics = chat.config.topics if chat.config is not None else []
        return self.analyzer.analyze(text, topics)

    def _addressed(
        self, chat: ChatState, text: str, reply_to: int | None, exclude: str | None = None
    ) -> tuple[str, ...]:
        """Bots a line @-mentions by username or replies to."""
        out: list[str] = []
        for username in _MENTION.findall(text):
            bot_id = self.bot_by_username(username)
            if bot_id is not None and bot_id != exclude and bot_id not in out:
                out.append(bot_id)
        target = chat.line_by_message(reply_to)
        if (
            target is not None
            and target.author_kind == "bot"
            and target.author_id not in (exclude, *out)
        ):
            out.append(target.author_id)
        return tuple(out)


def _author(name: str | None, username: str | None) -> str:
    return (name or (f"@{username}" if username else "anonymous"))[:200]


class ByBot(Generic[T]):
    """Aggregates that belong to a bot (stances, holdings), by bot then by aggregate id."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, T]] = {}
        self._owner: dict[str, str] = {}

    def of(self, bot_id: str) -> list[T]:
        return list(self._rows.get(bot_id, {}).values())

    def put(self, bot_id: str, key: str, value: T, deleted: bool) -> None:
        previous = self._owner.pop(key, None)
        if previous is not None:
            self._rows.get(previous, {}).pop(key, None)
        if not deleted:
            self._rows.setdefault(bot_id, {})[key] = value
            self._owner[key] = bot_id


__all__ = ["PRIORITY", "ByBot", "FleetState", "reason_of"]
