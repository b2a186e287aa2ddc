"""The scheduler's edge: fold the log, own partitions, tick their chats, publish.

Every replica folds every chat (followers of CONFIG, CONVERSATION and WORK
requests). Partitions of the `scheduler` durable consumer are leased: for
each partition it holds, a replica runs

- the consumer's handler: the partition's conversation events in order
  (humans' messages, turn outcomes), folded again (idempotent) and counted,
  each one waking the partition's ticker, so a mention is planned at once;
- a ticker: re-reads the partition's recent generation requests (the
  predecessor's last requests may have landed after this replica's follower
  looked), forgets the pace planned for those chats before, then, until the
  lease is gone, opens the humans' lines still sealed (`people`) and ticks
  the core for each chat of the partition. It publishes what the core
  decides, stamped with the partition's lease epoch: requests and reactions
  on WORK, expiries on CONVERSATION. Turn ids are born here (the tick is an
  edge); an expiry's id is derived from its turn, so two replicas announcing
  the same expiry store it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import nats.errors
from opentelemetry import trace

from piyasa_common.clock import Clock
from piyasa_common.consumer import Delivery, Handler
from piyasa_common.errors import PiyasaError
from piyasa_common.leases import PartitionLeases
from piyasa_common.publisher import Publisher
from piyasa_common.service import ServiceContext
from piyasa_common.state import Apply, StartAt, StreamFollower
from piyasa_contracts import StreamRole, Topology
from piyasa_contracts.events.config import ControlState, PersonErased
from piyasa_contracts.registry import Event
from piyasa_scheduler import metrics
from piyasa_scheduler.chat import ChatState
from piyasa_scheduler.core import Decision, rhythm_of, tick, wake_at
from piyasa_scheduler.envelopes import SERVICE, envelope_for
from piyasa_scheduler.people import KeyStore
from piyasa_scheduler.settings import SchedulerSettings
from piyasa_scheduler.state import FleetState

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("piyasa.scheduler")

_STOP_GRACE_S = 10.0


@dataclass
class _Gauges:
    in_flight: int = 0
    active: int = 0


class PartitionTicker:
    """Schedules the chats of one partition while this replica holds its lease."""

    def __init__(self, runtime: SchedulerRuntime, partition: int, epoch: int) -> None:
        self.partition = partition
        self.epoch = epoch
        self._rt = runtime
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"scheduler:p{self.partition:03d}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), _STOP_GRACE_S)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._rt.keep_paces(self.partition, set())  # another replica reports them now

    def _owner(self) -> bool:
        return not self._stopping.is_set() and self._rt.epoch(self.partition) == self.epoch

    async def _run(self) -> None:
        rt = self._rt
        await rt.reread_requests(self.partition)
        for chat in rt.chats_of(self.partition):
            chat.pacer.reset()
            chat.plans.clear()
        while self._owner():
            self._wake.clear()
            await rt.reveal(rt.chats_of(self.partition))
            now = rt.clock.now()
            delay = rt.settings.scheduler_tick_interval_s
            in_flight = active = 0
            paced: set[str] = set()
            for chat in rt.chats_of(self.partition):
                if not self._owner():
                    return
                try:
                    await rt.publish(
                        tick(rt.fleet, chat, now, rt.rng, epoch=self.epoch), self.epoch
                    )
                except PiyasaError:
                    # The turn stays open in the ledger; its deadline ends it.
                    log.exception(
                        "publishing a chat's turns failed", extra={"chat_id": chat.chat_id}
                    )
                except Exception:
                    # One chat's bug must not stop its partition: log it, go on with the rest.
                    log.exception("ticking a chat failed", extra={"chat_id": chat.chat_id})
                rt.count_skipped(chat)
                wake = wake_at(rt.fleet, chat, now)
                if wake is not None:
                    delay = min(delay, max((wake - now).total_seconds(), 0.0))
                in_flight += chat.ledger.in_flight
                active += rt.is_active(chat)
                rt.report_pace(chat, now)
                paced.add(chat.chat_id)
            rt.report(self.partition, in_flight, active)
            rt.keep_paces(self.partition, paced)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)


class SchedulerRuntime:
    def __init__(
        self,
        *,
        settings: SchedulerSettings,
        fleet: FleetState,
        clock: Clock,
        publisher: Publisher,
        topology: Topology,
        keys: KeyStore | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.fleet = fleet
        self.clock = clock
        self.publisher = publisher
        self.topology = topology
        self.rng = rng or random.Random()  # seeded from the OS: turn ids must not repeat
        self.leases: PartitionLeases | None = None
        self._ctx: ServiceContext | None = None
        self._tickers: dict[int, PartitionTicker] = {}
        self._partitions: dict[str, int] = {}
        self._gauges: dict[int, _Gauges] = {}
        self._skipped: dict[str, int] = {}
        self._paces: dict[int, set[str]] = {}

    # -- wiring ------------------------------------------------------------------
    def wire(self, ctx: ServiceContext) -> None:
        """Register the followers and the partitioned consumer with the service runner."""
        self._ctx = ctx
        now = self.clock.now()
        window = timedelta(hours=self.settings.conversation_window_h)
        ctx.follow(self._follower(StreamRole.CONFIG, self.apply_config, StartAt.last_per_subject()))
        ctx.follow(
            self._follower(
                StreamRole.CONVERSATION, self.fleet.apply_conversation, StartAt.window(now - window)
            )
        )
        ctx.follow(self._requests_follower(None))
        self.leases = ctx.consume_partitions(
            SERVICE, self.handler_for, on_acquired=self._acquired, on_lost=self._lost
        )

    def _follower(self, role: StreamRole, apply: Apply, start: StartAt) -> StreamFollower:
        assert self._ctx is not None
        return StreamFollower(
            self._ctx.js,
            self.topology,
            stream=role,
            apply=apply,
            start=start,
            name=f"{SERVICE}:{role.value.lower()}",
        )

    def _requests_follower(self, partition: int | None) -> StreamFollower:
        """Generation requests of the last `scheduler_work_window_s`, of one partition or all."""
        assert self._ctx is not None
        token = "*" if partition is None else str(partition)
        since = self.clock.now() - timedelta(seconds=self.settings.scheduler_work_window_s)
        return StreamFollower(
            self._ctx.js,
            self.topology,
            stream=StreamRole.WORK,
            apply=self.fleet.apply_work,
            start=StartAt.window(since),
            filter_subject=f"{self.topology.prefix}.work.request.{token}.>",
            name=f"{SERVICE}:requests" + ("" if partition is None else f"-p{partition:03d}"),
        )

    def apply_config(self, event: Event, sequence: int) -> None:
        self.fleet.apply_config(event, sequence)
        if isinstance(event.payload, PersonErased) and self.keys is not None:
            self.keys.forget(event.payload.id)  # our cached key must not open their words

    async def reveal(self, chats: list[ChatState]) -> None:
        """Open the humans' lines still sealed in these chats (see `people`)."""
        if self.keys is None:
            return
        for chat in chats:
            for ref, sealed in list(chat.sealed.items()):
                try:
                    text = await self.keys.open(sealed.text)
                    name = await self.keys.open(sealed.name)
                    tid = await self.keys.open(sealed.telegram_id) if sealed.telegram_id else None
                except (nats.errors.Error, TimeoutError) as exc:
                    log.warning("opening sealed lines failed; next tick retries: %r", exc)
                    return
                self.fleet.reveal(chat.chat_id, ref, text, name, tid)

    # -- partitions ------------------------------------------------------------------
    def epoch(self, partition: int) -> int | None:
        return self.leases.epoch(partition) if self.leases is not None else None

    def partition_of(self, chat_id: str) -> int:
        found = self._partitions.get(chat_id)
        if found is None:
            found = self._partitions[chat_id] = self.topology.partition(chat_id)
        return found

    def chats_of(self, partition: int) -> list[ChatState]:
        return [
            c for c in list(self.fleet.chats.values()) if self.partition_of(c.chat_id) == partition
        ]

    async def reread_requests(self, partition: int) -> None:
        """Fold the partition's recent requests again, up to what the stream holds now."""
        follower = self._requests_follower(partition)
        try:
            await follower.start()
            await asyncio.wait_for(follower.caught_up.wait(), self.settings.drain_grace_s)
        except TimeoutError:
            log.warning("re-reading requests timed out", extra={"partition": partition})
        finally:
            await follower.stop()

    async def _acquired(self, partition: int, epoch: int) -> None:
        # Keep this quick: the lease loop waits for it. The ticker re-reads on its own.
        ticker = PartitionTicker(self, partition, epoch)
        self._tickers[partition] = ticker
        ticker.start()

    async def _lost(self, partition: int, epoch: int) -> None:
        ticker = self._tickers.pop(partition, None)
        if ticker is not None:
            await ticker.stop()
        self._gauges.pop(partition, None)
        self._set_gauges()

    def handler_for(self, partition: int, epoch: int) -> Handler:
        del epoch

        async def handle(event: Event, delivery: Delivery) -> None:
            self.fleet.apply_conversation(event, delivery.stream_sequence)
            metrics.count_outcome(event)
            ticker = self._tickers.get(partition)
            if ticker is not None:
                ticker.wake()

        return handle

    # -- output ------------------------------------------------------------------------
    async def publish(self, decisions: list[Decision], epoch: int) -> None:
        """Publish what a tick decided, in order, stamped with the partition's epoch."""
        for decision in decisions:
            envelope = envelope_for(decision, epoch)
            keys = envelope.keys
            with _tracer.start_as_current_span(f"schedule {envelope.type}") as span:
                span.set_attribute("piyasa.chat_id", keys.chat_id or "")
                span.set_attribute("piyasa.bot_id", keys.bot_id or "")
                span.set_attribute("piyasa.turn_id", keys.turn_id or "")
                await self.publisher.publish(envelope)
            metrics.count_decision(decision)
            log.info(
                envelope.type,
                extra={"chat_id": keys.chat_id, "bot_id": keys.bot_id, "turn_id": keys.turn_id},
            )

    def is_active(self, chat: ChatState) -> bool:
        """Configured, running and with bots: a chat this replica paces."""
        running = self.fleet.controls.of_chat(chat.chat_id) is ControlState.RUNNING
        return chat.config is not None and bool(chat.bot_ids) and running

    def count_skipped(self, chat: ChatState) -> None:
        seen = self._skipped.get(chat.chat_id, chat.pacer.skipped)
        if chat.pacer.skipped > seen:
            metrics.SLOTS_SKIPPED.inc(chat.pacer.skipped - seen)
        self._skipped[chat.chat_id] = chat.pacer.skipped

    def report_pace(self, chat: ChatState, now: datetime) -> None:
        """The chat's pace right now (0 when it is not paced), for the silent-chat alert."""
        pace = rhythm_of(self.fleet, chat).rate_at(now) * 3600.0 if self.is_active(chat) else 0.0
        metrics.CHAT_PACE.labels(chat.chat_id).set(pace)

    def keep_paces(self, partition: int, chat_ids: set[str]) -> None:
        """Drop the pace of the partition's chats that are gone (or all, when it moves)."""
        for gone in self._paces.get(partition, set()) - chat_ids:
            with contextlib.suppress(KeyError):
                metrics.CHAT_PACE.remove(gone)
        self._paces[partition] = chat_ids

    def report(self, partition: int, in_flight: int, active: int) -> None:
        self._gauges[partition] = _Gauges(in_flight, active)
        self._set_gauges()

    def _set_gauges(self) -> None:
        metrics.TURNS_IN_FLIGHT.set(sum(g.in_flight for g in self._gauges.values()))
        metrics.ACTIVE_CHATS.set(sum(g.active for g in self._gauges.values()))


__all__ = ["PartitionTicker", "SchedulerRuntime"]
