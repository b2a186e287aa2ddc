"""piyasa's contracts: the one definition of every event, stream, subject and consumer."""

from piyasa_contracts._errors import ContractError, MalformedEvent, NewerVersion, UnknownEventType
from piyasa_contracts.envelope import Envelope, EventKeys, Payload, make_event
from piyasa_contracts.ids import derive_event_id, new_event_id, new_opaque_id, partition_of
from piyasa_contracts.registry import (
    ALL_EVENTS,
    Event,
    decode,
    encode,
    payload_class,
    subject_for,
    upcast,
)
from piyasa_contracts.topology import (
    BUCKETS,
    CONSUMERS,
    STREAMS,
    Bucket,
    ConsumerSpec,
    StreamRole,
    StreamSpec,
    Topology,
)

__all__ = [
    "ALL_EVENTS",
    "BUCKETS",
    "CONSUMERS",
    "STREAMS",
    "Bucket",
    "ConsumerSpec",
    "ContractError",
    "Envelope",
    "Event",
    "EventKeys",
    "MalformedEvent",
    "NewerVersion",
    "Payload",
    "StreamRole",
    "StreamSpec",
    "Topology",
    "UnknownEventType",
    "decode",
    "derive_event_id",
    "encode",
    "make_event",
    "new_event_id",
    "new_opaque_id",
    "partition_of",
    "payload_class",
    "subject_for",
    "upcast",
]
