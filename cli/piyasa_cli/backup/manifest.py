"""A backup on disk: one directory, its `manifest.json`, and the files the manifest lists.

    piyasa-<prefix>-<UTC time>/
        manifest.json               written last: a directory without it is not a backup
        postgres.dump               pg_dump --format=custom of the whole database
        streams/<stream>.snapshot   the JetStream snapshot of each stream and KV bucket

The manifest records, for every file, its size and SHA-256 (checked before a restore
touches anything), and for every stream its configuration and state as the server
reported them when the snapshot began: the last sequence is what a restore must find.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from piyasa_cli.backup.errors import BackupInvalid

FORMAT: Final = 1
"""The layout's version; a restore refuses a newer one."""
MANIFEST: Final = "manifest.json"
DATABASE_FILE: Final = "postgres.dump"
STREAMS_DIR: Final = "streams"
NAME_PREFIX: Final = "piyasa-"


class StreamKind(StrEnum):
    STREAM = "stream"
    BUCKET = "bucket"


class _Model(BaseModel):
    # Readers ignore fields a later version adds, as everywhere in piyasa.
    model_config = ConfigDict(frozen=True, extra="ignore")


class StoredFile(_Model):
    file: str = Field(description="Path inside the backup directory, `/`-separated")
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("file")
    @classmethod
    def _inside(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValueError(f"{value!r} is not a path inside the backup")
        return value


class StreamEntry(StoredFile):
    name: str
    kind: StreamKind
    messages: int = Field(ge=0)
    first_seq: int = Field(ge=0)
    last_seq: int = Field(ge=0)
    consumers: int = Field(ge=0)
    config: dict[str, Any] = Field(description="The stream's configuration, as the server gave it")
    state: dict[str, Any] = Field(description="The stream's state when the snapshot began")


class DatabaseEntry(StoredFile):
    format: Literal["pg_dump-custom"] = "pg_dump-custom"
    server_version: str
    pg_dump_version: str


class Manifest(_Model):
    format: int = Field(ge=1)
    piyasa_version: str
    created_at: datetime
    prefix: str
    nats_server_version: str
    streams: tuple[StreamEntry, ...]
    database: DatabaseEntry

    def files(self) -> list[StoredFile]:
        return [*self.streams, self.database]


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """manifest.json, flushed to disk: the last file of a backup."""
    path = directory / MANIFEST
    with path.open("w", encoding="utf-8") as out:
        out.write(manifest.model_dump_json(indent=2))
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupInvalid(f"{directory} is not a backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as err:
        raise BackupInvalid(f"cannot read {path}: {err}") from err
    if isinstance(raw, dict) and isinstance(raw.get("format"), int) and raw["format"] > FORMAT:
        raise BackupInvalid(
            f"{directory} has backup format {raw['format']}; this piyasa reads up to {FORMAT}"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as err:
        raise BackupInvalid(f"{path} is not a valid manifest: {err}") from err


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify_files(directory: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there with its size and checksum (blocking: hashes)."""
    for entry in manifest.files():
        path = directory / entry.file
        try:
            size = path.stat().st_size
        except OSError as err:
            raise BackupInvalid(f"{directory}: {entry.file} is missing ({err})") from err
        if size != entry.size:
            raise BackupInvalid(
                f"{directory}: {entry.file} has {size} bytes, the manifest says {entry.size}"
            )
        if sha256_of(path) != entry.sha256:
            raise BackupInvalid(f"{directory}: {entry.file} does not match its checksum")


def backups_in(directory: Path) -> list[tuple[Path, Manifest]]:
    """The complete backups directly inside `directory`, oldest first (unreadable ones skipped)."""
    found: list[tuple[Path, Manifest]] = []
    try:
        children = sorted(directory.iterdir())
    except OSError:
        return []
    for child in children:
        if child.name.startswith(NAME_PREFIX) and (child / MANIFEST).is_file():
            try:
                found.append((child, read_manifest(child)))
            except BackupInvalid:
                continue
    found.sort(key=lambda item: (item[1].created_at, item[0].name))
    return found


def locate(path: Path) -> Path:
    """`path` itself when it is a backup, else the newest complete backup inside it."""
    if (path / MANIFEST).is_file():
        return path
    if not path.is_dir():
        raise BackupInvalid(f"{path} is neither a backup nor a directory of backups")
    found = backups_in(path)
    if not found:
        raise BackupInvalid(f"{path} holds no complete backup (a directory with {MANIFEST})")
    return found[-1][0]
