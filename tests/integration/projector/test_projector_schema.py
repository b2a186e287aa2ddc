"""The schema: migrations match the tables in code, run twice harmlessly, and a rebuild
touches only the projections."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from piyasa_projector import POSITIONS, PROJECTION_TABLES, rebuild
from piyasa_projector.schema import VERSION_TABLE, metadata, migrate
from piyasa_projector.settings import sqlalchemy_url
from tests.integration.projector import projector_events as ev

pytestmark = pytest.mark.integration


async def test_migrations_build_exactly_the_tables_in_code(fresh_database):
    await migrate(fresh_database)

    engine = create_async_engine(sqlalchemy_url(fresh_database), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"version_table": VERSION_TABLE}),
                    metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_replicas_migrating_at_once_and_again_change_nothing(fresh_database):
    await asyncio.gather(migrate(fresh_database), migrate(fresh_database), migrate(fresh_database))
    await migrate(fresh_database)


def test_rebuild_may_empty_every_projection_and_nothing_else():
    assert set(metadata.tables) == {*PROJECTION_TABLES, POSITIONS}


async def test_rebuild_leaves_tables_it_does_not_own_alone(harness):
    await harness.execute(
        "CREATE TABLE operators (id text PRIMARY KEY, password_hash text NOT NULL);"
        "INSERT INTO operators VALUES ('op1', 'argon2id$...');"
    )
    await harness.publish(ev.bot("b1"))

    report = await rebuild(harness.settings, harness.database_url)

    assert report.total_events == 1
    assert [tuple(r.values()) for r in await harness.fetch("SELECT * FROM operators")] == [
        ("op1", "argon2id$...")
    ]
    assert await harness.count("bots") == 1
