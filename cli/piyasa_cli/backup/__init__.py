"""Backups of piyasa: PostgreSQL through pg_dump, JetStream through the server's snapshots.

`create_backup` writes one directory (see `manifest`); `restore_backup` loads it into empty
infrastructure. The JetStream side uses the server's stream snapshot and restore API
(`snapshots`), so every stream and KV bucket comes back at the same sequences: the config
API's ETags, KV revisions (lease epochs), durable consumers' positions and the projector's
positions all stay true.
"""

from piyasa_cli.backup.backup import BackupReport, Infrastructure, create_backup, streams_of
from piyasa_cli.backup.errors import (
    BackupError,
    BackupInvalid,
    NotEmpty,
    ServicesRunning,
    ToolFailed,
)
from piyasa_cli.backup.manifest import Manifest, StreamEntry, locate, read_manifest
from piyasa_cli.backup.restore import RestoreReport, restore_backup
from piyasa_cli.backup.settings import BackupSettings

__all__ = [
    "BackupError",
    "BackupInvalid",
    "BackupReport",
    "BackupSettings",
    "Infrastructure",
    "Manifest",
    "NotEmpty",
    "RestoreReport",
    "ServicesRunning",
    "StreamEntry",
    "ToolFailed",
    "create_backup",
    "locate",
    "read_manifest",
    "restore_backup",
    "streams_of",
]
