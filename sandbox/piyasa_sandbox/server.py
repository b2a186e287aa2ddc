"""The sandbox as an ASGI app and as an in-process server.

`create_app(settings)` builds the Starlette app (Bot API, admin API, page);
its lifespan resumes webhooks, saves the world every `save_interval_s` and at
shutdown. `SandboxServer` runs that app with uvicorn inside the caller's event
loop (port 0 picks a free port). `main()` is the `piyasa-sandbox` command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Generator

import uvicorn
from starlette.applications import Starlette

from . import persistence
from .admin import admin_routes
from .api import bot_api_routes, not_found_route
from .core import Sandbox
from .page import page_routes
from .settings import SandboxSettings

__all__ = ["SandboxServer", "create_app", "main"]

_log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5.0


def create_app(settings: SandboxSettings | None = None) -> Starlette:
    """The sandbox app; `app.state.sandbox` is its `Sandbox` (the world, limits, faults)."""
    settings = settings or SandboxSettings()
    snapshot = persistence.load(settings.state_file) if settings.state_file else None
    sandbox = Sandbox(settings, snapshot)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sandbox.start()
        saver = asyncio.create_task(_save_periodically(sandbox), name="sandbox-saver")
        try:
            yield
        finally:
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
            await sandbox.stop()
            _save(sandbox)

    app = Starlette(
        routes=[*bot_api_routes(), *admin_routes(), *page_routes(), not_found_route()],
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    return app


def _save(sandbox: Sandbox) -> None:
    path = sandbox.settings.state_file
    if path is None:
        return
    try:
        persistence.save(path, sandbox.world.state)
    except OSError:
        _log.exception("could not save the sandbox state", extra={"path": str(path)})


async def _save_periodically(sandbox: Sandbox) -> None:
    interval = sandbox.settings.save_interval_s
    if sandbox.settings.state_file is None or interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        _save(sandbox)


class _Uvicorn(uvicorn.Server):
    """uvicorn without signal capture, telling when its socket listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class SandboxServer:
    """The sandbox served by uvicorn inside the running event loop."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.app = create_app(self.settings)
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None
        self._host = self.settings.host

    @property
    def sandbox(self) -> Sandbox:
        sandbox: Sandbox = self.app.state.sandbox
        return sandbox

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        """Listen (port 0: a free one, read back from `port`); returns once it accepts."""
        if self._task is not None:
            raise RuntimeError("sandbox already started")
        self._host = host if host is not None else self.settings.host
        config = uvicorn.Config(
            self.app,
            host=self._host,
            port=self.settings.port if port is None else port,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(STOP_TIMEOUT_S),
        )
        sock = await _bind(self._host, config.port)
        server = _Uvicorn(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="sandbox-http")
        listening = asyncio.create_task(server.listening.wait())
        try:
            await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            sock.close()
            raise
        finally:
            listening.cancel()
        if task.done():
            sock.close()
            task.result()
            raise RuntimeError("sandbox exited during start-up")
        self._server, self._task = server, task
        _log.info("telegram sandbox listening on %s", self.url)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        for listener in self._server.servers:
            for sock in listener.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("sandbox has no listening socket")

    @property
    def url(self) -> str:
        """`http://host:port`: the Bot API base is `{url}/bot`, the page is `{url}/`."""
        # Not a bind: a client reaches a server listening on all interfaces through loopback.
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host  # noqa: S104  # nosec B104
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """End open streams and long polls, stop listening, save the state."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        self.sandbox.drain()
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_S * 2)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            self._server = self._task = None


async def _bind(host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket's proto says TCP; with proto 0 every response waits ~40 ms (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


async def _serve(settings: SandboxSettings) -> None:
    server = SandboxServer(settings)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main() -> None:
    """Run the sandbox until SIGINT/SIGTERM (settings from `PIYASA_SANDBOX_*`)."""
    settings = SandboxSettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_serve(settings))
