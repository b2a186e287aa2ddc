"""What the backup tests share: the `piyasa` command in a thread, a second empty NATS and
database, and the config API (with the projector) on restored infrastructure."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from piyasa_cli.embedded import EmbeddedNats
from piyasa_cli.embedded.postgres import create_database, drop_database
from piyasa_cli.main import cli
from piyasa_config.auth.roles import Role
from piyasa_config.settings import ConfigSettings
from tests.integration.config.conftest import Api, running_projector, serve_api

Answer = tuple[int, Any, str | None]
"""(status, body, ETag) of one GET."""


async def piyasa(*args: str, **env: str) -> Result:
    """`piyasa <args>` in a worker thread (the command runs its own event loop)."""
    environment = {"PIYASA_STATE_DIR": "/nonexistent-piyasa-state", **env}
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, list(args), env=environment)


@contextlib.asynccontextmanager
async def empty_nats() -> AsyncIterator[str]:
    """A second NATS server with JetStream, its own empty store; stopped afterwards."""
    store = Path(tempfile.mkdtemp(prefix="piyasa-restore-nats-"))
    server = EmbeddedNats(store)
    try:
        await server.start()
        yield server.url
    finally:
        await server.stop()
        shutil.rmtree(store, ignore_errors=True)


@contextlib.asynccontextmanager
async def empty_database(server_url: str) -> AsyncIterator[str]:
    name = f"restore_{uuid.uuid4().hex[:12]}"
    url = await create_database(server_url, name)
    try:
        yield url
    finally:
        await drop_database(server_url, name)


@contextlib.asynccontextmanager
async def config_on(settings: ConfigSettings, keys: dict[Role, str]) -> AsyncIterator[Api]:
    """The config API and the projector as their services start: provision, migrate, serve.

    Unlike the config tests' `start_api` it creates no operators: they come from the backup,
    and `keys` are the API keys issued before it.
    """
    api = await serve_api(settings, name="backup-tests-config")
    api.keys.update(keys)
    try:
        async with running_projector(settings):
            yield api
    finally:
        await api.close()
        await api.engine.dispose()
        await api.nc.close()


async def answers(client: httpx.AsyncClient, paths: list[str]) -> dict[str, Answer]:
    out: dict[str, Answer] = {}
    for path in paths:
        response = await client.get(path)
        is_json = response.headers.get("content-type", "").startswith("application/json")
        body = response.json() if is_json else response.text
        out[path] = (response.status_code, body, response.headers.get("ETag"))
    return out
