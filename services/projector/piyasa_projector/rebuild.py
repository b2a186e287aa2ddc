"""Rebuild: empty the projections and replay the log into them.

`piyasa projections rebuild` calls `rebuild()`. It empties exactly
`PROJECTION_TABLES` and the positions in one transaction, then replays every
projected stream from its first message to its last sequence as of the
start, with the live projector's own code, so a rebuilt table equals the
live one.

The replay writes nothing to the log: a message that cannot be read was
parked when the live projector first passed it, and its dead letter is
replayed from the dead-letter stream like any other event.

Running it beside a live projector is safe (both serialise on the position
rows, and the live one restarts from the reset position), but slower than
with the projector stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from piyasa_common.clock import Clock, SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.settings import BackboneSettings
from piyasa_projector.projector import stream_projections
from piyasa_projector.schema import migrate
from piyasa_projector.store import ProjectionStore
from piyasa_projector.stream import LoopOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RebuildReport:
    events: Mapping[str, int]
    """Events applied, by stream."""
    rows: Mapping[str, int]
    """Rows written, by table."""
    skipped: int
    """Unreadable messages passed over (they were parked when first seen)."""
    positions: Mapping[str, int]
    seconds: float

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def events_per_second(self) -> float:
        return self.total_events / self.seconds if self.seconds > 0 else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0


async def rebuild(
    settings: BackboneSettings,
    database_url: str,
    *,
    batch_size: int = 500,
    clock: Clock | None = None,
) -> RebuildReport:
    """Empty the projection tables and replay CONFIG, CONVERSATION and DEADLETTER into them."""
    clock = clock or SystemClock()
    await migrate(database_url)
    nc = await connect(settings.nats_url, f"projector-rebuild:{settings.instance_id}")
    try:
        store = await ProjectionStore.open(database_url)
        try:
            started = clock.monotonic()
            await store.reset()
            projections = stream_projections(
                js=jetstream(nc),
                store=store,
                topology=settings.topology(),
                clock=clock,
                options=LoopOptions(batch_size=batch_size, fetch_timeout_s=0.5),
                publisher=None,
            )
            await _all_or_none([p.catch_up() for p in projections])
            seconds = clock.monotonic() - started
        finally:
            await store.close()
    finally:
        await nc.close()
    rows: Counter[str] = Counter()
    for p in projections:
        rows.update(p.rows)
    report = RebuildReport(
        events={p.stream: p.events for p in projections},
        rows=dict(rows),
        skipped=sum(p.skipped for p in projections),
        positions={p.stream: p.position for p in projections},
        seconds=seconds,
    )
    log.info(
        "projections rebuilt",
        extra={
            "events": report.total_events,
            "rows": report.total_rows,
            "seconds": round(seconds, 3),
            "events_per_s": round(report.events_per_second),
        },
    )
    return report


async def _all_or_none(work: list[Coroutine[Any, Any, None]]) -> None:
    """Run concurrently; on the first failure cancel the rest and raise that failure."""
    tasks = [asyncio.create_task(w) for w in work]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in done:
        failure = task.exception()
        if failure is not None:
            raise failure
