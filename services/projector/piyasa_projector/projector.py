"""The projector: one loop per projected stream, plus a Postgres health probe.

CONFIG, CONVERSATION and DEADLETTER are projected; WORK is not (it is kept
days, and nothing an operator reads is derived from it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from nats.js import JetStreamContext

from piyasa_common.clock import Clock
from piyasa_common.publisher import Publisher
from piyasa_contracts import StreamRole, Topology
from piyasa_projector.store import ProjectionStore
from piyasa_projector.stream import LoopOptions, StreamProjection

log = logging.getLogger(__name__)

PROJECTED: Final[tuple[tuple[StreamRole, str], ...]] = (
    (StreamRole.CONFIG, "projector-config"),
    (StreamRole.CONVERSATION, "projector-conversation"),
    (StreamRole.DEADLETTER, "projector-deadletter"),
)
"""Each projected stream and the consumer name its dead letters and metrics carry."""


def stream_projections(
    *,
    js: JetStreamContext,
    store: ProjectionStore,
    topology: Topology,
    clock: Clock,
    options: LoopOptions,
    publisher: Publisher | None,
) -> list[StreamProjection]:
    """One loop per projected stream. The dead-letter stream never parks into itself."""
    return [
        StreamProjection(
            js=js,
            store=store,
            topology=topology,
            role=role,
            consumer=consumer,
            clock=clock,
            options=options,
            publisher=publisher if role is not StreamRole.DEADLETTER else None,
        )
        for role, consumer in PROJECTED
    ]


class Projector:
    """Runs the stream loops as tasks until `stop`."""

    def __init__(
        self,
        projections: list[StreamProjection],
        store: ProjectionStore,
        *,
        probe_interval_s: float,
    ) -> None:
        self.projections = projections
        self._store = store
        self._probe_interval_s = probe_interval_s
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def caught_up(self) -> bool:
        """Every stream applied up to where it ended when the projector started."""
        return all(p.caught_up.is_set() for p in self.projections)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(p.run(self._stop), name=f"project:{p.stream}")
            for p in self.projections
        ]
        self._tasks.append(
            asyncio.create_task(
                self._store.watch(self._stop, self._probe_interval_s), name="projector:postgres"
            )
        )

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let each loop finish its batch (an idle fetch returns within its timeout)."""
        self._stop.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in pending:
            task.cancel()  # an uncommitted transaction rolls back; nothing is lost
        if pending:
            await asyncio.wait(pending)
        log.info("projector stopped", extra={"positions": self.positions()})

    def positions(self) -> dict[str, int]:
        return {p.stream: p.position for p in self.projections}
