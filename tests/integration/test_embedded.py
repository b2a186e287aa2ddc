"""The embedded NATS and PostgreSQL servers: start, stop, restart with data kept, clear errors."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient

from piyasa_cli.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedServerError
from piyasa_cli.embedded.nats import parse_ports
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Short path under the temp dir (see conftest._state_dir).
    path = Path(tempfile.mkdtemp(prefix="piyasa-emb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


async def _accepts(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=1)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


# -- NATS -------------------------------------------------------------------------------


def test_parse_ports() -> None:
    ports = parse_ports(
        '{"nats":["nats://127.0.0.1:42415"],"monitoring":["http://127.0.0.1:40557"]}'
    )
    assert (ports.client, ports.monitor) == (42415, 40557)
    with pytest.raises(ValueError, match="ports file"):
        parse_ports("{}")


async def test_nats_stream_survives_restart(state_dir: Path) -> None:
    server = EmbeddedNats(state_dir)
    await server.start()
    try:
        url = server.url
        assert url.startswith("nats://127.0.0.1:")
        assert server.monitor_url.startswith("http://127.0.0.1:")
        assert (state_dir / "nats" / "jetstream").is_dir()

        client = await nats.connect(url, reconnect_time_wait=0.05, max_reconnect_attempts=-1)
        try:
            js = client.jetstream()
            await js.add_stream(name="SURVIVE", subjects=["survive.>"])
            for i in range(3):
                await js.publish("survive.x", f"m{i}".encode())

            await server.stop()
            assert not server.running
            await eventually(lambda: not client.is_connected)

            # Same object: same port, so the connected client comes back by itself.
            await server.start()
            assert server.url == url
            await eventually(lambda: client.is_connected)
            info = await js.stream_info("SURVIVE")
            assert info.state.messages == 3
            assert (await js.get_msg("SURVIVE", 1)).data == b"m0"
        finally:
            await client.close()
    finally:
        await server.stop()

    # A new object on the same state directory finds the stream too.
    again = EmbeddedNats(state_dir)
    await again.start()
    try:
        client = await nats.connect(again.url)
        try:
            info = await client.jetstream().stream_info("SURVIVE")
            assert info.state.messages == 3
        finally:
            await client.close()
    finally:
        await again.stop()


async def test_nats_explicit_port_and_idempotent_stop(state_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = EmbeddedNats(state_dir, port=port)
    assert server.url == f"nats://127.0.0.1:{port}"
    await server.stop()  # never started: no-op
    await server.start()
    await server.start()  # already running: no-op
    assert server.url == f"nats://127.0.0.1:{port}"
    await server.stop()
    await server.stop()
    assert not server.running


async def test_nats_unusable_state_dir(state_dir: Path) -> None:
    not_a_dir = state_dir / "a-file"
    not_a_dir.write_text("not a directory")
    server = EmbeddedNats(not_a_dir)
    with pytest.raises(EmbeddedServerError, match=r"a-file.*unusable"):
        await server.start()
    assert not server.running


async def test_nats_port_in_use_reports_server_output(state_dir: Path) -> None:
    with _listening_socket() as taken:
        server = EmbeddedNats(state_dir, port=taken.getsockname()[1])
        with pytest.raises(EmbeddedServerError, match=r"(?i)address already in use"):
            await server.start()
        assert not server.running


async def test_session_nats_fixtures(nc: NatsClient, prefix: str) -> None:
    assert prefix.startswith("t") and len(prefix) == 11
    js = nc.jetstream()
    await js.add_stream(name=f"{prefix}_EVENTS", subjects=[f"{prefix}.>"])
    try:
        ack = await js.publish(f"{prefix}.hello", b"hi")
        assert ack.stream == f"{prefix}_EVENTS"
    finally:
        await js.delete_stream(f"{prefix}_EVENTS")


# -- PostgreSQL -------------------------------------------------------------------------


async def test_postgres_table_survives_restart(state_dir: Path) -> None:
    server = EmbeddedPostgres(state_dir)
    await server.start()
    try:
        url = server.url
        assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/postgres")
        app_url = await server.create_database("app")
        assert await server.create_database("app") == app_url  # idempotent
        conn = await asyncpg.connect(app_url)
        try:
            await conn.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
            await conn.execute("INSERT INTO kept VALUES (1, 'şeker çörek')")
        finally:
            await conn.close()

        await server.stop()
        assert not server.running
        assert not await _accepts(url)

        await server.start()  # same object: same port
        assert server.url == url
        conn = await asyncpg.connect(app_url)
        try:
            assert await conn.fetchval("SELECT note FROM kept WHERE id = 1") == "şeker çörek"
            assert await conn.fetchval("SELECT upper('şeker çörek')") == "ŞEKER ÇÖREK"
        finally:
            await conn.close()
        port = server.port
    finally:
        await server.stop()

    # A new object on the same state directory, given the old port, keeps it.
    again = EmbeddedPostgres(state_dir, port=port)
    await again.start()
    try:
        assert again.url == url
        conn = await asyncpg.connect(again.database_url("app"))
        try:
            assert await conn.fetchval("SELECT count(*) FROM kept") == 1
        finally:
            await conn.close()
    finally:
        await again.stop()
    await again.stop()  # idempotent


async def test_postgres_unusable_state_dir(state_dir: Path) -> None:
    not_a_dir = state_dir / "a-file"
    not_a_dir.write_text("not a directory")
    server = EmbeddedPostgres(not_a_dir)
    with pytest.raises(EmbeddedServerError, match=r"a-file.*unusable"):
        await server.start()
    assert not server.running


async def test_postgres_foreign_data_dir_is_reported(state_dir: Path) -> None:
    data_dir = state_dir / "postgres" / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "something-else.txt").write_text("not a PostgreSQL data directory")
    server = EmbeddedPostgres(state_dir)
    with pytest.raises(EmbeddedServerError, match=r"(?s)initdb of .*data.*not empty"):
        await server.start()
    assert not server.running


async def test_postgres_port_in_use_reports_server_output(state_dir: Path) -> None:
    with _listening_socket() as taken:
        server = EmbeddedPostgres(state_dir, port=taken.getsockname()[1])
        with pytest.raises(EmbeddedServerError, match="could not bind"):
            await server.start()
        assert not server.running


async def test_pgvector_extension(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await conn.execute("CREATE TABLE items (id int, embedding vector(3))")
        await conn.execute("INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[1,2,5]')")
        nearest = await conn.fetchval(
            "SELECT id FROM items ORDER BY embedding <-> '[1,2,4.4]' LIMIT 1"
        )
        assert nearest == 2
    finally:
        await conn.close()


async def test_fresh_databases_are_distinct(database_url: str, fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        name = await conn.fetchval("SELECT current_database()")
    finally:
        await conn.close()
    assert name.startswith("test_")
    assert fresh_database.rsplit("/", 1)[1] == name
    assert database_url.rsplit("/", 1)[1] != name
