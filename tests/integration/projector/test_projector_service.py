"""The projector as a process, through the real service runner: ready only once caught up."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from piyasa_contracts import StreamRole
from tests.integration.projector import projector_events as ev
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


class ProjectorProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = {**os.environ, **env}
        self.proc: asyncio.subprocess.Process | None = None
        self.port: int | None = None
        self.lines: list[dict] = []
        self._reader: asyncio.Task | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "piyasa_projector.main",
            cwd=REPO,
            env=self._env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"msg": raw.decode(errors="replace")}
            self.lines.append(line)
            if line.get("msg") == "health server listening":
                self.port = int(line["port"])

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=2) as client:
            return await client.get(path)

    async def terminate(self, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await self._reader
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


async def test_ready_flips_to_200_only_after_the_projector_caught_up(harness, nats_url):
    # Until the trigger goes, the log cannot be applied: the projector cannot catch up.
    await harness.execute(
        """
        CREATE FUNCTION hold_bots() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'held by the test'; END $$;
        CREATE TRIGGER hold_bots BEFORE INSERT ON bots FOR EACH ROW EXECUTE FUNCTION hold_bots();
        """
    )
    config = await harness.publish(ev.chat("c1", -1001), ev.bot("b1"), ev.bot("b2", "Mehmet"))
    conversation = await harness.publish(ev.sent("c1", "t1", "b1", 10), ev.reaction("c1", 10, "p1"))
    process = ProjectorProcess(
        {
            "NATS_URL": nats_url,
            "DATABASE_URL": harness.database_url.replace("postgresql://", "postgresql+asyncpg://"),
            "PIYASA_NAME_PREFIX": harness.settings.name_prefix,
            "PIYASA_INSTANCE_ID": "projector-test",
            "PIYASA_HTTP_PORT": "0",
            "PIYASA_LOG_LEVEL": "INFO",
            "PIYASA_FETCH_TIMEOUT_S": "0.2",
            "PIYASA_RETRY_DELAY_S": "0.1",
            "PIYASA_HEARTBEAT_INTERVAL_S": "0.5",
        }
    )
    await process.start()
    try:
        await eventually(lambda: process.port, timeout=30, message="health server up")
        await eventually(harness.at(StreamRole.CONVERSATION, conversation[-1]), timeout=30)
        held = await process.get("/health/ready")
        assert held.status_code == 503
        assert held.json()["checks"] == {"caught_up": False}
        assert await harness.position(StreamRole.CONFIG) == 0

        await harness.execute("DROP TRIGGER hold_bots ON bots")

        async def ready() -> bool:
            return (await process.get("/health/ready")).status_code == 200

        await eventually(ready, timeout=30, message="ready after catch-up")
        assert await harness.position(StreamRole.CONFIG) == config[-1]
        assert [r["name"] for r in await harness.rows("bots")] == ["Ayşe", "Mehmet"]
        checks = (await process.get("/health/ready")).json()["checks"]
        assert checks["postgres"] and checks["caught_up"]
        exposed = (await process.get("/metrics")).text
        assert 'piyasa_projector_position{stream="CONFIG"}' in exposed
        assert "piyasa_projector_rows_written_total" in exposed

        assert await process.terminate() == 0
    finally:
        process.kill()
    assert any(line.get("msg") == "projector stopped" for line in process.lines)
