"""Following one stream into Postgres, in order, applying each event exactly once.

Why an ephemeral consumer with no acks, and the position in Postgres:

- The position that matters is the one committed with the rows. Keeping it
  in Postgres, written in the same transaction as a batch's rows, makes a
  batch either fully applied with its position or not at all; there is no
  window between "rows written" and "message acked" for a crash to fall in,
  which a durable consumer with acks would leave open.
- So the server need not remember anything for us: an ephemeral pull
  consumer (AckPolicy.NONE, memory storage, an inactivity threshold so an
  abandoned one disappears by itself) starts at the stored position + 1 and
  hands out messages in stream order, one consumer per stream, one fetch at
  a time. Without acks there is no redelivery to reorder anything.
- After any failure (Postgres down, a NATS reconnect, a slow-consumer drop
  seen as a gap in the consumer sequence, a batch that cannot commit) the
  loop throws the consumer away and makes a new one from the position in
  Postgres. That is the only recovery path, and it is always correct.
- A batch whose messages are at or below the stored position changes
  nothing; the store checks that under a row lock in the commit itself.
- A malformed or unknown event is parked in the dead-letter stream and the
  position moves past it: one bad message never stops a projection.
- An event of a newer schema version stops the line: what came before it is
  committed, then nothing after it is applied until this projector is
  upgraded; the loop retries from the position every `newer_version_delay_s`.
  Applying later events first would break the order the tables depend on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from piyasa_common import metrics as backbone_metrics
from piyasa_common.clock import Clock
from piyasa_common.errors import BackboneError
from piyasa_common.publisher import Publisher
from piyasa_contracts import StreamRole, Topology
from piyasa_projector import metrics
from piyasa_projector.batch import BatchPlan, RawMessage, Unreadable, plan_batch
from piyasa_projector.deadletter import parked_event
from piyasa_projector.errors import (
    DeliveryGap,
    NewerVersionPending,
    PositionMoved,
    RebuildBlocked,
    StoreError,
)
from piyasa_projector.store import ProjectionStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopOptions:
    batch_size: int = 500
    fetch_timeout_s: float = 1.0
    """An idle fetch returns after this long: it bounds how quickly a stop is seen."""
    inactive_s: float = 5.0
    retry_delay_s: float = 1.0
    newer_version_delay_s: float = 30.0


class StreamProjection:
    """One stream's projection loop.

    `publisher` parks unreadable messages in the dead-letter stream; without
    one they are skipped and counted (a rebuild, whose replay must not write
    to the log, and the dead-letter stream itself, whose unreadable messages
    would otherwise be parked into the stream they came from).
    """

    def __init__(
        self,
        *,
        js: JetStreamContext,
        store: ProjectionStore,
        topology: Topology,
        role: StreamRole,
        consumer: str,
        clock: Clock,
        options: LoopOptions,
        publisher: Publisher | None,
    ) -> None:
        self._js = js
        self._store = store
        self._role = role
        self._consumer = consumer
        self._clock = clock
        self._options = options
        self._publisher = publisher
        self.stream = topology.stream(role)
        self.position = 0
        self.caught_up = asyncio.Event()
        """Set once the loop has applied what the stream held when it first started."""
        self.blocked_at: int | None = None
        """The sequence of a newer-version event the line is stopped at, if any."""
        self.events = 0
        self.skipped = 0
        self.rows: Counter[str] = Counter()
        self._target: int | None = None
        self._failures = 0

    @property
    def consumer(self) -> str:
        return self._consumer

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the stream until `stop`; after a failure, start over from the stored position."""
        while not stop.is_set():
            delay: float | None = None
            try:
                await self._follow(stop, until=None)
            except NewerVersionPending as exc:
                self.blocked_at = exc.sequence
                delay = self._options.newer_version_delay_s
                log.warning("projection waits for an upgrade: %s", exc, extra=self._fields())
            except (PositionMoved, DeliveryGap) as exc:
                self._failed("position_moved" if isinstance(exc, PositionMoved) else "gap")
                delay = 0.0
                log.info("projection restarts from the stored position: %s", exc)
            except StoreError as exc:
                self._failed("database")
                log.warning("projection failed on postgres: %s", exc, extra=self._fields())
            except (nats.errors.Error, BackboneError, TimeoutError) as exc:
                self._failed("broker")
                log.warning("projection failed on nats: %r", exc, extra=self._fields())
            except Exception:
                # A bug, not an outage: keep the line stopped where it is, loudly.
                self._failed("unexpected")
                log.exception("projection failed unexpectedly", extra=self._fields())
            await _pause(stop, self._backoff() if delay is None else delay)

    def _backoff(self) -> float:
        """Failures in a row wait longer each time (up to 10 s): an outage is not a log flood."""
        self._failures += 1
        return min(self._options.retry_delay_s * 2.0 ** min(self._failures - 1, 10), 10.0)

    async def catch_up(self) -> None:
        """Apply the stream up to its last sequence as of now, then return.

        Raises RebuildBlocked at an event newer than this projector knows, and
        the store's or the broker's errors as they come.
        """
        until = await self._last_sequence()
        never = asyncio.Event()
        while True:
            try:
                await self._follow(never, until=until)
                return
            except (PositionMoved, DeliveryGap) as exc:
                log.info("catch-up restarts from the stored position: %s", exc)
            except NewerVersionPending as exc:
                raise RebuildBlocked(exc) from exc

    async def _follow(self, stop: asyncio.Event, *, until: int | None) -> None:
        self.position = await self._store.position(self.stream)
        metrics.POSITION.labels(self._role.value).set(self.position)
        last = await self._last_sequence()
        if self._target is None:
            self._target = last
        if last < self.position:
            log.error(
                "the stream ends before the stored position: was it recreated or restored "
                "without its sequences?",
                extra={**self._fields(), "stream_last_sequence": last},
            )
        if self.position >= self._target:
            self.caught_up.set()
        async with self._subscription(self.position) as sub:
            delivered = 0
            # The next batch travels while this one is written: fetch and commit overlap.
            fetching = asyncio.create_task(self._fetch(sub))
            try:
                while not stop.is_set():
                    if until is not None and self.position >= until:
                        return
                    msgs = await fetching
                    fetching = asyncio.create_task(self._fetch(sub))
                    if not msgs:  # idle: everything there was has been applied
                        metrics.LAG.labels(self._role.value).set(0)
                        self.caught_up.set()
                        # A catch-up ends short of `until` only if the rest is gone (deleted).
                        if until is not None and (await sub.consumer_info()).num_pending == 0:
                            return
                        continue
                    delivered = self._check_delivery(msgs, delivered)
                    pending = msgs[-1].metadata.num_pending
                    await self._apply([_raw(msg) for msg in msgs])
                    metrics.LAG.labels(self._role.value).set(pending)
                    if pending == 0 or self.position >= self._target:
                        self.caught_up.set()
                    if until is not None and pending == 0:
                        return
            finally:
                await _abandon(fetching)

    async def _fetch(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """The next batch in stream order; empty when none came within the fetch timeout."""
        try:
            return await sub.fetch(self._options.batch_size, timeout=self._options.fetch_timeout_s)
        except TimeoutError:  # nats' own, or asyncio's from a spent deadline
            return []

    async def _apply(self, messages: Sequence[RawMessage]) -> None:
        """Park what cannot be read, then commit rows and position in one transaction."""
        started = self._clock.monotonic()
        plan = plan_batch(messages, self.position)
        for unreadable in plan.unreadable:
            await self._park(unreadable)
        if plan.last_sequence > self.position:
            self.position, written = await self._store.commit(
                self.stream, self.position, plan.rows, plan.last_sequence
            )
            for table, count in written.items():
                metrics.ROWS_WRITTEN.labels(table).inc(count)
            self.rows.update(written)
            self._failures = 0
            metrics.POSITION.labels(self._role.value).set(self.position)
        self._count(plan)
        metrics.BATCH_SECONDS.labels(self._role.value).observe(self._clock.monotonic() - started)
        if plan.blocked is not None:
            blocked = plan.blocked
            backbone_metrics.NEWER_VERSION.labels(blocked.error.event_type).inc()
            backbone_metrics.EVENTS_CONSUMED.labels(
                self._consumer, blocked.error.event_type, "newer_version"
            ).inc()
            raise NewerVersionPending(
                self.stream,
                blocked.message.stream_sequence,
                blocked.error.event_type,
                blocked.error.version,
            )
        self.blocked_at = None

    async def _park(self, unreadable: Unreadable) -> None:
        sequence = unreadable.message.stream_sequence
        if self._publisher is None:
            self.skipped += 1
            backbone_metrics.EVENTS_CONSUMED.labels(
                self._consumer, backbone_metrics.UNKNOWN_TYPE, "skipped"
            ).inc()
            log.warning(
                "unreadable message skipped (%s): %s",
                unreadable.reason,
                unreadable.error,
                extra={**self._fields(), "stream_seq": sequence},
            )
            return
        envelope = parked_event(
            unreadable, consumer=self._consumer, stream=self.stream, now=self._clock.now()
        )
        await self._publisher.publish(envelope)
        backbone_metrics.DEAD_LETTERS.labels(self._consumer, unreadable.reason).inc()
        backbone_metrics.EVENTS_CONSUMED.labels(
            self._consumer, backbone_metrics.UNKNOWN_TYPE, "deadletter"
        ).inc()
        log.error(
            "message dead-lettered (%s): %s",
            unreadable.reason,
            unreadable.error,
            extra={**self._fields(), "stream_seq": sequence},
        )

    def _count(self, plan: BatchPlan) -> None:
        self.events += sum(plan.applied.values())
        for event_type, count in plan.applied.items():
            backbone_metrics.EVENTS_CONSUMED.labels(self._consumer, event_type, "ack").inc(count)
        for (event_type, version), count in plan.upcast.items():
            backbone_metrics.UPCAST.labels(event_type, str(version)).inc(count)
        if plan.duplicates:
            backbone_metrics.EVENTS_CONSUMED.labels(
                self._consumer, backbone_metrics.UNKNOWN_TYPE, "skipped"
            ).inc(plan.duplicates)

    def _check_delivery(self, msgs: Sequence[Msg], delivered: int) -> int:
        """Without acks a dropped message is never redelivered: a gap means start over."""
        for msg in msgs:
            got = msg.metadata.sequence.consumer
            if got != delivered + 1:
                raise DeliveryGap(self.stream, delivered + 1, got)
            delivered = got
        return delivered

    @asynccontextmanager
    async def _subscription(
        self, position: int
    ) -> AsyncIterator[JetStreamContext.PullSubscription]:
        name = f"{self._consumer}-{uuid.uuid4().hex[:12]}"
        config = api.ConsumerConfig(
            name=name,
            description=f"{self._consumer} from {position + 1} (ephemeral)",
            deliver_policy=(
                api.DeliverPolicy.BY_START_SEQUENCE if position else api.DeliverPolicy.ALL
            ),
            opt_start_seq=position + 1 if position else None,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=self._options.inactive_s,
            mem_storage=True,
            num_replicas=1,
        )
        await self._js.add_consumer(self.stream, config)
        sub = await self._js.pull_subscribe_bind(consumer=name, stream=self.stream)
        try:
            yield sub
        finally:
            # Best effort: the inactivity threshold removes it anyway.
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await sub.unsubscribe()
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self._js.delete_consumer(self.stream, name)

    async def _last_sequence(self) -> int:
        info = await self._js.stream_info(self.stream)
        return int(info.state.last_seq)

    def _failed(self, kind: metrics.FailureKind) -> None:
        metrics.FAILURES.labels(self._role.value, kind).inc()

    def _fields(self) -> dict[str, object]:
        return {"stream": self.stream, "position": self.position}


def _raw(msg: Msg) -> RawMessage:
    return RawMessage(
        stream_sequence=msg.metadata.sequence.stream,
        subject=msg.subject,
        headers=dict(msg.headers or {}),
        data=msg.data,
    )


async def _abandon(task: asyncio.Task[list[Msg]]) -> None:
    """Cancel a prefetch whose batch will not be applied (the consumer is going away)."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved: it no longer matters, and must not warn


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, unless `stop` is set first."""
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
