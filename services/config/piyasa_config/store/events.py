"""Event-sourced writes: the current state and version come from the stream, not Postgres.

The version of an aggregate is the CONFIG stream sequence of its last event
(its subject's last sequence): the resource's ETag. A write reads it with a
direct get of the subject's last message, builds the full new state, and
publishes expecting that sequence; if someone wrote in between, JetStream
refuses and the caller gets `VersionConflict` with the version now. A publish
whose ack was lost is retried with the same `Nats-Msg-Id` by the publisher,
which recognises its own stored event: an operator never gets 409 for their
own write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from piyasa_common.clock import Clock
from piyasa_common.errors import BackboneError, Conflict
from piyasa_common.publisher import MSG_ID, Publisher
from piyasa_config.errors import Unavailable, VersionConflict
from piyasa_contracts import ContractError, EventKeys, StreamRole, Topology, decode, make_event
from piyasa_contracts.events.config import ConfigChanged

P = TypeVar("P", bound=ConfigChanged)

_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Current(Generic[P]):
    """An aggregate as the stream holds it now."""

    version: int
    """Its subject's last sequence; 0 when it was never written."""
    state: P | None
    event_id: str | None = None

    @property
    def live(self) -> bool:
        """Written and not deleted."""
        return self.state is not None and not self.state.deleted


@dataclass(frozen=True, slots=True)
class Stored(Generic[P]):
    state: P
    version: int
    event_id: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: int
    event_id: str
    type: str
    occurred_at: datetime
    actor: str | None
    payload: ConfigChanged


class EventStore:
    def __init__(
        self, js: JetStreamContext, publisher: Publisher, topology: Topology, clock: Clock
    ) -> None:
        self._js = js
        self._publisher = publisher
        self._topology = topology
        self._clock = clock
        self._stream = topology.stream(StreamRole.CONFIG)

    @property
    def clock(self) -> Clock:
        return self._clock

    def subject(self, cls: type[ConfigChanged], aggregate_id: str) -> str:
        return self._topology.config_subject(cls.aggregate, aggregate_id)

    async def current(self, cls: type[P], aggregate_id: str) -> Current[P]:
        subject = self.subject(cls, aggregate_id)
        try:
            raw = await self._js.get_last_msg(self._stream, subject, direct=True)
        except NotFoundError:
            return Current(0, None)
        except (APIError, nats.errors.Error) as exc:
            raise Unavailable(f"cannot read {cls.aggregate} {aggregate_id}: {exc!r}") from exc
        try:
            event = decode(raw.data or b"")
        except ContractError as exc:
            raise Unavailable(
                f"{cls.aggregate} {aggregate_id}: stored event unreadable: {exc}"
            ) from exc
        if not isinstance(event.payload, cls):
            raise Unavailable(f"{subject} holds a {event.envelope.type} event")
        return Current(int(raw.seq or 0), event.payload, event.envelope.id)

    async def current_many(self, cls: type[P], ids: Sequence[str]) -> list[Current[P]]:
        return list(await asyncio.gather(*(self.current(cls, i) for i in ids)))

    async def append(
        self,
        state: P,
        *,
        expected: int,
        actor: str,
        keys: EventKeys | None = None,
        event_id: str | None = None,
    ) -> Stored[P]:
        """Store `state` as the aggregate's next event if its version is still `expected`.

        `event_id` fixes the event's id (the wizard derives its ids so that a
        retried run recognises what it stored already).
        """
        envelope = make_event(state, occurred_at=self._clock.now(), keys=keys, actor=actor)
        if event_id is not None:
            envelope = envelope.model_copy(update={"id": event_id, "correlation_id": event_id})
        try:
            ack = await self._publisher.publish(envelope, expected_last_subject_seq=expected)
        except Conflict as exc:
            raise VersionConflict(f"{state.aggregate} {state.id}", expected, exc.current) from exc
        except BackboneError as exc:
            raise Unavailable(f"the event log did not store the write: {exc}") from exc
        return Stored(state, int(ack.seq), envelope.id, envelope.occurred_at)

    async def history(
        self, cls: type[ConfigChanged], aggregate_id: str, *, after: int, limit: int
    ) -> list[HistoryEntry]:
        """The aggregate's events after version `after`, oldest first."""
        subject = self.subject(cls, aggregate_id)
        return await self._scan(subject, after=after, limit=limit)

    async def log(self, *, after: int, limit: int) -> list[HistoryEntry]:
        """Every config event after sequence `after`: the audit trail."""
        return await self._scan(self._topology.stream_subjects(StreamRole.CONFIG), after, limit)

    async def _scan(self, subject: str, after: int, limit: int) -> list[HistoryEntry]:
        out: list[HistoryEntry] = []
        seq = after + 1
        while len(out) < limit:
            try:
                raw = await self._js.get_msg(
                    self._stream, seq=seq, subject=subject, next=True, direct=True
                )
            except NotFoundError:
                break
            except (APIError, nats.errors.Error) as exc:
                raise Unavailable(f"cannot read the config log: {exc!r}") from exc
            seq = int(raw.seq or seq) + 1
            try:
                event = decode(raw.data or b"")
            except ContractError:
                continue  # an unreadable event: parked by the consumers, not history
            if not isinstance(event.payload, ConfigChanged):
                continue
            out.append(
                HistoryEntry(
                    version=int(raw.seq or 0),
                    event_id=(raw.headers or {}).get(MSG_ID, event.envelope.id),
                    type=event.envelope.type,
                    occurred_at=event.envelope.occurred_at,
                    actor=event.envelope.actor,
                    payload=event.payload,
                )
            )
        return out
