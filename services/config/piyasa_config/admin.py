"""What operators run from the command line (`piyasa admin|fleet|secrets ...`), without HTTP.

These talk to NATS and PostgreSQL directly, like `piyasa dlq`: whoever can
reach them already holds the keys to the kingdom. Events they write carry the
actor `cli:<user>`.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from piyasa_common.clock import Clock, SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_config.auth.roles import Role
from piyasa_config.auth.store import AuthStore, IssuedKey, NewOperator
from piyasa_config.domain.fleet import from_yaml, to_yaml
from piyasa_config.schema import migrate
from piyasa_config.secrets import RotationReport, TokenVault, load_keys, multi_fernet
from piyasa_config.settings import ConfigSettings, sqlalchemy_url
from piyasa_config.store.bots import BotWrites
from piyasa_config.store.chats import ChatWrites
from piyasa_config.store.events import EventStore
from piyasa_config.store.fleet import FleetOps, FleetReport
from piyasa_config.store.reservations import Reservations
from piyasa_config.store.writer import Writer


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@dataclass(frozen=True)
class CreatedAdmin:
    operator: NewOperator
    key: IssuedKey | None


async def create_operator(
    database_url: str,
    username: str,
    role: Role,
    password: str | None,
    *,
    with_key: bool,
    clock: Clock | None = None,
) -> CreatedAdmin:
    """An operator (the first admin, typically), and optionally an API key for them."""
    await migrate(database_url)
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        auth = AuthStore(engine, session_ttl=timedelta(minutes=15))
        now = (clock or SystemClock()).now()
        operator = await auth.create_operator(username, role, password, now=now)
        key = (
            await auth.issue_api_key(operator.operator_id, "created by piyasa admin", now=now)
            if with_key
            else None
        )
        return CreatedAdmin(operator, key)
    finally:
        await engine.dispose()


@asynccontextmanager
async def _fleet(settings: ConfigSettings) -> AsyncIterator[tuple[FleetOps, TokenVault]]:
    nc = await connect(settings.nats_url, f"piyasa-cli:{settings.instance_id}")
    try:
        js = jetstream(nc)
        await provision(js, settings)
        topology = settings.topology()
        events = EventStore(js, Publisher(js, topology), topology, SystemClock())
        writer = Writer(events)
        reservations = Reservations(js, topology)
        vault = TokenVault(js, topology, multi_fernet(load_keys(settings)))
        bots = BotWrites(writer, vault, reservations)
        chats = ChatWrites(writer, bots, reservations)
        yield FleetOps(js, topology, writer, bots, chats), vault
    finally:
        await nc.close()


async def export_fleet(settings: ConfigSettings) -> str:
    async with _fleet(settings) as (fleet, _):
        return to_yaml(await fleet.export())


async def import_fleet(settings: ConfigSettings, text: str) -> FleetReport:
    document = from_yaml(text)
    async with _fleet(settings) as (fleet, _):
        return await fleet.import_(document, actor=cli_actor())


async def rotate_secrets(settings: ConfigSettings) -> RotationReport:
    """Re-encrypt every stored bot token with the newest configured Fernet key."""
    async with _fleet(settings) as (_, vault):
        return await vault.rotate()
