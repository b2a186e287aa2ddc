"""The events the dispatcher emits about a turn, with ids derived from the approved event.

Derived ids make every emission reproducible: a crash and a replay of the
same step publishes the same id, and JetStream drops the repeat. Failures
are numbered by the turn's attempt (kept in the ledger), so a retry's report
and the final one never collide.
"""

from __future__ import annotations

from datetime import datetime

from piyasa_contracts import Envelope, EventKeys, Payload, make_event
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    ReactionAdded,
    Sent,
    TurnExpired,
    TurnStage,
)
from piyasa_contracts.events.work import Approved
from piyasa_dispatcher.failures import Failure

SERVICE = "dispatcher"


def keys_of(cause: Envelope, bot_id: str, turn_id: str) -> EventKeys:
    return EventKeys(bot_id=bot_id, chat_id=cause.keys.chat_id, turn_id=turn_id)


def _derived(
    payload: Payload,
    cause: Envelope,
    *,
    bot_id: str,
    turn_id: str,
    now: datetime,
    epoch: int | None,
    attempt: int = 0,
) -> Envelope:
    """The event `payload` caused by `cause`, in the turn's keys, its id derived."""
    return make_event(
        payload,
        occurred_at=now,
        keys=keys_of(cause, bot_id, turn_id),
        cause=cause,
        attempt=attempt,
        actor=SERVICE,
        epoch=epoch,
    )


def sent_event(
    cause: Envelope,
    approved: Approved,
    *,
    telegram_chat_id: int,
    message_id: int,
    reply_to_message_id: int | None,
    sent_at: datetime,
    epoch: int | None,
) -> Envelope:
    payload = Sent(
        turn_id=approved.turn_id,
        bot_id=approved.bot_id,
        telegram_chat_id=telegram_chat_id,
        telegram_message_id=message_id,
        text=approved.text,
        reply_to_message_id=reply_to_message_id,
        sent_at=sent_at,
    )
    return _derived(
        payload, cause, bot_id=approved.bot_id, turn_id=approved.turn_id, now=sent_at, epoch=epoch
    )


def failed_event(
    cause: Envelope,
    *,
    bot_id: str,
    turn_id: str,
    failure: Failure,
    attempt: int,
    now: datetime,
    epoch: int | None,
) -> Envelope:
    payload = DispatchFailed(
        turn_id=turn_id,
        bot_id=bot_id,
        action=failure.action.reported_as,
        error_code=failure.error_code,
        description=failure.description[:500],
        migrate_to_chat_id=failure.migrate_to_chat_id,
    )
    return _derived(
        payload, cause, bot_id=bot_id, turn_id=turn_id, now=now, epoch=epoch, attempt=attempt
    )


def expired_event(
    cause: Envelope, *, bot_id: str, turn_id: str, reason: str, now: datetime, epoch: int | None
) -> Envelope:
    payload = TurnExpired(turn_id=turn_id, stage=TurnStage.DISPATCHER, reason=reason)
    return _derived(payload, cause, bot_id=bot_id, turn_id=turn_id, now=now, epoch=epoch)


def reaction_event(
    cause: Envelope,
    *,
    bot_id: str,
    turn_id: str,
    telegram_chat_id: int,
    message_id: int,
    emoji: str,
    now: datetime,
    epoch: int | None,
) -> Envelope:
    """The fleet's own reactions produce no Telegram update: this event is their record."""
    payload = ReactionAdded(
        telegram_chat_id=telegram_chat_id,
        telegram_message_id=message_id,
        actor_id=bot_id,
        actor_is_bot=True,
        emoji=emoji,
    )
    return _derived(payload, cause, bot_id=bot_id, turn_id=turn_id, now=now, epoch=epoch)
