"""The service runner: the lifecycle every piyasa service shares.

    configure logs and tracing -> start /health and /metrics -> connect NATS
    -> provision -> the service's own setup -> fold state until caught up
    -> start consumers and leases -> ready -> ... SIGTERM -> drain -> exit 0

A service's `main.py` only builds its handlers and calls `Service(...).main()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from piyasa_common import metrics
from piyasa_common.clock import Clock, SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.consumer import ConsumerRunner, Fence, Handler
from piyasa_common.heartbeat import HeartbeatWriter
from piyasa_common.http import HealthServer
from piyasa_common.lag import ConsumerLagReporter, Durable
from piyasa_common.leases import EpochFence, PartitionLeases
from piyasa_common.logs import configure_logging
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_common.state import StreamFollower
from piyasa_common.telemetry import configure_tracing, shutdown_tracing
from piyasa_contracts import Topology

log = logging.getLogger(__name__)

_NATS_DRAIN_S = 5.0
"""Longest wait for the NATS connection to drain at the end of a stop."""

Setup = Callable[["ServiceContext"], Awaitable[None]]


@dataclass
class ServiceContext:
    """What a service's setup gets to wire its handlers with."""

    name: str
    settings: BackboneSettings
    clock: Clock
    nc: NATS
    js: JetStreamContext
    topology: Topology
    publisher: Publisher
    health: HealthServer
    followers: list[StreamFollower] = field(default_factory=list)
    consumers: list[ConsumerRunner] = field(default_factory=list)
    leases: list[PartitionLeases] = field(default_factory=list)
    fences: list[EpochFence] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    gates: list[CatchUpGate] = field(default_factory=list)
    _partitioned: dict[tuple[str, int], ConsumerRunner] = field(default_factory=dict)

    def catch_up(
        self, name: str, done: asyncio.Event, lag: Callable[[], int] | None = None
    ) -> None:
        """Hold readiness until `done` is set: state the service folds by its own means
        (the projector's Postgres-positioned loops) counts like a follower's."""
        self.gates.append(CatchUpGate(name, done, lag or (lambda: 0)))

    def follow(self, follower: StreamFollower) -> StreamFollower:
        """Fold a stream into state; the service is ready once it caught up."""
        self.followers.append(follower)
        return follower

    def consume(
        self,
        consumer: str,
        handler: Handler,
        *,
        fence: Fence | None = None,
        concurrency: int | None = None,
    ) -> ConsumerRunner:
        """Run a handler over a shared (unpartitioned) durable consumer."""
        spec = self.topology.consumer_spec(consumer)
        runner = ConsumerRunner(
            js=self.js,
            publisher=self.publisher,
            settings=self.settings,
            clock=self.clock,
            stream=spec.stream,
            durable=self.topology.durable_name(spec),
            handler=handler,
            label=spec.name,
            fence=fence,
            concurrency=concurrency,
        )
        self.consumers.append(runner)
        return runner

    def consume_partitions(
        self,
        consumer: str,
        handler_for: Callable[[int, int], Handler],
        *,
        fence: Fence | None = None,
        on_acquired: Callable[[int, int], Awaitable[None]] | None = None,
        on_lost: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> PartitionLeases:
        """Consume a partitioned durable only for the partitions this replica leases.

        `handler_for(partition, epoch)` builds the handler for one partition;
        the epoch is what the handler stamps on what it emits.
        """
        spec = self.topology.consumer_spec(consumer)

        async def acquired(partition: int, epoch: int) -> None:
            if on_acquired is not None:
                await on_acquired(partition, epoch)
            runner = ConsumerRunner(
                js=self.js,
                publisher=self.publisher,
                settings=self.settings,
                clock=self.clock,
                stream=spec.stream,
                durable=self.topology.durable_name(spec, partition),
                handler=handler_for(partition, epoch),
                label=spec.name,
                fence=fence,
                holds=lambda: leases.epoch(partition) == epoch,
            )
            self._partitioned[(consumer, partition)] = runner
            runner.start()

        async def lost(partition: int, epoch: int) -> None:
            runner = self._partitioned.pop((consumer, partition), None)
            if runner is not None:
                await runner.stop(grace_s=self.settings.drain_grace_s)
            if on_lost is not None:
                await on_lost(partition, epoch)

        leases = PartitionLeases(
            self.js,
            self.topology,
            service=self.name,
            instance=self.settings.instance_id,
            ttl_s=self.settings.lease_ttl_s,
            clock=self.clock,
            on_acquired=acquired,
            on_lost=lost,
        )
        self.leases.append(leases)
        return leases

    def fence(self, producer_service: str) -> EpochFence:
        """Know the current lease epochs of another service's partitions."""
        fence = EpochFence(self.js, self.topology, producer_service)
        self.fences.append(fence)
        return fence

    def running_consumers(self) -> list[ConsumerRunner]:
        """Every consumer runner this replica has: shared ones, and the partitions it holds."""
        return [*self.consumers, *self._partitioned.values()]

    def durables(self) -> list[Durable]:
        """(stream, durable) of every consumer this replica pulls or is about to pull."""
        return [(runner.stream, runner.durable) for runner in self.running_consumers()]

    def lag(self) -> int:
        return sum(f.pending for f in self.followers) + sum(g.lag() for g in self.gates)

    def waits(self) -> list[tuple[str, asyncio.Event]]:
        """Everything the service must have caught up with before it is ready."""
        return [(f.name, f.caught_up) for f in self.followers] + [
            (g.name, g.done) for g in self.gates
        ]


@dataclass(frozen=True)
class CatchUpGate:
    name: str
    done: asyncio.Event
    lag: Callable[[], int]


class Service:
    def __init__(
        self,
        name: str,
        settings: BackboneSettings,
        setup: Setup,
        *,
        version: str = "0.1.0",
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._setup = setup
        self._version = version
        self._clock = clock or SystemClock()
        self._stop = asyncio.Event()
        self._ready = False
        self.context: ServiceContext | None = None

    @property
    def ready(self) -> bool:
        return self._ready

    def request_stop(self) -> None:
        self._stop.set()

    def main(self) -> NoReturn:
        """Process entry point: uvloop when available, exit code from run()."""
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        sys.exit(asyncio.run(self.run()))

    async def run(self) -> int:
        settings = self.settings
        configure_logging(self.name, settings.log_level)
        configure_tracing(
            self.name,
            otlp_endpoint=settings.otlp_endpoint,
            sample_ratio=settings.trace_sample_ratio,
        )
        started = self._clock.monotonic()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)

        health = HealthServer(self.name)
        health.add_check("nats", lambda: self.context is not None and self.context.nc.is_connected)
        health.add_check("caught_up", lambda: self._ready)
        await health.start(settings.http_host, settings.http_port)

        nc = await connect(settings.nats_url, f"{self.name}:{settings.instance_id}")
        js = jetstream(nc)
        await provision(js, settings)
        ctx = ServiceContext(
            name=self.name,
            settings=settings,
            clock=self._clock,
            nc=nc,
            js=js,
            topology=settings.topology(),
            publisher=Publisher(js, settings.topology()),
            health=health,
        )
        self.context = ctx
        await self._setup(ctx)
        lag = ConsumerLagReporter(js, ctx.durables, interval_s=settings.consumer_lag_interval_s)
        lag.start()  # during catch-up too: the backlog is what grows meanwhile

        for fence in ctx.fences:
            await fence.start()
        for follower in ctx.followers:
            await follower.start()
        await self._wait_caught_up(ctx)
        for runner in ctx.consumers:
            runner.start()
        for leases in ctx.leases:
            await leases.start()

        heartbeat = HeartbeatWriter(
            js,
            ctx.topology,
            service=self.name,
            instance=settings.instance_id,
            version=self._version,
            clock=self._clock,
            interval_s=settings.heartbeat_interval_s,
            status=lambda: (self._ready, ctx.lag()),
            extra=lambda: _heartbeat_extra(health),
        )
        self._ready = True
        metrics.SERVICE_READY.labels(self.name).set(1)
        metrics.STARTUP_SECONDS.labels(self.name).set(self._clock.monotonic() - started)
        heartbeat.start()
        log.info(
            "ready",
            extra={
                "startup_s": round(self._clock.monotonic() - started, 3),
                "http_port": health.port,
            },
        )

        await self._stop.wait()
        await self._drain(ctx, heartbeat, lag, health)
        return 0

    async def _wait_caught_up(self, ctx: ServiceContext) -> None:
        for name, done in ctx.waits():
            log.info("catching up", extra={"with": name})
            waiter = asyncio.create_task(done.wait())
            stopper = asyncio.create_task(self._stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, stopper):
                task.cancel()

    async def _drain(
        self,
        ctx: ServiceContext,
        heartbeat: HeartbeatWriter,
        lag: ConsumerLagReporter,
        health: HealthServer,
    ) -> None:
        """Stop fetching, finish or nak in-flight work, release leases, flush, exit."""
        log.info("draining")
        self._ready = False
        metrics.SERVICE_READY.labels(self.name).set(0)
        grace = self.settings.drain_grace_s
        # Every consumer at once, the partitions held included: one grace period for all of
        # them, instead of one per partition when each lease's release stops its own.
        await asyncio.gather(*(runner.stop(grace) for runner in ctx.running_consumers()))
        for leases in ctx.leases:
            await leases.stop()
        for callback in ctx.on_stop:
            await callback()
        for follower in ctx.followers:
            await follower.stop()
        for fence in ctx.fences:
            await fence.stop()
        await heartbeat.stop()
        await lag.stop()
        shutdown_tracing()
        # Everything was stopped above: what is left to drain is bookkeeping. Bounded, as
        # nats-py waits up to 30 s for a subscription that will not drain.
        try:
            await asyncio.wait_for(ctx.nc.drain(), _NATS_DRAIN_S)
        except Exception:
            log.warning("NATS did not drain in time; closing", exc_info=True)
            with contextlib.suppress(Exception):
                await ctx.nc.close()
        await health.stop()
        log.info("stopped")


def _heartbeat_extra(health: HealthServer) -> dict[str, Any]:
    import os

    return {"http_port": health.port, "pid": os.getpid()}
