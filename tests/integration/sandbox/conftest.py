"""A sandbox per test (port 0) and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from piyasa_sandbox import SandboxServer

from tests.integration.sandbox.sandbox_client import SandboxClient, compressed_settings


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(compressed_settings())
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def tg(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as http:
        yield SandboxClient(sandbox.url, http)
