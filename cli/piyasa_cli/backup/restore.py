"""`piyasa restore`: a backup into empty NATS and PostgreSQL; streams first, then the database.

Before anything is written the backup's files are checked against the manifest, and the
target must be empty: none of the backup's streams may exist and the database may hold no
table. `force` replaces what is there (the streams are deleted, `pg_restore --clean`
drops the dump's objects first), but never while services still send heartbeats: they would
write into the log while it is being replaced.

Streams are restored before the database, and the projector's restored positions are then
checked against the restored streams: a position past a stream's last sequence would make
the projector skip events, so the restore says so (rebuild the projections) instead of
finishing quietly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from piyasa_cli.backup import pgtools
from piyasa_cli.backup.errors import BackupError, NotEmpty, ServicesRunning, ToolFailed
from piyasa_cli.backup.manifest import (
    Manifest,
    StreamEntry,
    locate,
    read_manifest,
    verify_files,
)
from piyasa_cli.backup.settings import BackupSettings
from piyasa_cli.backup.snapshots import restore_stream
from piyasa_cli.connection import nats_connection
from piyasa_common.clock import Clock
from piyasa_common.heartbeat import read_heartbeats
from piyasa_contracts import Topology

LIVE_HEARTBEAT = timedelta(seconds=60)
"""A heartbeat younger than this means the service still runs (they beat every few seconds)."""


@dataclass(frozen=True)
class RestoredStream:
    name: str
    messages: int
    last_seq: int


@dataclass(frozen=True)
class RestoreReport:
    source: Path
    manifest: Manifest
    streams: tuple[RestoredStream, ...]
    replaced: tuple[str, ...] = ()
    """What --force replaced: streams, and `database` when it held tables."""
    positions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Occupied:
    streams: tuple[str, ...]
    tables: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.streams and not self.tables

    def describe(self) -> str:
        parts = []
        if self.streams:
            shown = ", ".join(self.streams[:4])
            more = f" and {len(self.streams) - 4} more" if len(self.streams) > 4 else ""
            parts.append(f"streams {shown}{more}")
        if self.tables:
            more = "…" if len(self.tables) >= 5 else ""
            parts.append("database tables " + ", ".join(self.tables) + more)
        return "; ".join(parts)


async def restore_backup(
    path: Path,
    nats_url: str,
    database_url: str,
    settings: BackupSettings,
    *,
    prefix: str | None,
    force: bool,
    replicas: int | None,
    clock: Clock,
) -> RestoreReport:
    """Restore the backup at `path` (or the newest backup in that directory).

    `prefix` is the target's name prefix when one is configured: it must be the backup's
    (names and subjects carry it); None takes the backup's.
    """
    started = clock.monotonic()
    source = locate(path)
    manifest = read_manifest(source)
    if prefix is not None and manifest.prefix != prefix:
        raise BackupError(
            f"{source} is a backup of prefix {manifest.prefix!r}, the target's is "
            f"{prefix!r} (set PIYASA_NAME_PREFIX={manifest.prefix})"
        )
    await asyncio.to_thread(verify_files, source, manifest)
    database = pgtools.Database.from_url(database_url)
    pg_restore = pgtools.find_tool("pg_restore", settings.pg_bin_dir)
    async with nats_connection(nats_url, "piyasa-restore") as nc:
        js = nc.jetstream(timeout=10)
        occupied = await _check_target(js, database, manifest, clock.now(), force=force)
        for name in occupied.streams:
            await js.delete_stream(name)
        restored = [
            await _restore_one(nc, source, entry, settings, replicas) for entry in manifest.streams
        ]
    await pgtools.restore(pg_restore, database, source / manifest.database.file, clean=force)
    positions = await pgtools.projection_positions(database)
    last = {stream.name: stream.last_seq for stream in restored}
    ahead = [
        f"{stream} at {position} (the log ends at {last.get(stream, 0)})"
        for stream, position in sorted(positions.items())
        if position > last.get(stream, 0)
    ]
    if ahead:
        raise BackupError(
            "restored, but the projections are ahead of the log: "
            + "; ".join(ahead)
            + ". Run `piyasa projections rebuild` before starting the services."
        )
    replaced = occupied.streams + (("database",) if occupied.tables else ())
    return RestoreReport(
        source, manifest, tuple(restored), replaced, positions, clock.monotonic() - started
    )


async def _check_target(
    js: JetStreamContext,
    database: pgtools.Database,
    manifest: Manifest,
    now: datetime,
    *,
    force: bool,
) -> Occupied:
    """What of the backup's is already there; raises when restoring over it is not allowed."""
    running = await live_services(js, Topology(prefix=manifest.prefix), now)
    if running:
        raise ServicesRunning(
            "services are running against the target (heartbeats from "
            + ", ".join(running)
            + "): stop them before restoring"
        )
    occupied = Occupied(
        tuple([e.name for e in manifest.streams if await _exists(js, e.name)]),
        tuple(await pgtools.user_relations(database)),
    )
    if not occupied.empty and not force:
        raise NotEmpty(
            f"the target is not empty ({occupied.describe()}): restore only into empty "
            "NATS and PostgreSQL, or pass --force to replace them"
        )
    return occupied


async def _restore_one(
    nc: NatsClient,
    source: Path,
    entry: StreamEntry,
    settings: BackupSettings,
    replicas: int | None,
) -> RestoredStream:
    config: dict[str, Any] = dict(entry.config)
    if replicas is not None:
        config["num_replicas"] = replicas
    state = await restore_stream(
        nc,
        entry.name,
        config,
        entry.state,
        source / entry.file,
        chunk_timeout_s=settings.backup_idle_timeout_s,
        finish_timeout_s=settings.restore_finish_timeout_s,
    )
    last_seq = int(state.get("last_seq", 0))
    if last_seq != entry.last_seq:
        raise ToolFailed(
            f"restore of {entry.name}: the server holds sequence {last_seq} as the last, "
            f"the backup {entry.last_seq}"
        )
    return RestoredStream(entry.name, int(state.get("messages", 0)), last_seq)


async def live_services(js: JetStreamContext, topology: Topology, now: datetime) -> list[str]:
    """`service/instance` of every replica whose heartbeat is recent."""
    try:
        beats = await read_heartbeats(js, topology)
    except NotFoundError:
        return []
    live = []
    for beat in beats:
        try:
            at = datetime.fromisoformat(beat.at)
        except ValueError:
            continue
        if at.tzinfo is not None and now - at < LIVE_HEARTBEAT:
            live.append(f"{beat.service}/{beat.instance}")
    return live


async def _exists(js: JetStreamContext, stream: str) -> bool:
    try:
        await js.stream_info(stream)
    except NotFoundError:
        return False
    return True
