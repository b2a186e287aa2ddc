"""Starting and killing real service processes in tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class ServiceProcess:
    def __init__(self, module: str, *args: str, env: dict[str, str]) -> None:
        self._argv = [sys.executable, "-m", module, *args]
        self._env = {**os.environ, **env}
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> ServiceProcess:
        self.proc = await asyncio.create_subprocess_exec(
            *self._argv,
            cwd=REPO,
            env=self._env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return self

    async def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def kill(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def stderr_tail(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        if self.proc.returncode is None:
            return ""
        data = await self.proc.stderr.read()
        return data.decode(errors="replace")[-3000:]


def service_env(nats_url: str, prefix: str, instance: str, **extra: str) -> dict[str, str]:
    return {
        "NATS_URL": nats_url,
        "PIYASA_NAME_PREFIX": prefix,
        "PIYASA_PARTITIONS": "4",
        "PIYASA_LEASE_TTL_S": "2",
        "PIYASA_ACK_WAIT_S": "1",
        "PIYASA_MAX_DELIVER": "5",
        "PIYASA_NAK_BACKOFF_S": "[0.05]",
        "PIYASA_HEARTBEAT_INTERVAL_S": "0.5",
        "PIYASA_DRAIN_GRACE_S": "5",
        "PIYASA_INSTANCE_ID": instance,
        "PIYASA_LOG_LEVEL": os.environ.get("TOY_LOG_LEVEL", "WARNING"),
        **extra,
    }
