"""Backups of a laptop's `piyasa up` while it is stopped, and restores into a new state directory.

With neither NATS_URL nor DATABASE_URL set and no `piyasa up` running on the state directory,
`piyasa backup` and `piyasa restore` start the embedded NATS and PostgreSQL on that directory
themselves (holding its lock, so `piyasa up` cannot start meanwhile), and stop them afterwards.
A restore into a fresh directory followed by `piyasa up --state-dir` brings a backup up on the
Telegram sandbox, never on real groups: the monthly drill in docs/operations.md does that.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from piyasa_cli.backup.errors import BackupError
from piyasa_cli.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedServerError
from piyasa_cli.state import StateDir, UpLock


@dataclass(frozen=True)
class EmbeddedUrls:
    nats_url: str
    database_url: str


def has_data(state: StateDir) -> bool:
    """Whether `piyasa up` has ever stored data in this state directory."""
    return (state.root / "postgres" / "data" / "PG_VERSION").is_file() and (
        state.root / "nats"
    ).is_dir()


@contextlib.asynccontextmanager
async def embedded_infrastructure(state: StateDir, database: str) -> AsyncIterator[EmbeddedUrls]:
    """The state directory's NATS and PostgreSQL, running until the block ends.

    `database` (the name prefix, as `piyasa up` names it) is created when missing.
    """
    state.prepare()
    lock = UpLock(state)
    lock.acquire()
    nats = EmbeddedNats(state.root)
    postgres = EmbeddedPostgres(state.root)
    try:
        try:
            await nats.start()
            await postgres.start()
            url = await postgres.create_database(database)
        except (EmbeddedServerError, OSError, asyncpg.PostgresError) as err:
            raise BackupError(f"cannot start the embedded servers in {state.root}: {err}") from err
        yield EmbeddedUrls(nats.url, url)
    finally:
        with contextlib.suppress(Exception):
            await postgres.stop()
        with contextlib.suppress(Exception):
            await nats.stop()
        lock.release()
