"""The consumer runner: pull, decode, handle, then ack, nak or dead-letter.

One place decides what happens to a message:

    decoded, handler returned        -> ack
    handler raised Retry(delay)      -> nak with that delay (work that must wait)
    handler raised anything else     -> nak with backoff; at the delivery limit, dead-letter
    handler raised Poison            -> dead-letter now
    bytes are not a known event      -> dead-letter now (malformed / unknown type)
    schema version newer than ours   -> nak with a delay and count; never dead-lettered
    stamped with a stale lease epoch -> ack and count; the output of a dead owner is void
    partition lease may have expired -> nak now and count, before or after the handler: a
                                        stalled replica never acks what the partition's
                                        next owner would not see

Handlers never wait while holding a message: in-flight work is bounded by a
semaphore, and a handler whose work must wait raises Retry instead.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import trace
from prometheus_client import Counter, Histogram

from piyasa_common import metrics
from piyasa_common.clock import Clock
from piyasa_common.errors import Poison, Retry
from piyasa_common.logs import log_context
from piyasa_common.publisher import Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_common.telemetry import extract_context
from piyasa_contracts import (
    EventKeys,
    MalformedEvent,
    NewerVersion,
    StreamRole,
    UnknownEventType,
    decode,
    derive_event_id,
)
from piyasa_contracts.envelope import Envelope
from piyasa_contracts.events.system import DeadLettered
from piyasa_contracts.registry import Event

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("piyasa.consumer")

_FETCH_TIMEOUT_S = 0.5

# Metric children by label values: `labels()` costs a lock and a tuple per call,
# and the label sets are bounded (consumer names, registry types, fixed outcomes).
_consumed: dict[tuple[str, str, str], Counter] = {}
_handler_seconds: dict[str, Histogram] = {}


def _count_consumed(consumer: str, event_type: str, outcome: str) -> None:
    key = (consumer, event_type, outcome)
    child = _consumed.get(key)
    if child is None:
        child = _consumed[key] = metrics.EVENTS_CONSUMED.labels(*key)
    child.inc()


def _observe_handler(consumer: str, seconds: float) -> None:
    child = _handler_seconds.get(consumer)
    if child is None:
        child = _handler_seconds[consumer] = metrics.HANDLER_SECONDS.labels(consumer)
    child.observe(seconds)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the handler may know about the message carrying its event."""

    msg: Msg
    stream_sequence: int
    num_delivered: int
    subject: str

    async def in_progress(self) -> None:
        """Extend the ack deadline; only for short holds, never for waiting."""
        await self.msg.in_progress()


Handler = Callable[[Event, Delivery], Awaitable[None]]
Fence = Callable[[Event], bool]
"""Returns True when the event was stamped by a stale lease owner."""


class ConsumerRunner:
    """Runs one handler over one durable pull consumer with bounded concurrency."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        publisher: Publisher,
        settings: BackboneSettings,
        clock: Clock,
        stream: StreamRole,
        durable: str,
        handler: Handler,
        label: str | None = None,
        fence: Fence | None = None,
        concurrency: int | None = None,
        holds: Callable[[], bool] | None = None,
    ) -> None:
        """`holds`: for a partition's consumer, whether this replica still holds the
        partition's lease (checked before a message is handled and before it is acked)."""
        self._js = js
        self._publisher = publisher
        self._settings = settings
        self._clock = clock
        self._stream = publisher.topology.stream(stream)
        self._durable = durable
        self._handler = handler
        self._label = label or durable
        self._fence = fence
        self._holds = holds
        self._limit = concurrency or settings.concurrency
        self._slots = asyncio.Semaphore(self._limit)
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._fetching = False
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def durable(self) -> str:
        return self._durable

    @property
    def stream(self) -> str:
        return self._stream

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._fetch_loop(), name=f"consume:{self._durable}")

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop fetching, let in-flight handlers finish, nak what is left."""
        self._stopping.set()
        if self._loop_task is not None and not self._fetching:
            # Waiting for a free slot (every handler busy): nothing is requested from the
            # server, so stop now rather than after a handler ends and another fetch.
            self._loop_task.cancel()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._inflight:
            _, pending = await asyncio.wait(
                self._inflight, timeout=grace_s or self._settings.drain_grace_s
            )
            for task in pending:
                task.cancel()  # _process naks on cancellation
            if pending:
                await asyncio.wait(pending)

    async def _fetch_loop(self) -> None:
        sub = await self._js.pull_subscribe_bind(durable=self._durable, stream=self._stream)
        try:
            while not self._stopping.is_set():
                await self._slots.acquire()
                free = 1
                while (
                    free < min(self._limit, self._settings.fetch_batch) and not self._slots.locked()
                ):
                    await self._slots.acquire()
                    free += 1
                self._fetching = True  # a pull request in flight: let it come back
                try:
                    msgs = await sub.fetch(free, timeout=_FETCH_TIMEOUT_S)
                except TimeoutError:
                    # Also the plain asyncio.TimeoutError that nats-py's `_fetch_n`
                    # raises when a pull request expires without messages.
                    msgs = []
                except nats.errors.ConnectionClosedError:
                    msgs = []
                    self._stopping.set()
                finally:
                    self._fetching = False
                for _ in range(free - len(msgs)):
                    self._slots.release()
                for msg in msgs:
                    task = asyncio.create_task(self._run_one(msg))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _run_one(self, msg: Msg) -> None:
        try:
            await process_message(
                msg,
                handler=self._handler,
                label=self._label,
                stream=self._stream,
                settings=self._settings,
                publisher=self._publisher,
                clock=self._clock,
                fence=self._fence,
                holds=self._holds,
            )
        finally:
            self._slots.release()


async def process_message(
    msg: Msg,
    *,
    handler: Handler,
    label: str,
    stream: str,
    settings: BackboneSettings,
    publisher: Publisher,
    clock: Clock,
    fence: Fence | None = None,
    holds: Callable[[], bool] | None = None,
) -> None:
    """Apply the table in the module docstring to one message."""
    md = msg.metadata
    if holds is not None and not holds():
        await _not_ours(msg, label)
        return
    started = clock.monotonic()
    try:
        event = decode(msg.data)
    except NewerVersion as exc:
        metrics.NEWER_VERSION.labels(exc.event_type).inc()
        metrics.EVENTS_CONSUMED.labels(label, exc.event_type, "newer_version").inc()
        log.warning("event version newer than this reader; retrying later: %s", exc)
        await msg.nak(delay=settings.newer_version_delay_s)
        return
    except (MalformedEvent, UnknownEventType) as exc:
        reason = "malformed" if isinstance(exc, MalformedEvent) else "unknown_type"
        await dead_letter(msg, label, stream, reason, str(exc), publisher, clock)
        return
    env = event.envelope
    if event.upcast_from is not None:
        metrics.UPCAST.labels(env.type, str(event.upcast_from)).inc()
    delivery = Delivery(msg, md.sequence.stream, md.num_delivered, msg.subject)
    parent = extract_context(msg.headers)
    with (
        _tracer.start_as_current_span(f"handle {env.type}", context=parent) as span,
        log_context(
            event_id=env.id,
            consumer=label,
            bot_id=env.keys.bot_id,
            chat_id=env.keys.chat_id,
            turn_id=env.keys.turn_id,
        ),
    ):
        span.set_attribute("piyasa.event_type", env.type)
        span.set_attribute("piyasa.event_id", env.id)
        span.set_attribute("piyasa.consumer", label)
        if fence is not None and fence(event):
            metrics.STALE_EPOCH_REJECTED.labels(label).inc()
            _count_consumed(label, env.type, "skipped")
            log.warning("event from a stale lease epoch rejected", extra={"epoch": env.epoch})
            await msg.ack()
            return
        outcome = "ack"
        try:
            await handler(event, delivery)
        except Retry as exc:
            outcome = "nak"
            await msg.nak(delay=exc.delay_s)
        except Poison as exc:
            outcome = "deadletter"
            await dead_letter(msg, label, stream, "poison", exc.reason, publisher, clock, env)
        except asyncio.CancelledError:
            await _quiet_nak(msg, 0)
            raise
        except Exception as exc:
            span.record_exception(exc)
            if md.num_delivered >= settings.max_deliver:
                outcome = "deadletter"
                log.exception("handler failed at the delivery limit; dead-lettering")
                await dead_letter(msg, label, stream, "failed", repr(exc), publisher, clock, env)
            else:
                outcome = "nak"
                delay = settings.backoff_for(md.num_delivered)
                log.warning("handler failed; redelivery in %.1fs: %r", delay, exc)
                await msg.nak(delay=delay)
        else:
            if msg.is_acked:  # a handler may ack early to end a short hold
                pass
            elif holds is not None and not holds():
                # The lease ran out while the handler ran (a stall): the partition's next
                # owner may have loaded its state already and would never see what this
                # handler persisted; the redelivery goes to it instead.
                outcome = "nak"
                await _not_ours(msg, label)
            else:
                await msg.ack()
        finally:
            _observe_handler(label, clock.monotonic() - started)
        _count_consumed(label, env.type, outcome)


async def dead_letter(
    msg: Msg,
    consumer: str,
    stream: str,
    reason: str,
    error: str,
    publisher: Publisher,
    clock: Clock,
    original: Envelope | None = None,
) -> None:
    """Park a message in the dead-letter stream, then ack it.

    The parked event's id is derived from the original's stream position, so
    a crash between parking and acking parks it once.
    """
    md = msg.metadata
    position = f"{stream}:{md.sequence.stream}:{consumer}"
    parked = DeadLettered(
        consumer=consumer,
        stream_name=stream,
        stream_sequence=md.sequence.stream,
        subject=msg.subject,
        original_id=original.id if original else (msg.headers or {}).get("Nats-Msg-Id"),
        original_type=original.type if original else (msg.headers or {}).get("Piyasa-Type"),
        reason=reason,
        error=error[:2000],
        deliveries=md.num_delivered,
        headers=dict(msg.headers or {}),
        data_b64=base64.b64encode(msg.data).decode(),
    )
    parked_id = derive_event_id(position, DeadLettered.event_type)
    envelope = Envelope(
        id=parked_id,
        type=DeadLettered.event_type,
        version=DeadLettered.version,
        occurred_at=clock.now(),
        correlation_id=original.correlation_id if original else parked_id,
        causation_id=original.id if original else None,
        keys=original.keys if original else EventKeys(),
        actor=consumer,
        payload=parked.model_dump(mode="json"),
    )
    await publisher.publish(envelope)
    metrics.DEAD_LETTERS.labels(consumer, reason).inc()
    metrics.EVENTS_CONSUMED.labels(
        consumer, original.type if original else "unknown", "deadletter"
    ).inc()
    log.error(
        "message dead-lettered (%s): %s", reason, error, extra={"stream_seq": md.sequence.stream}
    )
    await msg.ack()


async def _quiet_nak(msg: Msg, delay: float) -> None:
    with contextlib.suppress(Exception):
        await msg.nak(delay=delay)


async def _not_ours(msg: Msg, label: str) -> None:
    """Handed back at once: this replica's lease on the partition may have expired."""
    metrics.NOT_OWNER.labels(label).inc()
    log.warning("partition lease may have expired; message handed back")
    await _quiet_nak(msg, 0)
