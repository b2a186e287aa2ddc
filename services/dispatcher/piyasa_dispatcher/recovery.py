"""What a new owner finds in its partitions' ledger, besides scheduled sends.

- `sent`: Telegram answered and the answer was recorded, but the `message.sent`
  event may not have gone out: unless the conversation this replica folded
  already holds it, it is published again (the same id, so JetStream drops a
  repeat inside its duplicate window, and the fold covers the rest).
- `intent`: the previous owner stopped between recording the intent and
  recording Telegram's answer. After a grace period (it may still be
  finishing, if it lost its lease without dying) a record still at the same
  revision is the ambiguous window: reported as a drop whose outcome is
  unknown, counted, and never posted again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from piyasa_common.clock import Clock
from piyasa_common.publisher import Publisher
from piyasa_contracts import Envelope, decode
from piyasa_contracts.events.work import Approved, ReactionApproved
from piyasa_dispatcher import metrics
from piyasa_dispatcher.events import failed_event
from piyasa_dispatcher.failures import Action, Failure
from piyasa_dispatcher.ledger import LedgerConflict, SendLedger, State, Stored
from piyasa_dispatcher.outcomes import Outcomes
from piyasa_dispatcher.state import Conversation

log = logging.getLogger(__name__)

UNKNOWN = Failure(
    Action.AMBIGUOUS,
    None,
    "outcome unknown: the dispatcher stopped between sendMessage and recording "
    "Telegram's answer; not sent again",
)


class Recovery:
    def __init__(
        self,
        *,
        ledger: SendLedger,
        publisher: Publisher,
        conversation: Conversation,
        outcomes: Outcomes,
        clock: Clock,
        epoch_of: Callable[[int], int | None],
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._conversation = conversation
        self._outcomes = outcomes
        self._clock = clock
        self._epoch_of = epoch_of

    async def republish(self, key: str, stored: Stored) -> None:
        """A `sent` record: its event again (the same id), unless the log already has it."""
        del key
        record = stored.record
        if record.sent is None:
            return
        envelope = Envelope.model_validate_json(record.sent)
        turn = envelope.keys.turn_id or ""
        if self._conversation.sent(turn) is not None:
            return  # published: the conversation this replica folded shows it
        if record.telegram_chat_id is not None and record.message_id is not None:
            self._conversation.record_sent(turn, record.telegram_chat_id, record.message_id)
        await self._publisher.publish(envelope)

    async def settle_intent(self, partition: int, key: str, seen: Stored) -> None:
        """An intent found on taking the partition, looked at again after the grace."""
        if self._epoch_of(partition) is None:
            return  # the partition moved on meanwhile
        current = await self._ledger.get(key)
        if current is None:
            return
        if current.record.state is State.SENT:
            await self.republish(key, current)
            return
        if current.record.state is not State.INTENT or current.revision != seen.revision:
            return
        record = current.record
        if record.approved is None:
            return
        event = decode(record.approved.encode())
        envelope, payload = event.envelope, event.payload
        if not isinstance(payload, Approved | ReactionApproved):
            return
        now = self._clock.now()
        attempts = record.attempts + 1
        try:
            await self._ledger.update(
                key,
                record.moved(State.FAILED, now.timestamp(), attempts=attempts),
                current.revision,
                self._outcomes.ttl(payload),
            )
        except LedgerConflict:
            return
        metrics.AMBIGUOUS.labels("takeover").inc()
        metrics.SENDS.labels("ambiguous").inc()
        self._conversation.record_closed(payload.turn_id)
        await self._publisher.publish(
            failed_event(
                envelope,
                bot_id=payload.bot_id,
                turn_id=payload.turn_id,
                failure=UNKNOWN,
                attempt=attempts,
                now=now,
                epoch=self._epoch_of(partition),
            )
        )
