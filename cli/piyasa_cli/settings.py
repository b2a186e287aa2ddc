"""The CLI's settings: one typed object read once from the environment.

The infrastructure variables are the ones DESIGN.md names (`NATS_URL`,
`DATABASE_URL`); the rest use the `PIYASA_` prefix that the services share.
Like the services, a `.env` file in the working directory is read too. An
empty variable counts as unset.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP = "piyasa"
ROOT_STATE_DIR = Path("/var/lib/piyasa")


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIYASA_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    state_dir: Path | None = Field(None, description="PIYASA_STATE_DIR; see default_state_dir.")
    nats_url: str | None = Field(None, validation_alias=AliasChoices("NATS_URL", "PIYASA_NATS_URL"))
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "PIYASA_DATABASE_URL")
    )
    name_prefix: str | None = Field(None, description="PIYASA_NAME_PREFIX")

    # supervisor
    api_port: int = Field(
        8080,
        ge=1,
        le=65535,
        description="PIYASA_API_PORT: the config API's port under `piyasa up` (any free "
        "port when this one is taken).",
    )
    stop_grace_s: float = Field(
        30.0, gt=0, le=600, description="How long services get to drain after SIGTERM."
    )
    restart_initial_s: float = Field(0.5, gt=0, le=60)
    restart_max_s: float = Field(30.0, gt=0, le=3600)
    restart_reset_after_s: float = Field(
        30.0, gt=0, le=3600, description="Uptime after which a crash counts as the first again."
    )

    @field_validator("state_dir", "nats_url", "database_url", "name_prefix", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


def running_as_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


def default_state_dir(*, configured: Path | None = None, as_root: bool | None = None) -> Path:
    """Where `piyasa up` keeps its data when `--state-dir` is not given.

    `PIYASA_STATE_DIR` if set; else `/var/lib/piyasa` for root, because embedded
    PostgreSQL as root makes every parent of its data directory o+rx (a state
    directory under /root would open /root to every local user); else the
    platform's per-user data directory (`~/.local/share/piyasa` on Linux).
    """
    if configured is not None:
        return configured.expanduser()
    if running_as_root() if as_root is None else as_root:
        return ROOT_STATE_DIR
    return platformdirs.user_data_path(APP, appauthor=False)
