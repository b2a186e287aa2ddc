"""The simulated mode: the scheduling core on a virtual clock, with a simulated world.

No NATS: config is applied as events, the core's requests are answered by a
simulated pipeline (a turn is sent after a random latency, some fail, some
are lost and expire), and simulated humans post, ask, mention bots and reply
to them. Everything is driven by `ManualClock` and two seeded random
sources (one for the core, one for the world), so days of conversation run
in seconds and a seed reproduces a run exactly.

It drives the very functions the service drives (`FleetState.apply_*`,
`core.tick`, `core.wake_at`); nothing in the product knows it is simulated.
Tests measure pacing with it, and operators can preview a chat's day.
"""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from piyasa_common.clock import ManualClock
from piyasa_contracts import Envelope, EventKeys, Payload
from piyasa_contracts.events._common import SealedText
from piyasa_contracts.events.config import ChatChanged, ConfigChanged
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    FailureAction,
    IncomingMessage,
    Sent,
)
from piyasa_contracts.registry import Event
from piyasa_domain import LexiconStanceClassifier
from piyasa_scheduler.analysis import Analyzer, LineFacts
from piyasa_scheduler.core import Expire, Request, tick, wake_at
from piyasa_scheduler.ledger import TurnReason
from piyasa_scheduler.state import FleetState

SIM_KEY = "sim"
"""Key id of the simulated humans' "sealed" texts, which the simulation opens as is."""

_BULLISH = ("{t} bence yükselecek", "{t} için çok iyimserim", "{t} yukarı gider gibi")
_BEARISH = ("{t} düşecek gibi duruyor", "{t} bence sert düşer", "{t} için kötümserim")
_NEUTRAL = ("{t} tarafında yön belirsiz", "{t} biraz yatay gidiyor", "{t} izlemede kalalım")
_HUMAN = ("{t} bugün fena değil", "{t} ile ilgili haber var mı", "{t} çok oynak bugün")
_QUESTION = ("{t} ne olur sizce?", "{t} yükselir mi?", "{t} için ne düşünüyorsunuz?")
_MENTION = ("@{u} {t} hakkında ne düşünüyorsun?", "@{u} {t} sence düşer mi?")


class SimulatedUnsealer:
    """Opens the simulation's own texts (key `sim`): they were never sealed."""

    def open(self, sealed: SealedText) -> str | None:
        return sealed.ciphertext if sealed.key_id == SIM_KEY else None


class MemoAnalyzer(Analyzer):
    """The real analyzer, memoised: simulated texts repeat, real ones do not."""

    def __init__(self) -> None:
        super().__init__(LexiconStanceClassifier())
        self._memo = lru_cache(maxsize=4096)(self._analyze)

    def analyze(self, text: str, topics: Sequence[str] = ()) -> LineFacts:
        return self._memo(text, tuple(topics))

    def _analyze(self, text: str, topics: tuple[str, ...]) -> LineFacts:
        return super().analyze(text, topics)


@dataclass(frozen=True)
class Humans:
    """Simulated humans: how often they post, and what."""

    per_hour: float = 1.0
    """Posts per hour in each chat while it is awake (between `awake` hours, UTC)."""
    awake: tuple[int, int] = (6, 21)
    mention_share: float = 0.25
    question_share: float = 0.3
    reply_share: float = 0.15
    """Share of posts that reply to the latest bot message (a mention too)."""
    people: int = 4


@dataclass(frozen=True)
class Pipeline:
    """The simulated generator, guard and dispatcher."""

    latency_s: tuple[float, float] = (20.0, 90.0)
    failure_share: float = 0.02
    loss_share: float = 0.01
    """Turns that never get an outcome (a stage died): the scheduler expires them."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    at: datetime
    chat_id: str
    turn_id: str
    bot_id: str
    reason: TurnReason
    reply_ref: str | None
    topic: str | None
    mentionable: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HumanRecord:
    at: datetime
    chat_id: str
    ref: str
    addressed: tuple[str, ...]


@dataclass
class Log:
    """What happened in a simulated run, for tests and reports."""

    requests: list[RequestRecord] = field(default_factory=list)
    sent: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    """(sent_at, chat, bot, turn)."""
    closed: dict[str, datetime] = field(default_factory=dict)
    """turn -> when it closed (sent, failed, or expired)."""
    expired: list[tuple[datetime, str, str]] = field(default_factory=list)
    """(at, turn, reason)."""
    humans: list[HumanRecord] = field(default_factory=list)
    reactions: list[tuple[datetime, str, str, str, str]] = field(default_factory=list)
    """(at, chat, bot, target ref, emoji)."""
    max_in_flight: dict[str, int] = field(default_factory=dict)


class Simulation:
    def __init__(
        self,
        config: Iterable[ConfigChanged],
        *,
        seed: int,
        humans: Humans | None = None,
        pipeline: Pipeline | None = None,
        start: datetime | None = None,
        max_step_s: float = 120.0,
        analyzer: Analyzer | None = None,
    ) -> None:
        self.clock = ManualClock(start or datetime(2026, 1, 5, 0, 0, tzinfo=UTC))
        self.fleet = FleetState(analyzer or MemoAnalyzer(), SimulatedUnsealer())
        self.log = Log()
        self.humans = humans or Humans()
        self.pipeline = pipeline or Pipeline()
        self._core_rng = random.Random(seed)
        self._world = random.Random(seed ^ 0x5EED)
        self._max_step = timedelta(seconds=max_step_s)
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        for payload in config:
            self.apply_config(payload)

    # -- driving -------------------------------------------------------------
    def apply_config(self, payload: ConfigChanged) -> None:
        self.fleet.apply_config(self._event(payload, EventKeys()), 0)
        if isinstance(payload, ChatChanged) and not payload.deleted:
            self._plan_human(payload.id, self.clock.now())

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        """Run `action` at a virtual instant (a config change, a human's message, ...)."""
        heapq.heappush(self._queue, (when, next(self._seq), action))

    def run_for(self, duration: timedelta) -> Log:
        end = self.clock.now() + duration
        while True:
            now = self.clock.now()
            self._tick_all(now)
            nxt = self._next_time(now)
            if nxt > end:
                self.clock.advance((end - now).total_seconds())
                return self.log
            self.clock.advance((nxt - now).total_seconds())
            while self._queue and self._queue[0][0] <= self.clock.now():
                heapq.heappop(self._queue)[2]()

    def _next_time(self, now: datetime) -> datetime:
        times = [now + self._max_step]
        if self._queue:
            times.append(self._queue[0][0])
        for chat in self.fleet.chats.values():
            wake = wake_at(self.fleet, chat, now)
            if wake is not None:
                times.append(wake)
        return max(min(times), now + timedelta(milliseconds=1))

    def _tick_all(self, now: datetime) -> None:
        for chat in list(self.fleet.chats.values()):
            for decision in tick(self.fleet, chat, now, self._core_rng):
                if isinstance(decision, Request):
                    self._requested(decision, now)
                elif isinstance(decision, Expire):
                    self.log.expired.append((now, decision.turn.turn_id, decision.reason))
                    self.log.closed.setdefault(decision.turn.turn_id, now)
                else:
                    p = decision.payload
                    self.log.reactions.append((now, chat.chat_id, p.bot_id, p.target.ref, p.emoji))
            peak = self.log.max_in_flight.get(chat.chat_id, 0)
            self.log.max_in_flight[chat.chat_id] = max(peak, chat.ledger.in_flight)

    # -- the simulated pipeline ---------------------------------------------------
    def _requested(self, request: Request, now: datetime) -> None:
        turn, payload = request.turn, request.payload
        self.log.requests.append(
            RequestRecord(
                now,
                turn.chat_id,
                turn.turn_id,
                turn.bot_id,
                turn.reason,
                turn.reply_ref,
                payload.topic,
                tuple(m.member_id for m in payload.mentionable),
            )
        )
        draw = self._world.random()
        p = self.pipeline
        if draw < p.loss_share:
            return  # lost: only the scheduler's deadline ends it
        latency = timedelta(seconds=self._world.uniform(*p.latency_s))
        if draw < p.loss_share + p.failure_share:
            self.at(now + latency, lambda: self._failed(request))
        else:
            self.at(now + latency, lambda: self._sent(request))

    def _sent(self, request: Request) -> None:
        turn, payload = request.turn, request.payload
        if turn.turn_id in self.log.closed:
            return  # expired on the way: every stage drops it
        now = self.clock.now()
        text = self._bot_text(request)
        target = payload.reply_target
        sent = Sent(
            turn_id=turn.turn_id,
            bot_id=turn.bot_id,
            telegram_chat_id=-1,
            telegram_message_id=next(self._message_ids),
            text=text,
            reply_to_message_id=target.telegram_message_id if target is not None else None,
            sent_at=now,
        )
        self._conversation(sent, turn.chat_id, turn.bot_id, turn.turn_id)
        self.log.sent.append((now, turn.chat_id, turn.bot_id, turn.turn_id))
        self.log.closed[turn.turn_id] = now

    def _failed(self, request: Request) -> None:
        turn = request.turn
        if turn.turn_id in self.log.closed:
            return
        failed = DispatchFailed(
            turn_id=turn.turn_id, bot_id=turn.bot_id, action=FailureAction.DROP, error_code=400
        )
        self._conversation(failed, turn.chat_id, turn.bot_id, turn.turn_id)
        self.log.closed[turn.turn_id] = self.clock.now()

    def _bot_text(self, request: Request) -> str:
        payload = request.payload
        topic = payload.topic or "BTC"
        stance = next((s for s in payload.stances if s.topic == topic), None)
        position = stance.position.value if stance else self._world.choice(("bullish", "bearish"))
        templates = {"bullish": _BULLISH, "bearish": _BEARISH}.get(position, _NEUTRAL)
        text = self._world.choice(templates).format(t=topic)
        target = payload.reply_target
        if target is not None and target.author_kind == "bot":
            author = next((m for m in payload.mentionable if m.member_id == target.author_id), None)
            if author is not None and author.username and self._world.random() < 0.3:
                text = f"@{author.username} {text}"
        return text

    # -- simulated humans -----------------------------------------------------------
    def _plan_human(self, chat_id: str, after: datetime) -> None:
        h = self.humans
        if h.per_hour <= 0:
            return
        when = after + timedelta(hours=self._world.expovariate(h.per_hour))
        start, end = h.awake
        while not start <= when.hour < end:
            when = when.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            if when.hour == start:
                when += timedelta(hours=self._world.expovariate(h.per_hour))
        self.at(when, lambda: self._human_posts(chat_id))

    def _human_posts(self, chat_id: str) -> None:
        chat = self.fleet.chats.get(chat_id)
        if chat is None or chat.config is None:
            return
        self._plan_human(chat_id, self.clock.now())
        h, w = self.humans, self._world
        person = w.randrange(h.people)
        topics = chat.config.topics or ["BTC"]
        topic = w.choice(topics)
        mentioned: list[str] = []
        reply_to: int | None = None
        draw = w.random()
        bots = [b for b in chat.bot_ids if b in self.fleet.bots]
        if draw < h.mention_share and bots:
            bot = self.fleet.bots[w.choice(bots)]
            mentioned = [bot.id]
            text = w.choice(_MENTION).format(u=bot.username or bot.name, t=topic)
        elif draw < h.mention_share + h.reply_share:
            last_bot = next((x for x in reversed(chat.lines) if x.author_kind == "bot"), None)
            reply_to = last_bot.telegram_message_id if last_bot else None
            text = w.choice(_QUESTION).format(t=topic)
        elif draw < h.mention_share + h.reply_share + h.question_share:
            text = w.choice(_QUESTION).format(t=topic)
        else:
            text = w.choice(_HUMAN).format(t=topic)
        now = self.clock.now()
        incoming = IncomingMessage(
            person_id=f"person{person}",
            via_bot_id=bots[0] if bots else "listener",
            telegram_chat_id=-1,
            telegram_message_id=next(self._message_ids),
            update_id=next(self._ids),
            sender_name=SealedText(key_id=SIM_KEY, ciphertext=f"Kişi {person}"),
            text=SealedText(key_id=SIM_KEY, ciphertext=text),
            username=f"kisi{person}" if person % 2 == 0 else None,
            reply_to_message_id=reply_to,
            mentioned_bot_ids=mentioned,
            date=now,
        )
        envelope = self._conversation(incoming, chat_id, None, None)
        self.log.humans.append(
            HumanRecord(now, chat_id, envelope.id, chat.addressed.get(envelope.id, ()))
        )

    # -- events ------------------------------------------------------------------------
    def _conversation(
        self, payload: Payload, chat_id: str, bot_id: str | None, turn_id: str | None
    ) -> Envelope:
        keys = EventKeys(chat_id=chat_id, bot_id=bot_id, turn_id=turn_id)
        event = self._event(payload, keys)
        self.fleet.apply_conversation(event, 0)
        return event.envelope

    def _event(self, payload: Payload, keys: EventKeys) -> Event:
        envelope = Envelope(
            id=f"sim{next(self._ids)}",
            type=payload.event_type,
            version=payload.version,
            occurred_at=self.clock.now(),
            correlation_id="sim",
            keys=keys,
            actor="simulation",
            payload={},
        )
        return Event(envelope, payload)


__all__ = [
    "SIM_KEY",
    "Humans",
    "Log",
    "MemoAnalyzer",
    "Pipeline",
    "RequestRecord",
    "SimulatedUnsealer",
    "Simulation",
]
