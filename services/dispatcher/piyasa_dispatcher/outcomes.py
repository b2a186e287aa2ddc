"""How a turn ends or is put off: its ledger record, its event, the status it changes.

    Expire(reason)            -> ledger `failed`, `turn.expired` (stage dispatcher)
    Failure(action, ...)      -> ledger `failed` (or back to `scheduled` for a retry),
                                 `dispatch.failed`; disabling actions also write the
                                 bot's status, a migration the chat's

The turn's attempt (kept in the ledger) numbers its `dispatch.failed` events,
so a retry's report and the final one never share an id, and a replay after a
crash reuses them.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from piyasa_common.clock import Clock
from piyasa_common.publisher import Publisher
from piyasa_contracts.events.config import BotStatusChanged, ChatStatusChanged, TokenCheck
from piyasa_contracts.events.conversation import FailureAction
from piyasa_contracts.events.work import Approved, ReactionApproved
from piyasa_dispatcher import metrics
from piyasa_dispatcher.events import expired_event, failed_event
from piyasa_dispatcher.failures import Action, Failure
from piyasa_dispatcher.jobs import Job
from piyasa_dispatcher.ledger import LedgerConflict, SendLedger, State, Stored
from piyasa_dispatcher.settings import DispatcherSettings
from piyasa_dispatcher.state import Conversation
from piyasa_dispatcher.statuses import StatusWriter
from piyasa_dispatcher.tokens import TokenBook

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Expire:
    reason: str


Verdict = Failure | Expire


class Outcomes:
    def __init__(
        self,
        *,
        settings: DispatcherSettings,
        ledger: SendLedger,
        publisher: Publisher,
        statuses: StatusWriter,
        tokens: TokenBook,
        conversation: Conversation,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self._settings = settings
        self._ledger = ledger
        self._publisher = publisher
        self._statuses = statuses
        self._tokens = tokens
        self._conversation = conversation
        self._clock = clock
        self._rng = rng

    def ttl(self, payload: Approved | ReactionApproved | None) -> int:
        """A record lives until the turn's deadline, and `ledger_ttl_s` more."""
        base = self._settings.dispatcher_ledger_ttl_s
        if payload is None:
            return base
        left = payload.deadline.timestamp() - self._clock.now().timestamp()
        return int(max(0.0, left)) + base

    def backoff(self, attempts: int) -> float:
        s = self._settings
        base = min(s.dispatcher_retry_max_s, s.dispatcher_retry_initial_s * 2 ** (attempts - 1))
        return float(base * self._rng.uniform(0.8, 1.2))

    async def settle(self, job: Job, verdict: Verdict) -> None:
        """End a turn that will not be posted: its record `failed`, then its event."""
        assert job.record is not None
        attempts = job.record.attempts + 1
        now = self._clock.now().timestamp()
        final = job.record.moved(State.FAILED, now, attempts=attempts, approved=None)
        try:
            await self._ledger.update(job.key, final, job.revision, self.ttl(job.payload))
        except LedgerConflict:
            return  # another owner decided it
        if isinstance(verdict, Failure):
            await self.consequences(job, verdict)
        await self.report(job, verdict, attempt=attempts)

    async def report(self, job: Job, verdict: Verdict, *, attempt: int) -> None:
        now = self._clock.now()
        epoch = job.epoch
        if isinstance(verdict, Expire):
            metrics.EXPIRED.labels("dispatcher").inc()
            metrics.SENDS.labels("expired").inc()
            envelope = expired_event(
                job.envelope,
                bot_id=job.bot_id,
                turn_id=job.turn_id,
                reason=verdict.reason,
                now=now,
                epoch=epoch,
            )
            self._conversation.record_closed(job.turn_id)
        else:
            if verdict.action.reported_as is not FailureAction.RETRY:
                metrics.SENDS.labels(verdict.action.value).inc()
                self._conversation.record_closed(job.turn_id)
            envelope = failed_event(
                job.envelope,
                bot_id=job.bot_id,
                turn_id=job.turn_id,
                failure=verdict,
                attempt=attempt,
                now=now,
                epoch=epoch,
            )
        await self._publisher.publish(envelope)

    async def consequences(self, job: Job, failure: Failure) -> None:
        """What a disabling answer changes beyond the turn: the bot's status, as an event."""
        now = self._clock.now()
        if failure.action is Action.DISABLE_IN_CHAT and failure.error_code is not None:
            chat_id = job.chat_id

            def in_chat(s: BotStatusChanged) -> BotStatusChanged:
                return s.model_copy(
                    update={
                        "disabled_in_chats": sorted({*s.disabled_in_chats, chat_id}),
                        "checked_at": now,
                        "detail": failure.description[:500],
                    }
                )

            await self._statuses.bot(job.bot_id, in_chat)
        elif failure.action is Action.DISABLE_BOT and failure.error_code is not None:
            self._tokens.forget(job.bot_id)

            def everywhere(s: BotStatusChanged) -> BotStatusChanged:
                return s.model_copy(
                    update={
                        "disabled_everywhere": True,
                        "token_check": TokenCheck.INVALID,
                        "checked_at": now,
                        "detail": failure.description[:500],
                    }
                )

            await self._statuses.bot(job.bot_id, everywhere)

    async def migrate(self, chat_id: str, failure: Failure) -> None:
        """The group became a supergroup: its new id, everywhere, by an event."""
        now = self._clock.now()
        new_id = failure.migrate_to_chat_id

        def moved(s: ChatStatusChanged) -> ChatStatusChanged:
            return s.model_copy(
                update={
                    "migrated_to_chat_id": new_id,
                    "checked_at": now,
                    "detail": failure.description[:500],
                }
            )

        await self._statuses.chat(chat_id, moved)

    async def mark_done(
        self, key: str, stored: Stored, payload: Approved | ReactionApproved | None
    ) -> None:
        """Shrink the record once its event is out; a redelivery still finds it decided."""
        now = self._clock.now().timestamp()
        record = stored.record.moved(State.DONE, now, sent=None, approved=None)
        try:
            await self._ledger.update(key, record, stored.revision, self.ttl(payload))
        except LedgerConflict:
            pass
        except Exception:
            log.warning("could not mark a send done", exc_info=True)
