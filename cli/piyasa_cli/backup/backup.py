"""`piyasa backup`: PostgreSQL, then every stream and bucket, into one directory, atomically.

Order matters. The database is dumped first and the streams snapshotted after, so the
projector's positions in the dump are never ahead of the log in the snapshots: after a
restore the projector catches up on what happened in between, instead of skipping events
it believes it has applied. The backup is written into a hidden `.partial` directory that
is renamed to its final name only when every file and the manifest are on disk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from nats.aio.client import Client as NatsClient

from piyasa_cli.backup import pgtools
from piyasa_cli.backup.errors import BackupError
from piyasa_cli.backup.manifest import (
    DATABASE_FILE,
    FORMAT,
    NAME_PREFIX,
    STREAMS_DIR,
    DatabaseEntry,
    Manifest,
    StreamEntry,
    StreamKind,
    backups_in,
    sha256_of,
    write_manifest,
)
from piyasa_cli.backup.settings import BackupSettings
from piyasa_cli.backup.snapshots import StreamNotFound, snapshot_stream
from piyasa_cli.connection import nats_connection
from piyasa_common.clock import Clock
from piyasa_contracts import BUCKETS, STREAMS, Topology

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
STALE_PARTIAL = timedelta(days=1)


@dataclass(frozen=True)
class Infrastructure:
    """The NATS, PostgreSQL and name prefix a backup reads (the URLs stay out of its repr)."""

    nats_url: str = field(repr=False)
    database_url: str = field(repr=False)
    prefix: str


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: Manifest
    missing: tuple[str, ...]
    """Streams and buckets of the topology that did not exist (nothing to back up)."""
    pruned: tuple[Path, ...]
    seconds: float


def streams_of(topology: Topology) -> list[tuple[str, StreamKind]]:
    """Every stream and every KV bucket's stream (`KV_<bucket>`) of the topology, in order."""
    out = [(topology.stream(spec.role), StreamKind.STREAM) for spec in STREAMS]
    out += [(f"KV_{topology.bucket(spec.bucket)}", StreamKind.BUCKET) for spec in BUCKETS]
    return out


def piyasa_version() -> str:
    try:
        return version("piyasa")
    except PackageNotFoundError:
        return "unknown"


async def create_backup(
    source: Infrastructure,
    destination: Path,
    settings: BackupSettings,
    *,
    clock: Clock,
) -> BackupReport:
    """Back up `source` into a new directory under `destination`; returns what it wrote."""
    started = clock.monotonic()
    created_at = clock.now()
    topology = Topology(prefix=source.prefix)
    database = pgtools.Database.from_url(source.database_url)
    pg_dump = pgtools.find_tool("pg_dump", settings.pg_bin_dir)
    name = f"{NAME_PREFIX}{source.prefix}-{created_at.strftime('%Y%m%dT%H%M%SZ')}"
    final, partial = _start_directory(destination, name)
    try:
        async with nats_connection(source.nats_url, "piyasa-backup") as nc:
            # Reach NATS before the (long) dump, so a wrong URL fails in a second.
            server_version = _server_version(nc)
            database_entry = await _dump_database(pg_dump, database, partial)
            streams, missing = await _snapshot_streams(nc, topology, partial, settings)
        manifest = Manifest(
            format=FORMAT,
            piyasa_version=piyasa_version(),
            created_at=created_at,
            prefix=source.prefix,
            nats_server_version=server_version,
            streams=tuple(streams),
            database=database_entry,
        )
        _finish_directory(partial, final, manifest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    pruned = prune(destination, source.prefix, settings.backup_keep, clock=clock)
    return BackupReport(final, manifest, tuple(missing), tuple(pruned), clock.monotonic() - started)


async def _dump_database(
    tool: pgtools.PgTool, database: pgtools.Database, directory: Path
) -> DatabaseEntry:
    server = await pgtools.server_version(database)
    path = directory / DATABASE_FILE
    await pgtools.dump(tool, database, path)
    _fsync_file(path)
    return DatabaseEntry(
        file=DATABASE_FILE,
        size=path.stat().st_size,
        sha256=sha256_of(path),
        server_version=server,
        pg_dump_version=tool.version,
    )


async def _snapshot_streams(
    nc: NatsClient, topology: Topology, directory: Path, settings: BackupSettings
) -> tuple[list[StreamEntry], list[str]]:
    entries: list[StreamEntry] = []
    missing: list[str] = []
    for stream, kind in streams_of(topology):
        relative = f"{STREAMS_DIR}/{stream}.snapshot"
        try:
            snap = await snapshot_stream(
                nc,
                stream,
                directory / relative,
                idle_timeout_s=settings.backup_idle_timeout_s,
            )
        except StreamNotFound:
            (directory / relative).unlink(missing_ok=True)
            missing.append(stream)
            continue
        state = snap.state
        entries.append(
            StreamEntry(
                file=relative,
                size=snap.size,
                sha256=snap.sha256,
                name=stream,
                kind=kind,
                messages=int(state.get("messages", 0)),
                first_seq=int(state.get("first_seq", 0)),
                last_seq=int(state.get("last_seq", 0)),
                consumers=int(state.get("consumer_count", 0)),
                config=snap.config,
                state=state,
            )
        )
        log.info(
            "snapshot of %s: %d bytes, last sequence %s", stream, snap.size, entries[-1].last_seq
        )
    return entries, missing


def prune(destination: Path, prefix: str, keep: int | None, *, clock: Clock) -> list[Path]:
    """Delete all but the newest `keep` backups of `prefix`, and partial ones a day old."""
    removed: list[Path] = []
    now = clock.now().timestamp()
    for child in destination.glob(f".{NAME_PREFIX}*{PARTIAL_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - child.stat().st_mtime > STALE_PARTIAL.total_seconds():
                shutil.rmtree(child)
                removed.append(child)
    if keep is None:
        return removed
    ours = [path for path, manifest in backups_in(destination) if manifest.prefix == prefix]
    for path in ours[:-keep]:
        shutil.rmtree(path)
        removed.append(path)
    return removed


def _server_version(nc: NatsClient) -> str:
    try:
        found = nc.connected_server_version
        return f"{found.major}.{found.minor}.{found.patch}"
    except (AttributeError, ValueError):
        return "unknown"


def _start_directory(destination: Path, name: str) -> tuple[Path, Path]:
    """The backup's final path, and the hidden partial directory it is written into."""
    final = destination / name
    partial = destination / f".{name}{PARTIAL_SUFFIX}"
    try:
        destination.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise BackupError(f"{final} exists already")
        (partial / STREAMS_DIR).mkdir(parents=True)
    except OSError as err:
        raise BackupError(f"cannot write a backup into {destination}: {err}") from err
    return final, partial


def _finish_directory(partial: Path, final: Path, manifest: Manifest) -> None:
    """The manifest last, everything flushed, then the rename that makes it a backup."""
    write_manifest(partial, manifest)
    _fsync_directory(partial / STREAMS_DIR)
    _fsync_directory(partial)
    partial.rename(final)
    _fsync_directory(final.parent)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
