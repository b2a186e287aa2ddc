"""Consumer lag per durable consumer, read from JetStream's consumer info.

The service runner refreshes it every `PIYASA_CONSUMER_LAG_INTERVAL_S`, in a
task of its own, off the message path: a handler never waits for it. For each
durable the replica pulls right now (its shared consumers, and the partitions
of a partitioned one whose lease it holds) it sets

    piyasa_consumer_lag{consumer}          num_pending + num_ack_pending
    piyasa_consumer_ack_pending{consumer}  num_ack_pending
    piyasa_consumer_redelivered{consumer}  num_redelivered

`consumer` is the durable's name from the topology (`guard`,
`dispatcher-p007`), so the label set is bounded by `piyasa_contracts`. A
partition this replica gave up has its series removed at the next refresh,
so only its current owner reports it.

A consumer-info call that fails (a timeout, NATS reconnecting, the consumer
not provisioned yet) is logged once per failing streak and tried again at
the next refresh; the last value stays exported meanwhile, and the service
carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Final, Protocol

from nats.js.api import ConsumerInfo

from piyasa_common import metrics
from piyasa_common.tasks import cancel_task

log = logging.getLogger(__name__)

INFO_TIMEOUT_S: Final = 2.0
"""One consumer-info request; a slower server makes the refresh late, never the handlers."""

Durable = tuple[str, str]
"""(stream name, durable consumer name)."""


class ConsumerInfoSource(Protocol):
    """What the reporter needs from `nats.js.JetStreamContext`."""

    async def consumer_info(
        self, stream: str, consumer: str, timeout: float | None = None
    ) -> ConsumerInfo: ...


class ConsumerLagReporter:
    """Keeps the consumer gauges current for the durables `durables()` names."""

    def __init__(
        self,
        js: ConsumerInfoSource,
        durables: Callable[[], Iterable[Durable]],
        *,
        interval_s: float,
    ) -> None:
        self._js = js
        self._durables = durables
        self._interval = interval_s
        self._reported: set[str] = set()
        self._failing: set[str] = set()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="consumer-lag")

    async def stop(self) -> None:
        """Stop refreshing and withdraw this replica's series (it no longer pulls them)."""
        self._stopping.set()
        await cancel_task(self._task)
        for durable in list(self._reported):
            _remove(durable)
        self._reported.clear()

    async def refresh(self) -> None:
        """Read every current durable's info once and set its gauges."""
        current = {durable: stream for stream, durable in self._durables()}
        for durable in self._reported - current.keys():
            _remove(durable)
        self._reported &= current.keys()
        for durable, stream in current.items():
            try:
                info = await self._js.consumer_info(stream, durable, timeout=INFO_TIMEOUT_S)
            except Exception as exc:
                if durable not in self._failing:
                    self._failing.add(durable)
                    log.warning(
                        "consumer info unavailable; lag not refreshed, retrying: %r",
                        exc,
                        extra={"consumer": durable},
                    )
                continue
            if durable in self._failing:
                self._failing.discard(durable)
                log.info("consumer info available again", extra={"consumer": durable})
            pending = info.num_pending or 0
            ack_pending = info.num_ack_pending or 0
            metrics.CONSUMER_LAG.labels(durable).set(pending + ack_pending)
            metrics.CONSUMER_ACK_PENDING.labels(durable).set(ack_pending)
            metrics.CONSUMER_REDELIVERED.labels(durable).set(info.num_redelivered or 0)
            self._reported.add(durable)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.refresh()
            except Exception:
                # `durables()` is the service's own state; whatever went wrong there must
                # not end the refreshes (or the service).
                log.exception("consumer lag refresh failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)


def _remove(durable: str) -> None:
    for gauge in (
        metrics.CONSUMER_LAG,
        metrics.CONSUMER_ACK_PENDING,
        metrics.CONSUMER_REDELIVERED,
    ):
        with contextlib.suppress(KeyError):
            gauge.remove(durable)
