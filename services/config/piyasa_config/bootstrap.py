"""Build everything the API needs from a NATS connection, a database and settings."""

from __future__ import annotations

from datetime import timedelta

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from piyasa_common.clock import Clock
from piyasa_common.publisher import Publisher
from piyasa_common.sealing import DataKeys
from piyasa_config.api.ratelimit import RateLimits
from piyasa_config.api.state import AppState
from piyasa_config.auth.store import AuthStore
from piyasa_config.secrets import TokenVault, load_keys, multi_fernet
from piyasa_config.settings import ConfigSettings, sqlalchemy_url
from piyasa_config.store.bots import BotWrites
from piyasa_config.store.chats import ChatWrites
from piyasa_config.store.events import EventStore
from piyasa_config.store.fleet import FleetOps
from piyasa_config.store.pg import Postgres
from piyasa_config.store.reads import ProjectionReader
from piyasa_config.store.reservations import Reservations
from piyasa_config.store.writer import Writer


def database_engine(settings: ConfigSettings) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(settings.database_url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_timeout_s,
        pool_pre_ping=False,
        connect_args={"command_timeout": settings.db_timeout_s},
    )


async def open_postgres(settings: ConfigSettings) -> Postgres:
    return await Postgres.open(
        settings.database_url, size=settings.db_pool_size, timeout_s=settings.db_timeout_s
    )


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool without BEGIN/ROLLBACK around each statement: one round trip per read
    instead of three (reads of single statements need no transaction)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def build_state(
    settings: ConfigSettings,
    *,
    js: JetStreamContext,
    publisher: Publisher,
    engine: AsyncEngine,
    pg: Postgres,
    clock: Clock,
) -> AppState:
    topology = settings.topology()
    events = EventStore(js, publisher, topology, clock)
    writer = Writer(events)
    reservations = Reservations(js, topology)
    vault = TokenVault(js, topology, multi_fernet(load_keys(settings)))
    bots = BotWrites(writer, vault, reservations)
    chats = ChatWrites(writer, bots, reservations)
    return AppState(
        settings=settings,
        clock=clock,
        js=js,
        topology=topology,
        events=events,
        writer=writer,
        bots=bots,
        chats=chats,
        fleet=FleetOps(js, topology, writer, bots, chats, sandbox_tokens=settings.sandbox_tokens),
        reader=ProjectionReader(autocommit(engine), pg),
        auth=AuthStore(engine, session_ttl=timedelta(seconds=settings.session_ttl_s), pg=pg),
        vault=vault,
        datakeys=DataKeys(js, topology),
        limits=RateLimits(
            writes_per_minute=settings.write_rate_per_minute,
            logins_per_minute=settings.login_rate_per_minute,
        ),
    )
