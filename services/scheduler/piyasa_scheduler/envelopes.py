"""The scheduler's output as events: a turn's request or expiry, a reaction."""

from __future__ import annotations

from piyasa_contracts import Envelope, EventKeys, derive_event_id, make_event
from piyasa_contracts.events.conversation import TurnExpired, TurnStage
from piyasa_scheduler.core import Decision, Expire, React, Request

SERVICE = "scheduler"


def request_event(request: Request, epoch: int | None) -> Envelope:
    """The request's envelope: a fresh id (born at the tick), the turn as correlation."""
    turn = request.turn
    return make_event(
        request.payload,
        occurred_at=turn.requested_at,
        keys=EventKeys(bot_id=turn.bot_id, chat_id=turn.chat_id, turn_id=turn.turn_id),
        actor=SERVICE,
        epoch=epoch,
        correlation_id=turn.turn_id,
    )


def expiry_event(expire: Expire, epoch: int | None) -> Envelope:
    """The expiry's envelope; its id is derived from the turn, not fresh."""
    turn = expire.turn
    payload = TurnExpired(turn_id=turn.turn_id, stage=TurnStage.SCHEDULER, reason=expire.reason)
    envelope = make_event(
        payload,
        occurred_at=expire.at,
        keys=EventKeys(bot_id=turn.bot_id, chat_id=turn.chat_id, turn_id=turn.turn_id),
        actor=SERVICE,
        epoch=epoch,
        correlation_id=turn.turn_id,
    )
    # Derived from the turn: whichever replica announces it, JetStream keeps one.
    return envelope.model_copy(
        update={"id": derive_event_id(f"{SERVICE}:{turn.turn_id}", TurnExpired.event_type)}
    )


def reaction_event(react: React, epoch: int | None) -> Envelope:
    """A reaction, routed by its bot to the dispatcher (like an approved message)."""
    p = react.payload
    return make_event(
        p,
        occurred_at=react.at,
        keys=EventKeys(bot_id=p.bot_id, chat_id=react.chat_id, turn_id=p.turn_id),
        actor=SERVICE,
        epoch=epoch,
        correlation_id=p.turn_id,
    )


def envelope_for(decision: Decision, epoch: int | None) -> Envelope:
    if isinstance(decision, Request):
        return request_event(decision, epoch)
    if isinstance(decision, Expire):
        return expiry_event(decision, epoch)
    return reaction_event(decision, epoch)


__all__ = ["SERVICE", "envelope_for", "expiry_event", "reaction_event", "request_event"]
