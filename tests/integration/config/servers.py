"""The config service and the projector as real processes (their `main`), for tests that
need a real HTTP server: schemathesis, and the composition root itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cryptography.fernet import Fernet


@dataclass
class Running:
    base_url: str
    port: int
    output: list[str]


async def _ready_port(proc: asyncio.subprocess.Process, output: list[str], timeout: float) -> int:
    """Read the JSON log lines until the service logs `ready` with its HTTP port."""
    assert proc.stdout is not None

    async def scan() -> int:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError("service exited before ready:\n" + "".join(output[-30:]))
            text = line.decode(errors="replace")
            output.append(text)
            with contextlib.suppress(ValueError):
                record = json.loads(text)
                if record.get("msg") == "ready":
                    return int(record["http_port"])

    return await asyncio.wait_for(scan(), timeout)


async def _drain(proc: asyncio.subprocess.Process, output: list[str]) -> None:
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        output.append(line.decode(errors="replace"))


@contextlib.asynccontextmanager
async def service_process(
    module: str, env: dict[str, str], *, timeout: float = 60.0
) -> AsyncIterator[Running]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[str] = []
    drain: asyncio.Task[None] | None = None
    try:
        port = await _ready_port(proc, output, timeout)
        drain = asyncio.create_task(_drain(proc, output))
        yield Running(f"http://127.0.0.1:{port}", port, output)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if drain is not None:
            await drain


def service_env(nats_url: str, prefix: str, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "PIYASA_NAME_PREFIX": prefix,
        "PIYASA_PARTITIONS": "4",
        "PIYASA_HTTP_PORT": "0",
        "PIYASA_FERNET_KEYS": Fernet.generate_key().decode(),
        "PIYASA_WRITE_RATE_PER_MINUTE": "1000000",
        "PIYASA_LOGIN_RATE_PER_MINUTE": "10000",
        "PIYASA_HEARTBEAT_INTERVAL_S": "1",
        "PIYASA_INSTANCE_ID": f"test-{prefix}",
        **extra,
    }
