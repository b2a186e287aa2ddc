"""Partition leases in a KV bucket with per-message TTLs.

A replica owns partition p of a service while the key `<service>.p<NNN>` in
the leases bucket holds its name and has not expired. The key's revision when
the lease was taken is the replica's **epoch** for that partition: it rides
in everything the replica emits for the partition, and downstream readers
reject output stamped with an epoch older than the partition's current one
(`EpochFence`), so a paused-then-resumed old owner cannot act twice.

Trap (see NATS.md): `kv.update` has no TTL and would make the key permanent;
renewals publish to the bucket subject with `msg_ttl` and the expected last
subject sequence instead.

Replicas announce themselves with member keys (also TTL'd) and each aims at
ceil(P / members) partitions, so partitions spread and move on their own
when a replica joins, leaves or dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import (
    APIError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from piyasa_common import metrics
from piyasa_common.clock import Clock
from piyasa_common.kvread import kv_entries, kv_keys
from piyasa_common.tasks import cancel_task
from piyasa_contracts import Bucket, Topology

log = logging.getLogger(__name__)

PartitionCallback = Callable[[int, int], Awaitable[None]]
"""Called with (partition, epoch)."""


@dataclass(frozen=True, slots=True)
class Lease:
    partition: int
    epoch: int
    revision: int
    renewed_at: float


def lease_key(service: str, partition: int) -> str:
    return f"{service}.p{partition:03d}"


def member_key(service: str, instance: str) -> str:
    return f"{service}.m.{instance}"


class PartitionLeases:
    """Acquires, renews and releases this replica's share of a service's partitions."""

    def __init__(
        self,
        js: JetStreamContext,
        topology: Topology,
        *,
        service: str,
        instance: str,
        ttl_s: int,
        clock: Clock,
        on_acquired: PartitionCallback | None = None,
        on_lost: PartitionCallback | None = None,
    ) -> None:
        if ttl_s < 2:
            raise ValueError("lease TTL must be at least 2 s (NATS expires on a ~1 s tick)")
        self._js = js
        self._bucket_name = topology.bucket(Bucket.LEASES)
        self._partitions = topology.partitions
        self._service = service
        self._instance = _safe_token(instance)
        self._ttl = ttl_s
        self._clock = clock
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._owned: dict[int, Lease] = {}
        self._kv: KeyValue | None = None
        self._member_rev = 0
        self._task: asyncio.Task[None] | None = None
        self._leaving: dict[int, asyncio.Task[None]] = {}
        """Partitions being handed over (their `on_lost` runs): not taken again meanwhile."""
        self._releasing: dict[int, Lease] = {}
        """The leases of partitions being released: still renewed until their work ends."""
        self._stopping = asyncio.Event()
        self._settled = asyncio.Event()

    # -- public face ---------------------------------------------------------
    @property
    def owned(self) -> dict[int, Lease]:
        return dict(self._owned)

    def epoch(self, partition: int) -> int | None:
        """This replica's epoch for a partition, or None if it does not hold it
        (or its lease may already have expired: it then must not act)."""
        lease = self._owned.get(partition) or self._releasing.get(partition)
        if lease is None or self._clock.monotonic() - lease.renewed_at >= self._ttl:
            return None
        return lease.epoch

    async def start(self) -> None:
        self._kv = await self._js.key_value(self._bucket_name)
        await self.tick()
        self._task = asyncio.create_task(self._loop(), name=f"leases:{self._service}")

    async def wait_settled(self) -> None:
        """Wait until a balancing round left this replica with its fair share."""
        await self._settled.wait()

    async def stop(self) -> None:
        """Release every lease so that the others take over without waiting for TTLs."""
        self._stopping.set()
        await cancel_task(self._task)
        for partition in list(self._owned):
            self._release(partition)
        # Every partition at once (a drain is bounded by the slowest), their leases
        # renewed meanwhile so that nobody takes one before its work has ended.
        while self._leaving:
            await asyncio.wait(list(self._leaving.values()), timeout=self._renew_every())
            for partition in list(self._releasing):
                await self._renew(partition)
        with contextlib.suppress(Exception):
            await self._kv_or_raise().purge(member_key(self._service, self._instance))

    # -- the balancing round -------------------------------------------------
    def _renew_every(self) -> float:
        return max(self._ttl / 3, 0.5)

    async def _loop(self) -> None:
        interval = self._renew_every()
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
            if self._stopping.is_set():
                return
            try:
                await self.tick()
            except Exception:
                log.exception("lease round failed")

    async def tick(self) -> None:
        """One round: heartbeat membership, renew, then acquire or shed to the fair share."""
        await self._announce()
        for partition in [*self._owned, *self._releasing]:
            await self._renew(partition)
        members = await self._members()
        share = math.ceil(self._partitions / max(1, members))
        holders = await self._holders()
        if len(self._owned) > share:
            for partition in sorted(self._owned, reverse=True)[: len(self._owned) - share]:
                self._release(partition)
        free = [p for p in range(self._partitions) if p not in holders and p not in self._leaving]
        # Start from an instance-specific offset so replicas don't race for the same keys.
        offset = hash(self._instance) % self._partitions
        free.sort(key=lambda p: (p - offset) % self._partitions)
        for partition in free:
            if len(self._owned) >= share:
                break
            await self._acquire(partition)
        metrics.LEASE_PARTITIONS_OWNED.labels(self._service).set(len(self._owned))
        if len(self._owned) >= share or not free:
            self._settled.set()

    async def _announce(self) -> None:
        kv = self._kv_or_raise()
        key = member_key(self._service, self._instance)
        subject = f"$KV.{self._bucket_name}.{key}"
        ack = await self._js.publish(subject, self._instance.encode(), msg_ttl=self._ttl)
        self._member_rev = ack.seq
        del kv

    async def _members(self) -> int:
        return len(await self._keys(f"{self._service}.m."))

    async def _holders(self) -> set[int]:
        prefix = f"{self._service}.p"
        return {int(k[len(prefix) :]) for k in await self._keys(prefix)}

    async def _keys(self, prefix: str) -> list[str]:
        self._kv_or_raise()
        keys = await kv_keys(self._js, self._bucket_name, f"{self._service}.>")
        return [k for k in keys if k.startswith(prefix)]

    async def _acquire(self, partition: int) -> None:
        kv = self._kv_or_raise()
        value = json.dumps({"owner": self._instance}).encode()
        key = lease_key(self._service, partition)
        asked_at = self._clock.monotonic()  # see `_renew`
        try:
            revision: int | None = await kv.create(key, value, msg_ttl=self._ttl)
        except KeyWrongLastSequenceError:
            # An expired lease leaves a marker for about a second; `create`
            # refuses to replace it, a publish expecting its revision does not.
            revision = await self._replace_marker(kv, key, value)
        if revision is None:
            return  # a live owner holds it
        lease = Lease(partition, revision, revision, asked_at)
        self._owned[partition] = lease
        metrics.LEASE_CHANGES.labels(self._service, "acquired").inc()
        log.info("lease acquired", extra={"partition": partition, "epoch": revision})
        if self._on_acquired is not None:
            await self._on_acquired(partition, revision)

    async def _replace_marker(self, kv: KeyValue, key: str, value: bytes) -> int | None:
        try:
            entry: KeyValue.Entry | None = await kv.get(key)
        except KeyDeletedError as exc:  # a purged lease: its marker is the last entry
            entry = exc.entry
        except KeyNotFoundError:
            return None
        if entry is None or entry.value or entry.revision is None:
            return None
        try:
            ack = await self._js.publish(
                f"$KV.{self._bucket_name}.{key}",
                value,
                msg_ttl=self._ttl,
                headers={"Nats-Expected-Last-Subject-Sequence": str(entry.revision)},
            )
        except APIError:
            return None
        return ack.seq

    async def _renew(self, partition: int) -> None:
        releasing = partition in self._releasing
        leases = self._releasing if releasing else self._owned
        lease = leases.get(partition)
        if lease is None:
            return
        # The server's TTL runs from when it stores the renewal, which is after this:
        # counting from here, the replica never believes in a lease the server has let go.
        asked_at = self._clock.monotonic()
        subject = f"$KV.{self._bucket_name}.{lease_key(self._service, partition)}"
        value = json.dumps({"owner": self._instance, "epoch": lease.epoch}).encode()
        try:
            ack = await self._js.publish(
                subject,
                value,
                msg_ttl=self._ttl,
                headers={"Nats-Expected-Last-Subject-Sequence": str(lease.revision)},
            )
        except APIError as exc:
            log.warning("lease renewal refused: %s", exc)
            if releasing:
                self._releasing.pop(partition, None)  # the key is not ours to purge any more
            else:
                self._lose(partition)
            return
        if leases.get(partition) is lease:  # not handed over or lost meanwhile
            leases[partition] = Lease(partition, lease.epoch, ack.seq, asked_at)

    def _release(self, partition: int) -> None:
        """Hand a partition over: this replica's work on it ends first (`on_lost`: stop
        fetching, finish what is in flight), then the key goes, so the next owner never
        works beside it and finds everything this replica persisted.

        The handover runs in the background: a slow one must not hold up the renewals of
        the partitions this replica keeps (they would expire, and move, meanwhile)."""
        lease = self._owned.pop(partition, None)
        if lease is not None:
            self._releasing[partition] = lease
            self._leave(partition, lease, purge=True)

    def _leave(self, partition: int, lease: Lease, *, purge: bool) -> None:
        async def handover() -> None:
            try:
                if self._on_lost is not None:
                    await self._on_lost(partition, lease.epoch)
            except Exception:
                log.exception("partition handover failed", extra={"partition": partition})
            finally:
                if purge:
                    kept = self._releasing.pop(partition, None)
                    if kept is not None:  # else the key is another replica's by now
                        await self._purge_if_ours(partition, kept.revision)
                    metrics.LEASE_CHANGES.labels(self._service, "released").inc()

        task = asyncio.create_task(handover(), name=f"leases:{self._service}:p{partition}")
        self._leaving[partition] = task
        task.add_done_callback(lambda _: self._leaving.pop(partition, None))

    async def _purge_if_ours(self, partition: int, revision: int) -> None:
        """Purge the lease key unless it changed since our last renewal: a slow `on_lost`
        may have outlived the TTL, and the key may be another replica's by now."""
        subject = f"$KV.{self._bucket_name}.{lease_key(self._service, partition)}"
        with contextlib.suppress(APIError):
            await self._js.publish(
                subject,
                b"",
                headers={
                    "KV-Operation": "PURGE",
                    "Nats-Rollup": "sub",
                    "Nats-Expected-Last-Subject-Sequence": str(revision),
                },
            )

    def _lose(self, partition: int) -> None:
        lease = self._owned.pop(partition, None)
        if lease is None:
            return
        metrics.LEASE_CHANGES.labels(self._service, "lost").inc()
        log.warning("lease lost", extra={"partition": partition, "epoch": lease.epoch})
        self._leave(partition, lease, purge=False)

    def _kv_or_raise(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("leases not started")
        return self._kv


class EpochFence:
    """Knows each partition's current epoch by watching the leases bucket.

    `is_stale(partition, epoch)` is true when a newer owner has taken the
    partition since `epoch` was issued; the last epoch seen is kept after a
    lease expires, so a dead owner's late output stays rejected.
    """

    def __init__(self, js: JetStreamContext, topology: Topology, service: str) -> None:
        self._js = js
        self._bucket = topology.bucket(Bucket.LEASES)
        self._service = service
        self._current: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._watcher: KeyValue.KeyWatcher | None = None

    async def start(self) -> None:
        """Follow the leases, then read the current ones exactly before answering: the
        watch's own "initial values done" can come before the values under load."""
        kv = await self._js.key_value(self._bucket)
        # NATS wildcards match whole tokens only: watch the service, filter here.
        watcher = await kv.watch(f"{self._service}.>", include_history=False)
        self._watcher = watcher
        self._task = asyncio.create_task(self._follow(watcher), name=f"fence:{self._service}")
        for entry in (await kv_entries(self._js, self._bucket, f"{self._service}.>")).values():
            self._seen(entry.key, entry.value, entry.revision)

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None or entry.operation is not None or not entry.value:
                continue  # the end of the initial values, deletes, expiry markers
            self._seen(entry.key, entry.value, entry.revision or 0)

    def _seen(self, key: str, value: bytes, revision: int) -> None:
        """A lease record; members and unreadable records are no epoch."""
        prefix = f"{self._service}.p"
        if not key.startswith(prefix):
            return
        try:
            data = json.loads(value)
            epoch = int(data.get("epoch", revision))
            partition = int(key[len(prefix) :])
        except (ValueError, AttributeError):
            return
        if epoch > self._current.get(partition, 0):
            self._current[partition] = epoch

    def current(self, partition: int) -> int | None:
        return self._current.get(partition)

    def is_stale(self, partition: int, epoch: int | None) -> bool:
        if epoch is None:
            return False
        current = self._current.get(partition)
        return current is not None and epoch < current

    async def stop(self) -> None:
        await cancel_task(self._task)
        if self._watcher is not None:  # its subscription too, or draining NATS waits on it
            with contextlib.suppress(Exception):
                await self._watcher.stop()  # type: ignore[no-untyped-call]


def _safe_token(value: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in value)[:100]
