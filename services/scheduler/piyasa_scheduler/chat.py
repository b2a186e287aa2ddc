"""One chat as the scheduler keeps it: config, shared history, humans, pending messages.

The history is the chat's lines in time order (sent messages and humans'
messages), bounded; each line is analysed once when it is folded in. Pending
human messages wait for a reply until answered or let go; the ledger and the
pacer are the chat's schedule.
"""

from __future__ import annotations

from bisect import insort
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from piyasa_contracts.events._common import ChatLine, Member, SealedText
from piyasa_contracts.events.config import ChatChanged
from piyasa_scheduler.activity import ChatRhythm
from piyasa_scheduler.analysis import NO_FACTS, LineFacts
from piyasa_scheduler.ledger import Turn, TurnLedger
from piyasa_scheduler.pacing import Pacer

_MESSAGE_IDS_KEPT = 2048
_HUMANS_KEPT = 400
_PENDING_KEPT = 64


@dataclass(frozen=True, slots=True)
class PendingHuman:
    """A human's message the chat may still answer."""

    line: ChatLine
    addressed: tuple[str, ...]
    """Bots it mentions or replies to, in that order; empty for a message to the room."""
    question: bool

    @property
    def is_mention(self) -> bool:
        return bool(self.addressed)


@dataclass(frozen=True, slots=True)
class SealedLine:
    """A human's line whose name and text are still sealed: the edge opens them."""

    person_id: str
    username: str | None
    name: SealedText
    text: SealedText
    telegram_id: SealedText | None


@dataclass(frozen=True, slots=True)
class ReactionPlan:
    """A bot will react to a line with an emoji, from `due` on."""

    bot_id: str
    emoji: str
    due: datetime


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    """What the tick decided about a pending human message (decided once, with the rng)."""

    will_reply: bool
    due: datetime


class ChatState:
    """One chat: its config, shared history, humans, pending messages, ledger and pace."""

    def __init__(self, chat_id: str) -> None:
        self.chat_id = chat_id
        self.config: ChatChanged | None = None
        self.lines: list[ChatLine] = []
        self.facts: dict[str, LineFacts] = {}
        self.addressed: dict[str, tuple[str, ...]] = {}
        self.message_refs: OrderedDict[int, str] = OrderedDict()
        self.humans: OrderedDict[str, Member] = OrderedDict()
        self.sealed: dict[str, SealedLine] = {}
        """Humans' lines not opened yet, by ref."""
        self.reaction_considered: set[str] = set()
        self.reaction_plans: dict[str, ReactionPlan] = {}
        self.reacted: OrderedDict[tuple[int, str], None] = OrderedDict()
        """(Telegram message id, bot) pairs that have a reaction: one per bot per message."""
        self.pending: OrderedDict[str, PendingHuman] = OrderedDict()
        self.plans: dict[str, ReplyPlan] = {}
        self.ledger = TurnLedger()
        self.pacer = Pacer()
        self.rhythm: tuple[int, ChatRhythm] | None = None
        """The chat's rhythm and the config version it was computed at."""

    # -- reading -------------------------------------------------------------
    @property
    def bot_ids(self) -> list[str]:
        return list(self.config.bot_ids) if self.config is not None else []

    def knows(self, ref: str) -> bool:
        """The line is in the history already."""
        return ref in self.facts

    def too_old(self, at: datetime, keep: int) -> bool:
        """A line from `at` would fall off a full history at once (a consumer's backlog)."""
        return len(self.lines) >= keep and at < self.lines[0].sent_at

    def line(self, ref: str) -> ChatLine | None:
        return next((line for line in reversed(self.lines) if line.ref == ref), None)

    def line_by_message(self, message_id: int | None) -> ChatLine | None:
        ref = self.message_refs.get(message_id) if message_id is not None else None
        return self.line(ref) if ref is not None else None

    def facts_of(self, line: ChatLine) -> LineFacts:
        return self.facts.get(line.ref, NO_FACTS)

    def last_message_at(self) -> datetime | None:
        return self.lines[-1].sent_at if self.lines else None

    def last_bot_speaker(self) -> str | None:
        """Who spoke last, counting a turn still in flight as already spoken; None if a human."""
        latest = self.ledger.latest()
        if latest is not None:
            return latest.bot_id
        if self.lines and self.lines[-1].author_kind == "bot":
            return self.lines[-1].author_id
        return None

    def authors(self) -> list[tuple[str, datetime]]:
        """Bot authors in order, humans as "", turns in flight at the end."""
        out = [
            (line.author_id if line.author_kind == "bot" else "", line.sent_at)
            for line in self.lines
        ]
        out += [(t.bot_id, t.requested_at) for t in sorted(self.ledger.turns(), key=_requested)]
        return out

    # -- folding -------------------------------------------------------------
    def add_line(
        self, line: ChatLine, facts: LineFacts, addressed: tuple[str, ...], keep: int
    ) -> bool:
        """Insert a line in time order; False if already there or older than what is kept."""
        if line.ref in self.facts or self.too_old(line.sent_at, keep):
            return False
        if not self.lines or line.sent_at >= self.lines[-1].sent_at:
            self.lines.append(line)
        else:
            insort(self.lines, line, key=_sent_at)
        self.facts[line.ref] = facts
        self.addressed[line.ref] = addressed
        if line.telegram_message_id is not None:
            self._remember_message(line.telegram_message_id, line.ref)
        while len(self.lines) > keep:
            gone = self.lines.pop(0)
            self.facts.pop(gone.ref, None)
            self.addressed.pop(gone.ref, None)
            self.sealed.pop(gone.ref, None)
            self.reaction_considered.discard(gone.ref)
            self.reaction_plans.pop(gone.ref, None)
        return True

    def replace_text(
        self, ref: str, text: str, facts: LineFacts, author: str | None = None
    ) -> None:
        """A line's text (and author's name) became known, or changed (an edit)."""
        update: dict[str, str] = {"text": text}
        if author is not None:
            update["author_name"] = author
        for i, line in enumerate(self.lines):
            if line.ref == ref:
                self.lines[i] = line.model_copy(update=update)
                self.facts[ref] = facts
        pending = self.pending.get(ref)
        if pending is not None:
            self.pending[ref] = PendingHuman(
                pending.line.model_copy(update=update), pending.addressed, facts.question
            )

    def erase(self, person_id: str) -> None:
        """Forget what a person said and who they are; their lines stay, anonymous and empty."""
        self.humans.pop(person_id, None)
        for i, line in enumerate(self.lines):
            if line.author_kind == "human" and line.author_id == person_id:
                self.lines[i] = line.model_copy(update={"text": "", "author_name": "anonymous"})
                self.facts[line.ref] = NO_FACTS
                self.sealed.pop(line.ref, None)
        for ref, pending in list(self.pending.items()):
            if pending.line.author_id == person_id:
                self.answered(ref)

    def _remember_message(self, message_id: int, ref: str) -> None:
        self.message_refs[message_id] = ref
        self.message_refs.move_to_end(message_id)
        while len(self.message_refs) > _MESSAGE_IDS_KEPT:
            self.message_refs.popitem(last=False)

    def record_reaction(self, message_id: int, bot_id: str) -> None:
        self.reacted[(message_id, bot_id)] = None
        while len(self.reacted) > _MESSAGE_IDS_KEPT:
            self.reacted.popitem(last=False)

    def see_human(self, member: Member) -> None:
        self.humans[member.member_id] = member
        self.humans.move_to_end(member.member_id)
        while len(self.humans) > _HUMANS_KEPT:
            self.humans.popitem(last=False)

    def add_pending(self, pending: PendingHuman) -> None:
        self.pending[pending.line.ref] = pending
        while len(self.pending) > _PENDING_KEPT:
            ref, _ = self.pending.popitem(last=False)
            self.plans.pop(ref, None)

    def answered(self, ref: str) -> None:
        self.pending.pop(ref, None)
        self.plans.pop(ref, None)


def _sent_at(line: ChatLine) -> datetime:
    return line.sent_at


def _requested(turn: Turn) -> datetime:
    return turn.requested_at


__all__ = ["ChatState", "PendingHuman", "ReactionPlan", "ReplyPlan", "SealedLine"]
