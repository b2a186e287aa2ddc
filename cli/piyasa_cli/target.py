"""What the operator commands talk to: NATS (and PostgreSQL) from the environment or run.json.

`NATS_URL` / `DATABASE_URL` / `PIYASA_NAME_PREFIX` win; else the run file of the
`piyasa up` that holds the state directory now.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext

from piyasa_cli.connection import nats_connection
from piyasa_cli.errors import NotRunning
from piyasa_cli.runfile import RunInfo, read_run_info
from piyasa_cli.settings import CliSettings, default_state_dir
from piyasa_cli.state import StateDir, is_locked
from piyasa_contracts import Topology

DEFAULT_PREFIX = "piyasa"


@dataclass(frozen=True)
class Target:
    state: StateDir
    settings: CliSettings
    run: RunInfo | None
    """The run file of the `piyasa up` running on the state directory now, if one is."""

    @property
    def nats_url(self) -> str:
        if self.settings.nats_url is not None:
            return self.settings.nats_url
        if self.run is not None:
            return self.run.nats_url
        raise NotRunning(self._nothing_running("NATS_URL"))

    @property
    def database_url(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url
        if self.run is not None:
            return self.run.database_url
        raise NotRunning(self._nothing_running("DATABASE_URL"))

    @property
    def prefix(self) -> str:
        if self.settings.name_prefix is not None:
            return self.settings.name_prefix
        return self.run.prefix if self.run is not None else DEFAULT_PREFIX

    def topology(self) -> Topology:
        return Topology(prefix=self.prefix)

    def _nothing_running(self, variable: str) -> str:
        return (
            f"piyasa up is not running on {self.state.root} and {variable} is not set "
            "(start `piyasa up`, pass its --state-dir, or set the variable)"
        )


def resolve_target(settings: CliSettings, state_dir: Path | None) -> Target:
    state = StateDir(state_dir or default_state_dir(configured=settings.state_dir))
    run = read_run_info(state.run_file) if is_locked(state) else None
    return Target(state, settings, run)


@contextlib.asynccontextmanager
async def jetstream(target: Target) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on the target's NATS, closed afterwards (fails within seconds,
    and never prints the URL's password)."""
    async with nats_connection(target.nats_url, "piyasa-cli") as nc:
        yield nc.jetstream(timeout=5)
