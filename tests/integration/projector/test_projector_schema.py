"""The schema: migrations match the tables in code (indexes and constraints included),
run twice harmlessly, go down and up again, and a rebuild touches only the projections."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from piyasa_projector import POSITIONS, PROJECTION_TABLES, rebuild
from piyasa_projector.schema import VERSION_TABLE, alembic_config, metadata, migrate
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


async def _definitions(database_url: str, schema: str) -> dict[str, str]:
    """Every index and constraint of the projection tables in `schema`, as PostgreSQL
    prints it back (the schema's name left out)."""
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT 'index ' || indexname, replace(indexdef, schemaname || '.', '')"
                    " FROM pg_indexes WHERE schemaname = :schema AND tablename = ANY(:tables)"
                    " UNION ALL"
                    " SELECT 'constraint ' || c.conname, pg_get_constraintdef(c.oid)"
                    " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
                    " WHERE c.connamespace = CAST(:schema AS regnamespace)"
                    " AND t.relname = ANY(:tables)"
                ),
                {"schema": schema, "tables": list(metadata.tables)},
            )
            return {str(name): str(definition) for name, definition in result}
    finally:
        await engine.dispose()


async def test_migrations_build_every_index_and_constraint_as_the_code_declares_it(
    fresh_database,
):
    # Alembic's comparison (above) passes over a partial index's predicate and over check
    # constraints: compare what PostgreSQL made of each against the tables in code.
    await migrate(fresh_database)
    engine = create_async_engine(sqlalchemy_url(fresh_database), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE SCHEMA from_code"))
            await conn.run_sync(
                lambda sync: metadata.create_all(
                    sync.execution_options(schema_translate_map={None: "from_code"})
                )
            )
    finally:
        await engine.dispose()

    migrated = await _definitions(fresh_database, "public")

    assert migrated == await _definitions(fresh_database, "from_code")
    assert migrated["index turn_outcomes_failures"] == (
        "CREATE INDEX turn_outcomes_failures ON turn_outcomes USING btree"
        " (at DESC, turn_id DESC) WHERE (outcome <> 'sent'::text)"
    )


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_every_migration_goes_down_and_up_again(fresh_database):
    await migrate(fresh_database)
    before = await _definitions(fresh_database, "public")
    engine = create_async_engine(sqlalchemy_url(fresh_database), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0002")
        after_one = await _definitions(fresh_database, "public")
        assert set(before) - set(after_one) == {"index turn_outcomes_failures"}
        assert set(after_one) <= set(before)

        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "base")
            left = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            assert {r[0] for r in left} == {VERSION_TABLE}
    finally:
        await engine.dispose()

    await migrate(fresh_database)
    assert await _definitions(fresh_database, "public") == before


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
