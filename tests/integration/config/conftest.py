"""The config API against the session's real NATS and PostgreSQL, with the projector
running in-process so that `?wait=projected` and reads after writes work.

Each test gets its own name prefix and database. `api.as_(role)` is an HTTP
client (in-process ASGI) authenticated with an API key of that role.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from piyasa_cli.embedded.postgres import create_database, drop_database
from piyasa_common.clock import SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_config.api.app import create_app
from piyasa_config.api.state import AppState
from piyasa_config.auth.roles import Role
from piyasa_config.bootstrap import build_state, database_engine, open_postgres
from piyasa_config.schema import migrate as migrate_config
from piyasa_config.settings import ConfigSettings
from piyasa_config.store.pg import Postgres
from piyasa_contracts import StreamRole, Topology
from piyasa_projector.projector import Projector, stream_projections
from piyasa_projector.schema import migrate as migrate_projections
from piyasa_projector.store import ProjectionStore
from piyasa_projector.stream import LoopOptions
from tests.support.backbone import settings_for

pytestmark = pytest.mark.integration

BOT_TOKEN = "7012345678:AAF3kZr9Qx2Lm8Vt5Wp1Ys6Hd4Jc7Nb0Ue9"
OTHER_TOKEN = "7098765432:AAH1gTy6Rb3Mn9Kx2Pq7Wz5Lc8Vf4Jd0Ys1"


def config_settings(
    nats_url: str, prefix: str, database_url: str, **overrides: Any
) -> ConfigSettings:
    values = settings_for(nats_url, prefix).model_dump()
    values.update(
        database_url=database_url,
        fernet_keys=Fernet.generate_key().decode(),
        write_rate_per_minute=100_000,
        login_rate_per_minute=1000,
        http_port=0,
    )
    values.update(overrides)
    return ConfigSettings(**values)


@dataclass
class Api:
    settings: ConfigSettings
    nc: NATS
    js: JetStreamContext
    engine: AsyncEngine
    state: AppState
    app: FastAPI
    pg: Postgres
    keys: dict[Role, str] = field(default_factory=dict)
    operator_ids: dict[Role, str] = field(default_factory=dict)
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def topology(self) -> Topology:
        return self.state.topology

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://config.test",
            headers=headers or {},
        )
        self._clients.append(client)
        return client

    def as_(self, role: Role) -> httpx.AsyncClient:
        return self.client({"X-API-Key": self.keys[role]})

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.as_(Role.ADMIN)

    @property
    def operator(self) -> httpx.AsyncClient:
        return self.as_(Role.OPERATOR)

    @property
    def viewer(self) -> httpx.AsyncClient:
        return self.as_(Role.VIEWER)

    def stream(self, role: StreamRole) -> str:
        return self.topology.stream(role)

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
        await self.pg.close()


async def start_api(settings: ConfigSettings, publisher: Publisher | None = None) -> Api:
    """The config API as its service starts, with one operator and API key per role."""
    api = await serve_api(settings, publisher)
    for role in Role:
        new = await api.state.auth.create_operator(
            f"{role.value}-user", role, None, now=api.state.clock.now()
        )
        issued = await api.state.auth.issue_api_key(
            new.operator_id, "tests", now=api.state.clock.now()
        )
        api.keys[role] = issued.key
        api.operator_ids[role] = new.operator_id
    return api


async def serve_api(
    settings: ConfigSettings, publisher: Publisher | None = None, name: str = "config-tests"
) -> Api:
    """The config API as its service starts: provision, migrate, serve (no operators)."""
    nc = await connect(settings.nats_url, name)
    js = jetstream(nc)
    await provision(js, settings)
    await migrate_projections(settings.database_url)
    await migrate_config(settings.database_url)
    engine = database_engine(settings)
    pg = await open_postgres(settings)
    state = build_state(
        settings,
        js=js,
        publisher=publisher or Publisher(js, settings.topology()),
        engine=engine,
        pg=pg,
        clock=SystemClock(),
    )
    return Api(settings, nc, js, engine, state, create_app(state), pg)


@asynccontextmanager
async def running_projector(settings: ConfigSettings) -> AsyncIterator[Projector]:
    """The projector, in-process, on the same prefix and database."""
    nc = await connect(settings.nats_url, "config-tests-projector")
    store = await ProjectionStore.open(settings.database_url)
    options = LoopOptions(batch_size=500, fetch_timeout_s=0.2, inactive_s=2.0, retry_delay_s=0.1)
    js = jetstream(nc)
    projector = Projector(
        stream_projections(
            js=js,
            store=store,
            topology=settings.topology(),
            clock=SystemClock(),
            options=options,
            publisher=Publisher(js, settings.topology()),
        ),
        store,
        probe_interval_s=0.5,
    )
    projector.start()
    try:
        yield projector
    finally:
        await projector.stop(grace_s=5.0)
        await store.close()
        await nc.close()


@asynccontextmanager
async def api_with_projector(settings: ConfigSettings) -> AsyncIterator[Api]:
    api = await start_api(settings)
    try:
        async with running_projector(settings):
            yield api
    finally:
        await api.close()
        await api.engine.dispose()
        await api.nc.close()


@pytest.fixture
async def api(nats_url: str, prefix: str, fresh_database: str) -> AsyncIterator[Api]:
    async with api_with_projector(config_settings(nats_url, prefix, fresh_database)) as api:
        yield api


@pytest.fixture(scope="module")
async def shared_api(nats_url: str, database_url: str) -> AsyncIterator[Api]:
    """One API for a whole module, for tests that only read or never collide."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = await create_database(database_url, name)
    try:
        settings = config_settings(nats_url, f"t{uuid.uuid4().hex[:10]}", url)
        async with api_with_projector(settings) as api:
            yield api
    finally:
        await drop_database(database_url, name)
