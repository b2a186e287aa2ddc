"""`<state>/run.json`: what `piyasa up` runs and where, for the other commands.

Written atomically (temporary file, then rename) whenever a pid changes, and
kept after a clean stop (pids cleared, `stopped_at` set) so that the next
`piyasa up` on the same state directory reuses its ports when they are free.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from piyasa_cli.errors import CliError


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ServerInfo(_Model):
    """NATS or PostgreSQL: embedded (ours) or external (from the environment)."""

    embedded: bool
    url: str
    port: int | None = None
    pid: int | None = None
    log: str | None = None


class ProcessInfo(_Model):
    pid: int | None = None
    restarts: int = 0
    started_at: datetime | None = None
    log: str


class RunInfo(_Model):
    format: Literal[1] = 1
    supervisor_pid: int | None
    state_dir: str
    prefix: str
    started_at: datetime
    ready_after_s: float | None = None
    """Seconds from start until every service reported ready, once they did."""
    stopped_at: datetime | None = None
    nats: ServerInfo
    postgres: ServerInfo
    api_url: str | None = None
    """The config API (and its dashboard), when the config service runs."""
    telegram_url: str | None = None
    """The Telegram sandbox's page, unless --live."""
    services: dict[str, ProcessInfo]

    @property
    def nats_url(self) -> str:
        return self.nats.url

    @property
    def database_url(self) -> str:
        return self.postgres.url


def read_run_info(path: Path) -> RunInfo | None:
    """The recorded run, or None when there is no file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CliError(f"cannot read {path}: {err}") from err
    try:
        return RunInfo.model_validate_json(text)
    except ValidationError as err:
        raise CliError(f"{path} is not a piyasa run file: {err}") from err


def write_run_info(path: Path, info: RunInfo) -> None:
    """Replace the file atomically: readers see the old or the new version, never half."""
    fd, tmp = tempfile.mkstemp(prefix=".run.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(info.model_dump_json(indent=2))
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
