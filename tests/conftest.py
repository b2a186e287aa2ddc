"""Fixtures shared by the integration tests: one NATS and one PostgreSQL per test session.

``NATS_URL`` / ``DATABASE_URL`` select existing servers (docker-compose, CI services); without
them the embedded servers from ``piyasa_cli.embedded`` are started once per session in a
temporary directory (under pytest-xdist: once per worker, each its own processes and ports).
Tests isolate from each other by naming: ``prefix`` for NATS streams/subjects/consumers,
``fresh_database`` for a database of their own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from piyasa_cli.embedded import EmbeddedNats, EmbeddedPostgres
from piyasa_cli.embedded.postgres import create_database, drop_database


def _asyncpg_url(url: str) -> str:
    """``postgresql+asyncpg://`` / ``postgres://`` -> ``postgresql://`` (what asyncpg accepts)."""
    scheme, sep, rest = url.partition("://")
    if sep and (scheme == "postgres" or scheme.startswith("postgresql+")):
        return f"postgresql://{rest}"
    return url


def _state_dir(kind: str) -> Path:
    # A short path under the system temp dir: keeps the PostgreSQL Unix socket path short, and
    # as root only the (already world-traversable) temp dir's parents are chmodded o+rx.
    return Path(tempfile.mkdtemp(prefix=f"piyasa-{kind}-"))


@pytest_asyncio.fixture(scope="session")
async def nats_url() -> AsyncIterator[str]:
    """URL of the session's NATS server with JetStream (``NATS_URL`` or an embedded one)."""
    configured = os.environ.get("NATS_URL")
    if configured:
        yield configured
        return
    state_dir = _state_dir("nats")
    server = EmbeddedNats(state_dir)
    try:
        await server.start()
        yield server.url
    finally:
        await server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest_asyncio.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """``postgresql://`` URL of the session's server (``DATABASE_URL`` or an embedded one)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield _asyncpg_url(configured)
        return
    state_dir = _state_dir("pg")
    server = EmbeddedPostgres(state_dir)
    try:
        await server.start()
        yield server.url
    finally:
        await server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def prefix() -> str:
    """A unique NATS name prefix for this test (valid in stream, consumer and subject names)."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture
async def fresh_database(database_url: str) -> AsyncIterator[str]:
    """URL of a new, empty database of this test's own; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = await create_database(database_url, name)
    try:
        yield url
    finally:
        await drop_database(database_url, name)


@pytest_asyncio.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    """A nats-py client connected to the session's server; closed after the test."""
    client = await nats.connect(nats_url, connect_timeout=5, name="piyasa-tests")
    try:
        yield client
    finally:
        if not client.is_closed:
            await client.close()
