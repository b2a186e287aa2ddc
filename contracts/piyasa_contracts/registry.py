"""Encoding, decoding, routing and upcasting of events by type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from piyasa_contracts._errors import MalformedEvent, NewerVersion, UnknownEventType
from piyasa_contracts.envelope import Envelope, Payload
from piyasa_contracts.events.config import CONFIG_EVENTS, ConfigChanged
from piyasa_contracts.events.conversation import CONVERSATION_EVENTS, ConversationPayload
from piyasa_contracts.events.system import DeadLettered
from piyasa_contracts.events.work import WORK_EVENTS, WorkPayload
from piyasa_contracts.topology import Topology
from piyasa_contracts.upcasters import UPCASTERS

ALL_EVENTS: tuple[type[Payload], ...] = (
    *CONFIG_EVENTS,
    *WORK_EVENTS,
    *CONVERSATION_EVENTS,
    DeadLettered,
)

_BY_TYPE: dict[str, type[Payload]] = {cls.event_type: cls for cls in ALL_EVENTS}


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded event: its envelope and its payload, typed and current."""

    envelope: Envelope
    payload: Payload
    upcast_from: int | None = None


def payload_class(event_type: str) -> type[Payload]:
    try:
        return _BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json(exclude_none=True).encode()


def decode(data: bytes) -> Event:
    """Parse, upcast and validate an event.

    Raises MalformedEvent (naming the type and field), UnknownEventType, or
    NewerVersion for a version this reader does not know yet.
    """
    try:
        envelope = Envelope.model_validate_json(data)
    except ValidationError as exc:
        raise _malformed(_peek_type(data), exc) from None
    cls = payload_class(envelope.type)
    if envelope.version > cls.version:
        raise NewerVersion(envelope.type, envelope.version, cls.version)
    raw, upcast_from = envelope.payload, None
    if envelope.version < cls.version:
        upcast_from = envelope.version
        raw = upcast(envelope.type, envelope.version, raw)
    try:
        payload = cls.model_validate(raw)
    except ValidationError as exc:
        raise _malformed(envelope.type, exc, prefix="payload") from None
    if upcast_from is not None:
        envelope = envelope.model_copy(
            update={"version": cls.version, "payload": payload.model_dump(mode="json")}
        )
    return Event(envelope, payload, upcast_from)


def upcast(event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """Lift a payload from `version` to the current version, one step at a time."""
    current = payload_class(event_type).version
    while version < current:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise MalformedEvent(event_type, "version", f"no upcaster from v{version}")
        try:
            payload = step(payload)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # Old data the upcaster cannot read is a poison event: park it, don't crash.
            raise MalformedEvent(
                event_type, "payload", f"cannot upcast from v{version}: {exc}"
            ) from exc
        version += 1
    return payload


def subject_for(topology: Topology, envelope: Envelope) -> str:
    """The subject an event is published on, from its type and keys."""
    cls = payload_class(envelope.type)
    if issubclass(cls, ConfigChanged):
        return topology.config_subject(cls.aggregate, str(envelope.payload["id"]))
    if issubclass(cls, ConversationPayload):
        return topology.conversation_subject(_require(envelope, "chat_id"), cls.kind)
    if issubclass(cls, WorkPayload):
        # The dispatcher is partitioned by bot, every earlier stage by chat.
        return topology.work_subject(cls.stage, _require(envelope, cls.routed_by))
    if cls is DeadLettered:
        return topology.deadletter_subject(str(envelope.payload["consumer"]))
    raise UnknownEventType(envelope.type)


def _require(envelope: Envelope, key: str) -> str:
    value = getattr(envelope.keys, key)
    if not value:
        raise MalformedEvent(envelope.type, f"keys.{key}", "required to route this event")
    return str(value)


def _peek_type(data: bytes) -> str:
    import json

    try:
        obj = json.loads(data)
    except ValueError:
        return "<not json>"
    if isinstance(obj, dict) and isinstance(obj.get("type"), str):
        return str(obj["type"])[:64]
    return "<no type>"


def _malformed(event_type: str, exc: ValidationError, prefix: str = "") -> MalformedEvent:
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    if prefix:
        loc = f"{prefix}.{loc}" if loc else prefix
    return MalformedEvent(event_type, loc or "<root>", first["msg"])
