"""What the dispatcher folds from the log: the fleet (CONFIG) and the chats' sent messages
(CONVERSATION).

Both folds are idempotent and synchronous (followers call them for every
event). Listeners registered with `on_bot` / `on_chat` hear which bot or chat
changed, so the runtime can re-check a token, start a poller or register the
bot in the sandbox.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from piyasa_contracts.events._common import SealedText
from piyasa_contracts.events.config import (
    BotChanged,
    BotStatusChanged,
    ChatChanged,
    ChatStatusChanged,
    SettingsChanged,
)
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    FailureAction,
    IncomingMessage,
    Sent,
    TurnDropped,
    TurnExpired,
)
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.registry import Event

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    value: T
    sequence: int
    """CONFIG stream sequence of the event that set it."""


class Fleet:
    """Bots, chats, their Telegram statuses and the fleet settings, by id."""

    def __init__(self) -> None:
        self.bots: dict[str, Versioned[BotChanged]] = {}
        self.chats: dict[str, Versioned[ChatChanged]] = {}
        self.bot_status: dict[str, Versioned[BotStatusChanged]] = {}
        self.chat_status: dict[str, Versioned[ChatStatusChanged]] = {}
        self.settings = FleetSettings()
        self._by_telegram_chat: dict[int, str] = {}
        self._listening: dict[str, set[str]] = {}
        self._bot_listeners: list[Callable[[str], None]] = []
        self._chat_listeners: list[Callable[[str], None]] = []

    # -- listeners -----------------------------------------------------------------------
    def on_bot(self, listener: Callable[[str], None]) -> None:
        self._bot_listeners.append(listener)

    def on_chat(self, listener: Callable[[str], None]) -> None:
        self._chat_listeners.append(listener)

    # -- folding -------------------------------------------------------------------------
    def apply(self, event: Event, sequence: int) -> None:
        p = event.payload
        if isinstance(p, BotChanged):
            self._put(self.bots, p.id, p, sequence)
            self._changed_bot(p.id)
        elif isinstance(p, ChatChanged):
            old = self.chats.get(p.id)
            if self._put(self.chats, p.id, p, sequence):
                self._reindex_chat(p.id, old.value if old else None)
                self._changed_chat(p.id)
        elif isinstance(p, BotStatusChanged):
            if self._put(self.bot_status, p.id, p, sequence):
                self._changed_bot(p.id)
        elif isinstance(p, ChatStatusChanged):
            old_status = self.chat_status.get(p.id)
            if self._put(self.chat_status, p.id, p, sequence):
                old_id = old_status.value.migrated_to_chat_id if old_status else None
                if old_id is not None and old_id != p.migrated_to_chat_id:
                    self._by_telegram_chat.pop(old_id, None)
                if p.migrated_to_chat_id is not None and not p.deleted:
                    self._by_telegram_chat[p.migrated_to_chat_id] = p.id
                self._changed_chat(p.id)
        elif isinstance(p, SettingsChanged) and p.id == SETTINGS_ID and not p.deleted:
            self.settings = FleetSettings.model_validate(p.values)

    def _put(self, table: dict[str, Versioned[T]], key: str, value: T, sequence: int) -> bool:
        current = table.get(key)
        if current is not None and current.sequence >= sequence > 0:
            return False  # already folded (a status written here, then read back)
        if getattr(value, "deleted", False):
            table.pop(key, None)
        else:
            table[key] = Versioned(value, sequence)
        return True

    def _reindex_chat(self, chat_id: str, old: ChatChanged | None) -> None:
        if old is not None:
            if self._by_telegram_chat.get(old.telegram_chat_id) == chat_id:
                del self._by_telegram_chat[old.telegram_chat_id]
            if old.listener_bot_id:
                self._listening.get(old.listener_bot_id, set()).discard(chat_id)
        current = self.chats.get(chat_id)
        if current is None:
            return
        chat = current.value
        self._by_telegram_chat[chat.telegram_chat_id] = chat_id
        if chat.listener_bot_id:
            self._listening.setdefault(chat.listener_bot_id, set()).add(chat_id)
            self._changed_bot(chat.listener_bot_id)
        if old is not None and old.listener_bot_id and old.listener_bot_id != chat.listener_bot_id:
            self._changed_bot(old.listener_bot_id)

    def _changed_bot(self, bot_id: str) -> None:
        for listener in self._bot_listeners:
            listener(bot_id)

    def _changed_chat(self, chat_id: str) -> None:
        for listener in self._chat_listeners:
            listener(chat_id)

    # -- reading -------------------------------------------------------------------------
    def bot(self, bot_id: str) -> BotChanged | None:
        found = self.bots.get(bot_id)
        return found.value if found else None

    def chat(self, chat_id: str) -> ChatChanged | None:
        found = self.chats.get(chat_id)
        return found.value if found else None

    def status_of_bot(self, bot_id: str) -> BotStatusChanged | None:
        found = self.bot_status.get(bot_id)
        return found.value if found else None

    def status_of_chat(self, chat_id: str) -> ChatStatusChanged | None:
        found = self.chat_status.get(chat_id)
        return found.value if found else None

    def telegram_chat_id(self, chat_id: str) -> int | None:
        """Where the chat lives on Telegram now: its migrated id once it moved."""
        chat = self.chat(chat_id)
        if chat is None:
            return None
        status = self.status_of_chat(chat_id)
        if status is not None and status.migrated_to_chat_id is not None:
            return status.migrated_to_chat_id
        return chat.telegram_chat_id

    def chat_by_telegram_id(self, telegram_chat_id: int) -> str | None:
        return self._by_telegram_chat.get(telegram_chat_id)

    def listened_chats(self, bot_id: str) -> set[str]:
        """Chats that name `bot_id` their listener."""
        return {c for c in self._listening.get(bot_id, set()) if c in self.chats}

    def bot_by_username(self, username: str) -> str | None:
        wanted = username.lstrip("@").lower()
        for bot_id, status in self.bot_status.items():
            if (status.value.telegram_username or "").lower() == wanted:
                return bot_id
        for bot_id, bot in self.bots.items():
            if (bot.value.username or "").lower() == wanted:
                return bot_id
        return None

    def bot_by_telegram_id(self, telegram_user_id: int) -> str | None:
        for bot_id, status in self.bot_status.items():
            if status.value.telegram_user_id == telegram_user_id:
                return bot_id
        return None

    def disabled_in_chat(self, bot_id: str, chat_id: str) -> bool:
        """Telegram refused the bot in the chat, and no operator edit re-armed it since."""
        status = self.bot_status.get(bot_id)
        if status is None or chat_id not in status.value.disabled_in_chats:
            return False
        return not self._edited_after(status.sequence, bot_id, chat_id)

    def disabled_everywhere(self, bot_id: str) -> bool:
        """The token was revoked, and no new token arrived since."""
        status = self.bot_status.get(bot_id)
        if status is None or not status.value.disabled_everywhere:
            return False
        bot = self.bots.get(bot_id)
        return bot is None or bot.sequence < status.sequence

    def _edited_after(self, sequence: int, bot_id: str, chat_id: str) -> bool:
        bot, chat = self.bots.get(bot_id), self.chats.get(chat_id)
        return any(x is not None and x.sequence > sequence for x in (bot, chat))


@dataclass(frozen=True, slots=True)
class SentMessage:
    telegram_chat_id: int
    message_id: int


class Conversation:
    """Sent messages and closed turns by turn id, and people's sealed Telegram ids.

    Bounded (least recently added first out): replies point at recent messages.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self._limit = limit
        self._sent: OrderedDict[str, SentMessage] = OrderedDict()
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._people: OrderedDict[str, SealedText] = OrderedDict()
        self._waiters: dict[str, list[Callable[[], None]]] = {}

    def apply(self, event: Event, sequence: int) -> None:
        del sequence
        p = event.payload
        if isinstance(p, Sent):
            self.record_sent(p.turn_id, p.telegram_chat_id, p.telegram_message_id)
        elif isinstance(p, DispatchFailed):
            if p.action is not FailureAction.RETRY:
                self.record_closed(p.turn_id)
        elif isinstance(p, TurnExpired | TurnDropped):
            self.record_closed(p.turn_id)
        elif isinstance(p, IncomingMessage) and p.sender_telegram_id is not None:
            self.remember_person(p.person_id, p.sender_telegram_id)

    def record_sent(self, turn_id: str, telegram_chat_id: int, message_id: int) -> None:
        self._sent[turn_id] = SentMessage(telegram_chat_id, message_id)
        _bound(self._sent, self._limit)
        self._wake(turn_id)

    def record_closed(self, turn_id: str) -> None:
        if turn_id in self._sent:
            return
        self._closed[turn_id] = None
        _bound(self._closed, self._limit)
        self._wake(turn_id)

    def remember_person(self, person_id: str, sealed_telegram_id: SealedText) -> None:
        self._people[person_id] = sealed_telegram_id
        self._people.move_to_end(person_id)
        _bound(self._people, self._limit)

    def sent(self, turn_id: str) -> SentMessage | None:
        return self._sent.get(turn_id)

    def closed_unsent(self, turn_id: str) -> bool:
        return turn_id in self._closed

    def person(self, person_id: str) -> SealedText | None:
        return self._people.get(person_id)

    def wait_for(self, turn_id: str, wake: Callable[[], None]) -> None:
        """Call `wake` once when `turn_id` is sent or closed (bounded per turn)."""
        waiters = self._waiters.setdefault(turn_id, [])
        if len(waiters) < 100:
            waiters.append(wake)
        if len(self._waiters) > self._limit:
            self._waiters.pop(next(iter(self._waiters)))

    def _wake(self, turn_id: str) -> None:
        for wake in self._waiters.pop(turn_id, []):
            wake()


def _bound(table: OrderedDict[str, T], limit: int) -> None:
    while len(table) > limit:
        table.popitem(last=False)
