"""The sandbox in a process of its own, for measurements that the test's own event loop
would blur (limits measured at the sandbox) and for tests that kill the dispatcher."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import httpx

from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SandboxProcess:
    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "PIYASA_SANDBOX_PORT": str(self.port),
            "PIYASA_SANDBOX_LOG_LEVEL": "WARNING",
            "PIYASA_SANDBOX_WEBHOOK_RETRY_INITIAL_S": "0.05",
            "PIYASA_SANDBOX_WEBHOOK_RETRY_MAX_S": "0.2",
            **env,
        }
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> SandboxProcess:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "piyasa_sandbox",
            env=self._env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

        async def up() -> bool:
            try:
                async with httpx.AsyncClient(timeout=1) as http:
                    return (await http.get(f"{self.url}/sandbox/api/state")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(up, timeout=20, interval=0.1, message="sandbox process up")
        return self

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 10)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
