"""Dead letters for messages read without acks.

`piyasa_common.consumer.dead_letter` parks a `Msg` and acks it; the projector's
consumers do not ack (AckPolicy.NONE), and its batch planner works on plain
`RawMessage`s. This builds the same `DeadLettered` record, with the same id
derivation (stream:sequence:consumer), so a message parked twice (a crash
between parking and committing the position) is stored once by JetStream's
dedup, and the record is indistinguishable from one the consumer runner makes.
"""

from __future__ import annotations

import base64
from datetime import datetime

from piyasa_contracts import Envelope, EventKeys, derive_event_id
from piyasa_contracts.events.system import DeadLettered
from piyasa_projector.batch import Unreadable

_MSG_ID = "Nats-Msg-Id"
_TYPE = "Piyasa-Type"


def parked_event(unreadable: Unreadable, *, consumer: str, stream: str, now: datetime) -> Envelope:
    """The dead-letter event for an unreadable message of `stream`, parked by `consumer`."""
    message = unreadable.message
    position = f"{stream}:{message.stream_sequence}:{consumer}"
    parked_id = derive_event_id(position, DeadLettered.event_type)
    parked = DeadLettered(
        consumer=consumer,
        stream_name=stream,
        stream_sequence=message.stream_sequence,
        subject=message.subject,
        original_id=message.headers.get(_MSG_ID),
        original_type=message.headers.get(_TYPE) or _known(unreadable.event_type),
        reason=unreadable.reason,
        error=unreadable.error[:2000],
        deliveries=1,
        headers=dict(message.headers),
        data_b64=base64.b64encode(message.data).decode(),
    )
    return Envelope(
        id=parked_id,
        type=DeadLettered.event_type,
        version=DeadLettered.version,
        occurred_at=now,
        correlation_id=parked_id,
        keys=EventKeys(),
        actor=consumer,
        payload=parked.model_dump(mode="json"),
    )


def _known(event_type: str | None) -> str | None:
    """The decoder's placeholders (`<not json>`, `<no type>`) are not types."""
    if event_type is None or event_type.startswith("<"):
        return None
    return event_type
