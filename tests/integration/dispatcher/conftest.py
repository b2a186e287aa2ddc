"""Fixtures for the dispatcher's integration tests: a sandbox, NATS, and the rig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest_asyncio
from piyasa_sandbox import SandboxServer

from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from tests.integration.dispatcher.rig import SANDBOX_LIMITS, Rig
from tests.integration.dispatcher.sandbox_process import SandboxProcess
from tests.integration.sandbox.sandbox_client import SandboxClient, compressed_settings
from tests.support.backbone import settings_for


@asynccontextmanager
async def rig_on(nats_url: str, prefix: str, sandbox_url: str) -> AsyncIterator[Rig]:
    """A rig for one prefix on a running sandbox; stops what it started."""
    http = httpx.AsyncClient(base_url=sandbox_url, timeout=30)
    tg = SandboxClient(sandbox_url, http)
    await tg.limits(**SANDBOX_LIMITS)
    config = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "dispatcher-test")
    js = jetstream(nc)
    await provision(js, config)
    topology = config.topology()
    rig = Rig(nats_url, prefix, sandbox_url, tg, js, topology, Publisher(js, topology))
    try:
        yield rig
    finally:
        await rig.stop_all()
        await nc.close()
        await http.aclose()


@pytest_asyncio.fixture
async def rig(nats_url: str, prefix: str) -> AsyncIterator[Rig]:
    """The dispatcher in-process, the sandbox in-process: quick, for behaviour."""
    server = SandboxServer(compressed_settings())
    await server.start("127.0.0.1", 0)
    try:
        async with rig_on(nats_url, prefix, server.url) as rig:
            yield rig
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def measured_rig(nats_url: str, prefix: str) -> AsyncIterator[Rig]:
    """The sandbox in a process of its own: its clock is not blurred by the test's loop."""
    sandbox = await SandboxProcess().start()
    try:
        async with rig_on(nats_url, prefix, sandbox.url) as rig:
            yield rig
    finally:
        await sandbox.stop()
