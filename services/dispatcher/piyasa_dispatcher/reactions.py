"""A bot's reaction to a message: setMessageReaction, once per bot and message.

The fleet's own reactions produce no Telegram update, so the dispatcher
records each as a `reaction.added` event itself. A reaction goes through the
same ledger (`scheduled → intent → done`) as a message, waits for a target
still in flight like a reply does, and a bot paused by a 429 waits with it.
"One per bot per message" is a ledger key `x.<bot>.<chat>.<message>` created
once: a second reaction of the bot to the message is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

from piyasa_common.clock import Clock
from piyasa_common.publisher import Publisher
from piyasa_common.secrets import SecretUnavailable
from piyasa_contracts.events.work import ReactionApproved
from piyasa_dispatcher import tracing
from piyasa_dispatcher.events import reaction_event
from piyasa_dispatcher.failures import Action, Failure, classify
from piyasa_dispatcher.jobs import Job
from piyasa_dispatcher.ledger import LedgerConflict, Record, SendLedger, State, Stored
from piyasa_dispatcher.limits import Limiter
from piyasa_dispatcher.outcomes import Outcomes, Verdict
from piyasa_dispatcher.settings import DispatcherSettings
from piyasa_dispatcher.state import Conversation, Fleet
from piyasa_dispatcher.telegram import BotApi, TelegramError
from piyasa_dispatcher.tokens import TokenBook


class Host(Protocol):
    """What a reaction needs from the outbox that holds its job."""

    def holds(self, job: Job) -> bool: ...
    def forget(self, job: Job) -> None: ...
    def precheck(self, job: Job) -> Verdict | None: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...
    async def conflicted(self, job: Job) -> None: ...
    async def failed(self, job: Job, failure: Failure) -> None: ...


class Reactions:
    def __init__(
        self,
        *,
        host: Host,
        settings: DispatcherSettings,
        api: BotApi,
        tokens: TokenBook,
        ledger: SendLedger,
        fleet: Fleet,
        conversation: Conversation,
        publisher: Publisher,
        outcomes: Outcomes,
        limiter: Limiter,
        clock: Clock,
    ) -> None:
        self._host = host
        self._settings = settings
        self._api = api
        self._tokens = tokens
        self._ledger = ledger
        self._fleet = fleet
        self._conversation = conversation
        self._publisher = publisher
        self._outcomes = outcomes
        self._limiter = limiter
        self._clock = clock

    def later(self, job: Job, delay: float) -> None:
        """Try the reaction after `delay` (and not before its bot's 429 pause ends)."""
        loop = asyncio.get_running_loop()
        at = max(loop.time() + delay, self._limiter.paused_until(job.bot_id))
        job.timers.append(loop.call_at(at, lambda: self._host.spawn(self.react(job))))

    async def react(self, job: Job) -> None:
        """Set the reaction (once its target is known), in the approved reaction's trace."""
        with tracing.job_span("dispatch reaction", job):
            await self._react(job)

    async def _react(self, job: Job) -> None:
        reaction = job.payload
        assert isinstance(reaction, ReactionApproved) and job.record is not None
        if not self._host.holds(job):
            return
        verdict = self._host.precheck(job)
        if verdict is not None:
            self._host.forget(job)
            await self._outcomes.settle(job, verdict)
            return
        message_id = self._target(job, reaction)
        if message_id is None:
            return  # waiting for the target, or settled
        telegram_chat_id = self._fleet.telegram_chat_id(job.chat_id)
        assert telegram_chat_id is not None
        now = self._clock.now().timestamp()
        once = f"x.{job.bot_id}.{telegram_chat_id}.{message_id}"
        marker = Record(State.DONE, job.seq, now, kind="once", at=now)
        stored, created = await self._ledger.create(once, marker, self._outcomes.ttl(reaction))
        if not created and stored.record.seq != job.seq:
            self._host.forget(job)
            await self._outcomes.settle(
                job, Failure(Action.DROP, None, "the bot already reacted to this message")
            )
            return
        try:
            token = await self._tokens.token(job.bot_id)
        except SecretUnavailable as exc:
            self._host.forget(job)
            await self._outcomes.settle(job, Failure(Action.DROP, None, f"no usable token: {exc}"))
            return
        intent = job.record.moved(State.INTENT, now, telegram_chat_id=telegram_chat_id)
        try:
            stored = await self._ledger.update(
                job.key, intent, job.revision, self._outcomes.ttl(reaction)
            )
        except LedgerConflict:
            await self._host.conflicted(job)
            return
        job.record, job.revision = intent, stored.revision
        try:
            await self._api.set_message_reaction(
                token, telegram_chat_id, message_id, reaction.emoji
            )
        except TelegramError as exc:
            await self._host.failed(job, classify(exc))
            if self._host.holds(job):
                self.later(job, max(0.0, job.not_before - asyncio.get_running_loop().time()))
            return
        self._host.forget(job)
        envelope = reaction_event(
            job.envelope,
            bot_id=job.bot_id,
            turn_id=job.turn_id,
            telegram_chat_id=telegram_chat_id,
            message_id=message_id,
            emoji=reaction.emoji,
            now=self._clock.now(),
            epoch=job.epoch,
        )
        await self._publisher.publish(envelope)
        await self._outcomes.mark_done(job.key, Stored(intent, job.revision), reaction)

    def _target(self, job: Job, reaction: ReactionApproved) -> int | None:
        """The target's message id, waiting (a timer, not a held message) while in flight."""
        target = reaction.target
        if target.telegram_message_id is not None:
            return target.telegram_message_id
        sent = self._conversation.sent(target.ref)
        if sent is not None:
            return sent.message_id
        now = asyncio.get_running_loop().time()
        job.reply_since = job.reply_since or now
        wait = self._settings.dispatcher_reply_wait_s
        if self._conversation.closed_unsent(target.ref) or now - job.reply_since >= wait:
            self._host.forget(job)
            never = Failure(Action.DROP, None, "the message to react to was never sent")
            self._host.spawn(self._outcomes.settle(job, never))
            return None
        self._conversation.wait_for(target.ref, lambda: self.later(job, 0.0))
        self.later(job, wait)
        return None
