"""Planning one fetched batch: decode, map to rows, and decide where the line stops.

    readable event                -> its rows; the position moves past it
    malformed / unknown type      -> parked (dead-lettered); the position moves past it
    schema version newer than ours -> the line stops: nothing from here on is applied
    at or below the position      -> a duplicate delivery; skipped

Pure: the stream loop does the I/O around it (publishing dead letters,
committing rows and position in one transaction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from piyasa_contracts import MalformedEvent, NewerVersion, UnknownEventType, decode
from piyasa_projector.rows import Row, rows_for


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message as fetched, without the client library's object."""

    stream_sequence: int
    subject: str
    headers: Mapping[str, str]
    data: bytes


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A message no reader can decode: parked with why, then passed."""

    message: RawMessage
    reason: str
    """`malformed` or `unknown_type`: the dead-letter reason codes."""
    error: str
    event_type: str | None


@dataclass(frozen=True, slots=True)
class Blocked:
    """The first message of a schema version newer than this reader's."""

    message: RawMessage
    error: NewerVersion


@dataclass
class BatchPlan:
    rows: list[Row] = field(default_factory=list)
    last_sequence: int = 0
    """The position to store once this plan is committed."""
    applied: Counter[str] = field(default_factory=Counter)
    """Events mapped, by type (including types no table projects)."""
    upcast: Counter[tuple[str, int]] = field(default_factory=Counter)
    unreadable: list[Unreadable] = field(default_factory=list)
    duplicates: int = 0
    blocked: Blocked | None = None


def plan_batch(messages: Iterable[RawMessage], position: int) -> BatchPlan:
    """Plan the messages after `position`, in stream order, up to a newer version."""
    plan = BatchPlan(last_sequence=position)
    for message in messages:
        sequence = message.stream_sequence
        if sequence <= plan.last_sequence:
            plan.duplicates += 1
            continue
        try:
            event = decode(message.data)
        except NewerVersion as exc:
            plan.blocked = Blocked(message, exc)
            break
        except MalformedEvent as exc:
            plan.unreadable.append(Unreadable(message, "malformed", str(exc), exc.event_type))
        except UnknownEventType as exc:
            plan.unreadable.append(Unreadable(message, "unknown_type", str(exc), exc.event_type))
        else:
            plan.rows.extend(rows_for(event, sequence))
            plan.applied[event.envelope.type] += 1
            if event.upcast_from is not None:
                plan.upcast[(event.envelope.type, event.upcast_from)] += 1
        plan.last_sequence = sequence
    return plan
