"""Which service sends which event, and which service owns each durable consumer.

Topology says who receives what (the consumers' filters); this table says who
sends what. Together they are the system's data flow, which the AsyncAPI
document is generated from.
"""

from __future__ import annotations

from enum import StrEnum

from piyasa_contracts.envelope import Payload
from piyasa_contracts.events.config import OPERATOR_EVENTS, STATUS_EVENTS
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    IncomingMessage,
    ReactionAdded,
    Sent,
    TurnDropped,
    TurnExpired,
)
from piyasa_contracts.events.system import DeadLettered
from piyasa_contracts.events.work import (
    Approved,
    Drafted,
    GenerationRequested,
    ReactionApproved,
    RegenerationRequested,
    Rejected,
)
from piyasa_contracts.topology import CONSUMERS


class Service(StrEnum):
    CONFIG = "config"
    PROJECTOR = "projector"
    SCHEDULER = "scheduler"
    GENERATOR = "generator"
    GUARD = "guard"
    DISPATCHER = "dispatcher"


PRODUCERS: dict[Service, tuple[type[Payload], ...]] = {
    Service.CONFIG: OPERATOR_EVENTS,
    Service.SCHEDULER: (GenerationRequested, ReactionApproved, TurnExpired),
    Service.GENERATOR: (Drafted, TurnDropped, TurnExpired),
    Service.GUARD: (Approved, Rejected, RegenerationRequested, TurnDropped),
    Service.DISPATCHER: (
        Sent,
        DispatchFailed,
        IncomingMessage,
        ReactionAdded,
        TurnExpired,
        *STATUS_EVENTS,
    ),
}
"""Events each service emits, apart from dead letters (see `sent_by`)."""

CONSUMER_OWNERS: dict[str, Service] = {
    "scheduler": Service.SCHEDULER,
    "generator": Service.GENERATOR,
    "guard": Service.GUARD,
    "dispatcher": Service.DISPATCHER,
}
"""The service that pulls from each durable consumer in topology.CONSUMERS."""


def owner_of(consumer: str) -> Service:
    try:
        return CONSUMER_OWNERS[consumer]
    except KeyError:
        raise KeyError(f"consumer {consumer!r} has no owning service in CONSUMER_OWNERS") from None


def sent_by(service: Service) -> tuple[type[Payload], ...]:
    """Every event `service` publishes: its own, plus dead letters if it consumes anything."""
    events = PRODUCERS.get(service, ())
    if any(owner_of(spec.name) is service for spec in CONSUMERS):
        events = (*events, DeadLettered)
    return events


def producers_of(event: type[Payload]) -> tuple[Service, ...]:
    return tuple(service for service in Service if event in sent_by(service))
