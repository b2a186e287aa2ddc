"""Scheduled sends: from an approved message to exactly one Telegram message.

    approved ──> ledger `scheduled` (then the message is acked) ──> typing ──> lane
       ──> turn order, reply target, limits ──> ledger `intent` ──> sendMessage
       ──> ledger `sent` ──> `message.sent`

Nothing here waits while holding a JetStream message: the handler returns
(and the message is acked) as soon as the `scheduled` record exists. Typing,
turn order, the reply target, Telegram's limits and a 429's retry_after all
become timers on the event loop (asyncio's timer heap is the timer wheel),
over records a crash cannot lose.

Each chat has a lane: its jobs in turn order, one post in flight at a time.
Each bot's limits are the limiter's business, so a throttled bot's timers
fire later while every other bot's fire on time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any

from piyasa_common.clock import Clock
from piyasa_common.publisher import Publisher
from piyasa_common.sealing import DataKeys
from piyasa_common.secrets import SecretUnavailable
from piyasa_contracts import Envelope, decode, encode
from piyasa_contracts.events.work import Approved, ReactionApproved
from piyasa_dispatcher import compose, metrics, tracing
from piyasa_dispatcher.events import sent_event
from piyasa_dispatcher.failures import Action, Failure, classify
from piyasa_dispatcher.jobs import Job, Lane, Phase
from piyasa_dispatcher.ledger import (
    LedgerConflict,
    Record,
    SendLedger,
    State,
    Stored,
    ledger_key,
)
from piyasa_dispatcher.limits import Limiter
from piyasa_dispatcher.outcomes import Expire, Outcomes, Verdict
from piyasa_dispatcher.people import mention_entities
from piyasa_dispatcher.reactions import Reactions
from piyasa_dispatcher.recovery import Recovery
from piyasa_dispatcher.settings import DispatcherSettings
from piyasa_dispatcher.state import Conversation, Fleet
from piyasa_dispatcher.statuses import StatusWriter
from piyasa_dispatcher.telegram import BotApi, TelegramError
from piyasa_dispatcher.tokens import TokenBook
from piyasa_dispatcher.typist import Typist

log = logging.getLogger(__name__)


class Outbox:
    def __init__(
        self,
        *,
        settings: DispatcherSettings,
        api: BotApi,
        tokens: TokenBook,
        ledger: SendLedger,
        fleet: Fleet,
        conversation: Conversation,
        datakeys: DataKeys,
        publisher: Publisher,
        statuses: StatusWriter,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._api = api
        self._tokens = tokens
        self._ledger = ledger
        self._fleet = fleet
        self._conversation = conversation
        self._datakeys = datakeys
        self._publisher = publisher
        self._statuses = statuses
        self._clock = clock
        self._rng = rng or random.Random()
        self.limiter = Limiter(settings.limit_rules())
        self._jobs: dict[str, Job] = {}
        self._lanes: dict[str, Lane] = {}
        self._epochs: dict[int, int] = {}
        self._floors: dict[int, int] = {}
        """Partitions taken over with unacked messages: their consumer's ack floor."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._posting: dict[int, set[asyncio.Task[Any]]] = {}
        self._outcomes = Outcomes(
            settings=settings,
            ledger=ledger,
            publisher=publisher,
            statuses=statuses,
            tokens=tokens,
            conversation=conversation,
            clock=clock,
            rng=self._rng,
        )
        self._recovery = Recovery(
            ledger=ledger,
            publisher=publisher,
            conversation=conversation,
            outcomes=self._outcomes,
            clock=clock,
            epoch_of=self.epoch_of,
        )
        self._typist = Typist(
            settings=settings,
            api=api,
            tokens=tokens,
            fleet=fleet,
            limiter=self.limiter,
            clock=clock,
            rng=self._rng,
            holds=self.holds,
            spawn=self.spawn,
        )
        self._reactions = Reactions(
            host=self,
            settings=settings,
            api=api,
            tokens=tokens,
            ledger=ledger,
            fleet=fleet,
            conversation=conversation,
            publisher=publisher,
            outcomes=self._outcomes,
            limiter=self.limiter,
            clock=clock,
        )

    # -- time ------------------------------------------------------------------------------
    def _wall(self) -> float:
        return self._clock.now().timestamp()

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _loop_time_of(self, wall: float) -> float:
        return self._now() + (wall - self._wall())

    # -- partitions ----------------------------------------------------------------------
    def owns(self, partition: int) -> bool:
        return partition in self._epochs

    def epoch_of(self, partition: int) -> int | None:
        """The lease epoch stamped on what is emitted for the partition (None: not ours)."""
        return self._epochs.get(partition)

    async def acquire(self, partition: int, epoch: int, floor: int | None) -> None:
        """Take over a partition: its records in the ledger become this replica's jobs.

        `floor`: the previous owner left messages delivered but unacknowledged, and every
        message up to this stream sequence is acknowledged. Until the floor has passed
        them all (`raise_floor`), only turns at or below it may go: a turn the previous
        owner had not persisted yet comes back and must keep its place.
        """
        self._epochs[partition] = epoch
        if floor is not None:
            self._floors[partition] = floor
        records = await self._ledger.load(partition)
        for key, stored in sorted(records.items(), key=lambda kv: kv[1].record.seq):
            if key not in self._jobs:
                self._resume(partition, key, stored)
        self._gauge()

    def raise_floor(self, partition: int, floor: int | None) -> None:
        """The partition's ack floor moved up (None: every unacked message is back)."""
        if partition not in self._floors:
            return
        if floor is None:
            del self._floors[partition]
        elif floor > self._floors[partition]:
            self._floors[partition] = floor
        else:
            return
        for lane in list(self._lanes.values()):
            self._pump(lane)

    async def release(self, partition: int) -> None:
        """The lease is gone: forget the partition's jobs (posts in flight finish first)."""
        self._epochs.pop(partition, None)
        self._floors.pop(partition, None)
        for job in [j for j in self._jobs.values() if j.partition == partition]:
            if job.phase is not Phase.POSTING:
                self.forget(job)
        posting = self._posting.pop(partition, set())
        if posting:
            await asyncio.wait(posting, timeout=self._settings.telegram_timeout_s + 5)
        for job in [j for j in self._jobs.values() if j.partition == partition]:
            self.forget(job)
        self._gauge()

    async def stop(self) -> None:
        for partition in list(self._epochs):
            await self.release(partition)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # -- entering: the approved message's handler ----------------------------------------
    def reserve(
        self,
        envelope: Envelope,
        payload: Approved | ReactionApproved,
        partition: int,
        seq: int,
        raw: bytes,
    ) -> Job | None:
        """Take the job's place in its chat's lane now, before any await, so that turns
        are ordered as they were approved. None: this replica holds the turn already."""
        key = ledger_key(partition, payload.turn_id)
        held = self._jobs.get(key)
        if held is not None:
            if held.phase is Phase.PERSISTING and not held.accepting:
                held.cancel_timers()  # back after a failed attempt: it kept its place
                return held
            return None
        chat_id = envelope.keys.chat_id or ""
        # The handler's span is current: what the job does later joins its trace.
        job = Job(
            key,
            partition,
            envelope,
            payload,
            chat_id,
            seq,
            self._epochs.get(partition),
            trace=tracing.current(),
            approved_json=raw.decode(),
        )
        self._jobs[key] = job
        if isinstance(payload, Approved):
            self._lane(chat_id).add(job)
        return job

    def accepting(self, partition: int, turn_id: str) -> bool:
        """Whether the turn's approved message is being persisted by another delivery."""
        held = self._jobs.get(ledger_key(partition, turn_id))
        return held is not None and held.accepting

    async def accept(self, job: Job) -> None:
        """Persist the job as `scheduled` (or find it decided already); then it may be acked.

        When that fails the message is redelivered; meanwhile the job keeps its place in
        its lane, so the chat's later turns wait for it (for a bounded time)."""
        job.accepting = True
        try:
            await self._accept(job)
        except BaseException:
            job.accepting = False
            if self.holds(job) and job.phase is Phase.PERSISTING:
                s = self._settings
                hold = s.ack_wait_s * s.max_deliver + s.nak_backoff_s[-1] * s.max_deliver
                left = job.payload.deadline.timestamp() - self._wall()
                loop = asyncio.get_running_loop()
                job.timers.append(loop.call_later(max(0.0, min(hold, left)), self.forget, job))
            raise
        job.accepting = False
        self._gauge()

    async def _accept(self, job: Job) -> None:
        payload = job.payload
        verdict = self._admissible(job)
        wall = self._wall()
        if verdict is not None:
            self.forget(job)
            # A turn decided before (a late redelivery) is left as it is.
            found = await self._ledger.get(job.key)
            if found is None:
                await self._outcomes.report(job, verdict, attempt=0)
            elif found.record.state is State.SCHEDULED:
                job.record, job.revision = found.record, found.revision
                await self._outcomes.settle(job, verdict)
            return
        slot = wall
        if isinstance(payload, Approved):
            slot += self._typist.seconds(job)
        record = Record(
            state=State.SCHEDULED,
            seq=job.seq,
            slot_at=slot,
            kind="message" if isinstance(payload, Approved) else "reaction",
            approved=job.approved_json or job.envelope.model_dump_json(exclude_none=True),
            at=wall,
            traceparent=tracing.traceparent(job.trace),
        )
        stored, created = await self._ledger.create(job.key, record, self._outcomes.ttl(payload))
        if not created and stored.record.state is not State.SCHEDULED:
            self.forget(job)
            if stored.record.state is State.SENT:
                self.spawn(self._recovery.republish(job.key, stored))
            return
        self._schedule(job, stored)

    def _admissible(self, job: Job) -> Verdict | None:
        """What ends a turn before it is even scheduled."""
        payload = job.payload
        if payload.deadline.timestamp() <= self._wall():
            return Expire("deadline")
        if not job.chat_id or self._fleet.chat(job.chat_id) is None:
            return Failure(Action.DROP, None, "the chat is not configured")
        if isinstance(payload, Approved):
            reason = compose.too_long(payload.text)
            if reason is not None:
                return Failure(Action.DROP, None, f"{reason} (refused before sending)")
        return None

    # -- resuming after a takeover -------------------------------------------------------
    def _resume(self, partition: int, key: str, stored: Stored) -> None:
        record = stored.record
        if record.state is State.SCHEDULED and record.approved is not None:
            event = decode(record.approved.encode())
            payload = event.payload
            if not isinstance(payload, Approved | ReactionApproved):
                return
            job = Job(
                key,
                partition,
                event.envelope,
                payload,
                event.envelope.keys.chat_id or "",
                record.seq,
                self._epochs.get(partition),
                trace=tracing.from_traceparent(record.traceparent),
            )
            self._jobs[key] = job
            if isinstance(payload, Approved):
                self._lane(job.chat_id).add(job)
            self._schedule(job, stored)
        elif record.state is State.INTENT:
            age = self._wall() - record.at
            grace = self._settings.dispatcher_intent_grace_s
            delay = max(0.0, grace - age)
            asyncio.get_running_loop().call_later(
                delay, lambda: self.spawn(self._recovery.settle_intent(partition, key, stored))
            )
        elif record.state is State.SENT:
            self.spawn(self._recovery.republish(key, stored))

    # -- scheduling ----------------------------------------------------------------------
    def _schedule(self, job: Job, stored: Stored) -> None:
        job.record, job.revision = stored.record, stored.revision
        if isinstance(job.payload, ReactionApproved):
            job.phase = Phase.READY
            self._reactions.later(job, 0.0)
            return
        approved = job.payload
        chat = self._fleet.chat(job.chat_id)
        job.typing = bool(approved.typing and chat is not None and chat.typing)
        job.ready_at = self._loop_time_of(stored.record.slot_at)
        job.not_before = job.ready_at
        loop = asyncio.get_running_loop()
        if job.ready_at > self._now():
            job.phase = Phase.TYPING
            job.timers.append(loop.call_at(job.ready_at, self._typed, job))
            if job.typing:
                self._typist.tick(job)
        else:
            job.phase = Phase.READY
            self._pump(self._lane(job.chat_id))

    def _typed(self, job: Job) -> None:
        if not self.holds(job) or job.phase is not Phase.TYPING:
            return
        job.phase = Phase.READY
        self._pump(self._lane(job.chat_id))

    # -- the lane pump -------------------------------------------------------------------
    def _lane(self, chat_id: str) -> Lane:
        lane = self._lanes.get(chat_id)
        if lane is None:
            lane = self._lanes[chat_id] = Lane(chat_id)
        return lane

    def _pump(self, lane: Lane) -> None:
        """Post the lane's head if everything allows it now, else set a timer for when it will."""
        lane.cancel_timer()
        if lane.posting is not None:
            return
        loop = asyncio.get_running_loop()
        while lane.jobs:
            job = lane.jobs[0]
            if job.phase is not Phase.READY:
                return  # persisting or typing: the turns behind it wait
            floor = self._floors.get(job.partition)
            if floor is not None and job.seq > floor:
                return  # an earlier turn the previous owner left unacked may come back
            verdict = self.precheck(job)
            if verdict is not None:
                self.forget(job)
                self.spawn(self._outcomes.settle(job, verdict))
                continue
            telegram_chat_id = self._fleet.telegram_chat_id(job.chat_id)
            assert telegram_chat_id is not None  # _precheck saw the chat
            now = self._now()
            if not self._reply_ready(job, lane, now):
                return
            slot = max(job.not_before, self.limiter.next_slot(job.bot_id, telegram_chat_id, now))
            if slot > now:
                lane.timer = loop.call_at(slot, self._pump, lane)
                return
            job.taken_at = now
            self.limiter.take(job.bot_id, telegram_chat_id, now)
            lane.posting = job
            job.phase = Phase.POSTING
            task = self.spawn(self._post(job, lane, telegram_chat_id))
            self._posting.setdefault(job.partition, set()).add(task)
            task.add_done_callback(self._posting.get(job.partition, set()).discard)
            return

    def precheck(self, job: Job) -> Verdict | None:
        """What ends a scheduled turn right before it would be posted."""
        if job.payload.deadline.timestamp() <= self._wall():
            return Expire("deadline")
        if self._fleet.chat(job.chat_id) is None:
            return Failure(Action.DROP, None, "the chat is not configured")
        if self._fleet.bot(job.bot_id) is None:
            return Failure(Action.DROP, None, "the bot is not configured")
        if self._fleet.disabled_everywhere(job.bot_id):
            return Failure(Action.DISABLE_BOT, None, "the bot is disabled: its token was refused")
        if self._fleet.disabled_in_chat(job.bot_id, job.chat_id):
            return Failure(Action.DISABLE_IN_CHAT, None, "the bot is disabled in this chat")
        return None

    def _reply_ready(self, job: Job, lane: Lane, now: float) -> bool:
        """Resolve the reply target to a Telegram message id, waiting for one in flight."""
        assert isinstance(job.payload, Approved)
        target = job.payload.reply_to
        if target is None:
            job.reply_id = None
            return True
        if target.telegram_message_id is not None:
            job.reply_id = target.telegram_message_id
            return True
        sent = self._conversation.sent(target.ref)
        if sent is not None:
            job.reply_id = sent.message_id
            return True
        if self._conversation.closed_unsent(target.ref):
            job.reply_id = None
            return True
        if job.reply_since is None:
            job.reply_since = now
        give_up = job.reply_since + self._settings.dispatcher_reply_wait_s
        if now >= give_up:
            job.reply_id = None
            return True
        self._conversation.wait_for(target.ref, lambda: self._pump(lane))
        lane.timer = asyncio.get_running_loop().call_at(give_up, self._pump, lane)
        return False

    # -- posting -------------------------------------------------------------------------
    async def _post(self, job: Job, lane: Lane, telegram_chat_id: int) -> None:
        try:
            with tracing.job_span("dispatch message", job):
                await self._send(job, lane, telegram_chat_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "send failed unexpectedly; retrying later", extra={"turn_id": job.turn_id}
            )
            if self.holds(job):
                job.phase = Phase.READY
                job.not_before = self._now() + self._settings.dispatcher_retry_initial_s
        finally:
            self._release(lane, job)

    def _release(self, lane: Lane, job: Job) -> None:
        """The chat may post its next turn: Telegram has answered this one (or it failed)."""
        if lane.posting is job:
            lane.posting = None
            asyncio.get_running_loop().call_soon(self._pump, lane)

    async def _send(self, job: Job, lane: Lane, telegram_chat_id: int) -> None:
        approved = job.payload
        assert isinstance(approved, Approved) and job.record is not None
        try:
            token = await self._tokens.token(job.bot_id)
        except SecretUnavailable as exc:
            self.forget(job)
            await self._outcomes.settle(job, Failure(Action.DROP, None, f"no usable token: {exc}"))
            return
        entities = await mention_entities(approved, self._conversation, self._datakeys)
        quote = compose.quote_for(approved.reply_to, approved.quote) if job.reply_id else None
        reply = compose.reply_parameters(job.reply_id, quote)
        intent = job.record.moved(State.INTENT, self._wall(), telegram_chat_id=telegram_chat_id)
        ttl = self._outcomes.ttl(approved)
        try:
            stored = await self._ledger.update(job.key, intent, job.revision, ttl)
        except LedgerConflict:
            await self.conflicted(job)
            return
        job.record, job.revision = intent, stored.revision
        # The limits count from when the request leaves, not from when its slot was taken.
        self.limiter.retake(job.bot_id, telegram_chat_id, job.taken_at, self._now())
        started = time.perf_counter()
        try:
            message = await self._api.send_message(
                token, telegram_chat_id, approved.text, reply=reply, entities=entities
            )
        except TelegramError as exc:
            await self.failed(job, classify(exc))
            return
        sent_at = self._clock.now()
        replied = message.reply_to_message.message_id if message.reply_to_message else None
        envelope = sent_event(
            job.envelope,
            approved,
            telegram_chat_id=telegram_chat_id,
            message_id=message.message_id,
            reply_to_message_id=replied,
            sent_at=sent_at,
            epoch=job.epoch,
        )
        encoded = encode(envelope)
        sent = intent.moved(
            State.SENT,
            sent_at.timestamp(),
            message_id=message.message_id,
            sent=encoded.decode(),
            approved=None,
        )
        # Posted: the chat's next turn need not wait for the bookkeeping below (Telegram has
        # this one, in order), and a turn replying to it can resolve its message id now.
        revision = job.revision
        self.forget(job)
        self._conversation.record_sent(approved.turn_id, telegram_chat_id, message.message_id)
        self._release(lane, job)
        try:
            stored = await self._ledger.update(job.key, sent, revision, ttl)
            job.record, job.revision = sent, stored.revision
        except Exception:
            log.exception("could not record a sent message", extra={"turn_id": job.turn_id})
        metrics.AMBIGUOUS_WINDOW.observe(time.perf_counter() - started)
        await self._publisher.publish(envelope, encoded=encoded)
        metrics.SENDS.labels("sent").inc()
        metrics.MESSAGES_SENT.labels(job.chat_id).inc()
        metrics.APPROVED_TO_SENT.observe(
            max(0.0, sent_at.timestamp() - job.envelope.occurred_at.timestamp())
        )

    async def conflicted(self, job: Job) -> None:
        """The record moved under us: another owner decided it, or our copy is stale."""
        current = await self._ledger.get(job.key)
        if current is None or current.record.state.final:
            self.forget(job)
            return
        job.record, job.revision = current.record, current.revision
        job.phase = Phase.READY

    # -- failures ------------------------------------------------------------------------
    async def failed(self, job: Job, failure: Failure) -> None:
        """Apply the error table's action to a call Telegram refused (the record is `intent`):
        put the turn off (429, 5xx, no connection, a migration) or end it."""
        assert job.record is not None
        attempts = job.record.attempts + 1
        if failure.action not in (Action.RETRY_AFTER, Action.RETRY, Action.MIGRATE_CHAT):
            self.forget(job)
            if failure.action is Action.AMBIGUOUS:
                metrics.AMBIGUOUS.labels("no_answer").inc()
            await self._outcomes.settle(job, failure)
            return
        delay = 0.0
        if failure.action is Action.RETRY_AFTER:
            delay = float(failure.retry_after or 1)
            self.limiter.pause(job.bot_id, self._now() + delay)  # that bot only
            metrics.RETRY_AFTER_SECONDS.inc(delay)
            metrics.RETRIES.labels("429").inc()
        elif failure.action is Action.RETRY:
            delay = self._outcomes.backoff(attempts)
            metrics.RETRIES.labels("network" if failure.error_code is None else "5xx").inc()
        else:
            await self._outcomes.migrate(job.chat_id, failure)
            metrics.RETRIES.labels("migrate").inc()
        wall = self._wall()
        back = job.record.moved(State.SCHEDULED, wall, attempts=attempts, slot_at=wall + delay)
        try:
            stored = await self._ledger.update(
                job.key, back, job.revision, self._outcomes.ttl(job.payload)
            )
        except LedgerConflict:
            await self.conflicted(job)
            return
        job.record, job.revision = back, stored.revision
        job.phase = Phase.READY
        job.not_before = self._now() + delay
        if failure.action is not Action.MIGRATE_CHAT:  # the chat's status is that event
            await self._outcomes.report(job, failure, attempt=attempts)

    # -- bookkeeping ---------------------------------------------------------------------
    def holds(self, job: Job) -> bool:
        return self._jobs.get(job.key) is job

    def forget(self, job: Job) -> None:
        job.cancel_timers()
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        lane = self._lanes.get(job.chat_id)
        if lane is not None:
            was_head = bool(lane.jobs) and lane.jobs[0] is job
            lane.remove(job)
            if was_head and lane.posting is None:
                asyncio.get_running_loop().call_soon(self._pump, lane)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatcher task failed", exc_info=task.exception())

    def _gauge(self) -> None:
        metrics.SCHEDULED.set(len(self._jobs))
