"""Bounded start-up: fold a service's state from the log without replaying history.

A stateful service loads
  - the last config event per subject (CONFIG carries full aggregate state),
  - a time window of conversation (or everything after its own snapshot),
then follows both streams live, and is ready only once it has caught up with
what the streams held when it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api
from nats.js.errors import KeyNotFoundError

from piyasa_common import metrics
from piyasa_contracts import Bucket, ContractError, StreamRole, Topology, decode
from piyasa_contracts.registry import Event

log = logging.getLogger(__name__)

Apply = Callable[[Event, int], None]
"""Folds one event (with its stream sequence) into the state; must be idempotent."""


@dataclass(frozen=True)
class StartAt:
    """Where a follower begins."""

    policy: api.DeliverPolicy
    since: datetime | None = None
    after_sequence: int | None = None

    @classmethod
    def last_per_subject(cls) -> StartAt:
        return cls(api.DeliverPolicy.LAST_PER_SUBJECT)

    @classmethod
    def window(cls, since: datetime) -> StartAt:
        return cls(api.DeliverPolicy.BY_START_TIME, since=since)

    @classmethod
    def after(cls, sequence: int) -> StartAt:
        return cls(api.DeliverPolicy.BY_START_SEQUENCE, after_sequence=sequence)

    @classmethod
    def everything(cls) -> StartAt:
        return cls(api.DeliverPolicy.ALL)


class StreamFollower:
    """An ordered consumer that folds one stream (or part of it) into state."""

    def __init__(
        self,
        js: JetStreamContext,
        topology: Topology,
        *,
        stream: StreamRole,
        apply: Apply,
        start: StartAt,
        filter_subject: str | None = None,
        name: str | None = None,
    ) -> None:
        self._js = js
        self._stream = topology.stream(stream)
        self._filter = filter_subject or topology.stream_subjects(stream)
        self._apply = apply
        self._start = start
        self.name = name or f"follow:{stream.value}"
        self.caught_up = asyncio.Event()
        self.position = 0
        self.pending = 0
        self.applied = 0
        self.skipped = 0
        self._sub: Subscription | None = None

    async def start(self) -> None:
        config = api.ConsumerConfig(
            deliver_policy=self._start.policy,
            opt_start_time=self._start.since,
            opt_start_seq=(
                self._start.after_sequence + 1 if self._start.after_sequence is not None else None
            ),
        )
        self._sub = await self._js.subscribe(
            self._filter,
            stream=self._stream,
            cb=self._on_msg,
            ordered_consumer=True,
            config=config,
            pending_msgs_limit=65_536,
        )
        info = await self._sub.consumer_info()
        self.pending = info.num_pending or 0
        if self.pending == 0:
            self.caught_up.set()

    async def _on_msg(self, msg: Msg) -> None:
        md = msg.metadata
        self.position = md.sequence.stream
        self.pending = md.num_pending
        try:
            event = decode(msg.data)
        except ContractError as exc:
            # A follower cannot park shared messages; durable consumers do that.
            self.skipped += 1
            metrics.EVENTS_CONSUMED.labels(self.name, "unknown", "skipped").inc()
            log.warning("follower skipped an unreadable event: %s", exc)
        else:
            self._apply(event, md.sequence.stream)
            self.applied += 1
        if md.num_pending == 0:
            self.caught_up.set()

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()


class SnapshotStore:
    """A service's state snapshot with the stream sequence it covers."""

    def __init__(self, js: JetStreamContext, topology: Topology, key: str) -> None:
        self._js = js
        self._bucket = topology.bucket(Bucket.SNAPSHOTS)
        self._key = key

    async def save(self, sequence: int, state: dict[str, Any]) -> None:
        kv = await self._js.key_value(self._bucket)
        body = zlib.compress(json.dumps({"sequence": sequence, "state": state}).encode())
        await kv.put(self._key, body)

    async def load(self) -> tuple[int, dict[str, Any]] | None:
        kv = await self._js.key_value(self._bucket)
        try:
            entry = await kv.get(self._key)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        data = json.loads(zlib.decompress(entry.value))
        return int(data["sequence"]), dict(data["state"])
