"""A projector against the session's real NATS and PostgreSQL: one prefix and one
database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from piyasa_common.clock import SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_contracts import Envelope, StreamRole, Topology
from piyasa_projector.projector import Projector, stream_projections
from piyasa_projector.schema import POSITIONS, PROJECTION_TABLES, metadata, migrate
from piyasa_projector.settings import ProjectorSettings
from piyasa_projector.store import ProjectionStore
from piyasa_projector.stream import LoopOptions, StreamProjection
from tests.support.backbone import settings_for

pytestmark = pytest.mark.integration


def projector_settings(
    nats_url: str, prefix: str, database_url: str, **overrides: Any
) -> ProjectorSettings:
    values = settings_for(nats_url, prefix).model_dump()
    values.update(
        database_url=database_url,
        fetch_timeout_s=0.2,
        retry_delay_s=0.1,
        consumer_inactive_s=2.0,
        db_probe_interval_s=0.5,
    )
    values.update(overrides)
    return ProjectorSettings(**values)


@dataclass
class Harness:
    settings: ProjectorSettings
    nc: NATS
    js: JetStreamContext
    topology: Topology
    publisher: Publisher
    store: ProjectionStore

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    def options(self, **overrides: Any) -> LoopOptions:
        values: dict[str, Any] = {
            "batch_size": self.settings.batch_size,
            "fetch_timeout_s": self.settings.fetch_timeout_s,
            "inactive_s": self.settings.consumer_inactive_s,
            "retry_delay_s": self.settings.retry_delay_s,
            "newer_version_delay_s": self.settings.newer_version_delay_s,
        }
        values.update(overrides)
        return LoopOptions(**values)

    def projections(self, **overrides: Any) -> list[StreamProjection]:
        return stream_projections(
            js=self.js,
            store=self.store,
            topology=self.topology,
            clock=SystemClock(),
            options=self.options(**overrides),
            publisher=self.publisher,
        )

    @asynccontextmanager
    async def running(self, **overrides: Any) -> AsyncIterator[Projector]:
        projector = Projector(self.projections(**overrides), self.store, probe_interval_s=0.5)
        projector.start()
        try:
            yield projector
        finally:
            await projector.stop(grace_s=5.0)

    async def publish(self, *envelopes: Envelope) -> list[int]:
        """Store events in order; returns their stream sequences."""
        return [(await self.publisher.publish(e)).seq for e in envelopes]

    def stream(self, role: StreamRole) -> str:
        return self.topology.stream(role)

    async def position(self, role: StreamRole) -> int:
        return await self.store.position(self.stream(role))

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def execute(self, sql: str) -> None:
        """Run SQL (several statements allowed) outside the projector's pool."""
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def rows(self, table: str) -> list[asyncpg.Record]:
        return await self.fetch(f"SELECT * FROM {table} ORDER BY {_order(table)}")

    async def count(self, table: str) -> int:
        return len(await self.rows(table))

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every projection table and the positions, every column, in key order."""
        return {
            table: [tuple(r.values()) for r in await self.rows(table)]
            for table in (*PROJECTION_TABLES, POSITIONS)
        }

    def at(self, role: StreamRole, sequence: int) -> Callable[[], Any]:
        """A probe for `eventually`: the stored position reached `sequence`."""

        async def probe() -> bool:
            # On a connection of its own: the projector's pool may be recovering from a
            # dropped connection, which is the projector's business, not the probe's.
            rows = await self.fetch(
                "SELECT last_sequence FROM projection_positions WHERE stream = $1",
                self.stream(role),
            )
            return bool(rows) and rows[0]["last_sequence"] >= sequence

        return probe


def _order(table: str) -> str:
    return ", ".join(f'"{c.name}"' for c in metadata.tables[table].primary_key.columns)


@pytest.fixture
async def harness(nats_url: str, prefix: str, fresh_database: str) -> AsyncIterator[Harness]:
    settings = projector_settings(nats_url, prefix, fresh_database)
    nc = await connect(nats_url, "projector-tests")
    js = jetstream(nc)
    await provision(js, settings)
    await migrate(settings.database_url)
    store = await ProjectionStore.open(settings.database_url)
    try:
        yield Harness(
            settings, nc, js, settings.topology(), Publisher(js, settings.topology()), store
        )
    finally:
        await store.close()
        await nc.close()
