"""Each replica's heartbeat in a KV bucket: readiness, lag and version.

The dashboard and `piyasa status` read these, since services never call each
other. Keys carry a TTL, so a dead replica disappears on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from nats.js import JetStreamContext

from piyasa_common.clock import Clock
from piyasa_common.kvread import kv_entries
from piyasa_common.tasks import cancel_task
from piyasa_contracts import Bucket, Topology

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    service: str
    instance: str
    version: str
    ready: bool
    lag: int
    started_at: str
    at: str
    http_port: int | None = None
    pid: int | None = None


class HeartbeatWriter:
    def __init__(
        self,
        js: JetStreamContext,
        topology: Topology,
        *,
        service: str,
        instance: str,
        version: str,
        clock: Clock,
        interval_s: float,
        status: Callable[[], tuple[bool, int]],
        extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._js = js
        self._subject = f"$KV.{topology.bucket(Bucket.HEARTBEATS)}.{service}.{_token(instance)}"
        self._service = service
        self._instance = instance
        self._version = version
        self._clock = clock
        self._interval = interval_s
        self._status = status
        self._extra = extra or dict
        self._started_at = clock.now().isoformat()
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> None:
        ready, lag = self._status()
        beat = Heartbeat(
            service=self._service,
            instance=self._instance,
            version=self._version,
            ready=ready,
            lag=lag,
            started_at=self._started_at,
            at=self._clock.now().isoformat(),
            **self._extra(),
        )
        ttl = max(2, int(self._interval * 3))
        await self._js.publish(self._subject, json.dumps(asdict(beat)).encode(), msg_ttl=ttl)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="heartbeat")

    async def _loop(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        await cancel_task(self._task)
        # Best effort and short: the key's TTL removes it anyway, and a drain
        # must not wait on a server that is going away.
        with contextlib.suppress(Exception):
            await self._js.publish(
                self._subject,
                b"",
                timeout=1.0,
                headers={"KV-Operation": "PURGE", "Nats-Rollup": "sub"},
            )


async def read_heartbeats(js: JetStreamContext, topology: Topology) -> list[Heartbeat]:
    """Every live replica's last heartbeat."""
    entries = await kv_entries(js, topology.bucket(Bucket.HEARTBEATS))
    beats: list[Heartbeat] = []
    for key in sorted(entries):
        with contextlib.suppress(ValueError, TypeError):  # a beat from another release
            beats.append(Heartbeat(**json.loads(entries[key].value)))
    return beats


def _token(value: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in value)[:100]
