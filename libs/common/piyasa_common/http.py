"""Each service's HTTP side server: liveness, readiness and metrics.

Runs inside the service's event loop as a task. It installs no signal
handlers (the service runner owns SIGTERM) and leaves logging to
`piyasa_common.logs`: uvicorn's loggers propagate to the JSON handler.

Readiness checks are sync callables that read state the service keeps
current (a flag, a timestamp, a cached consumer-info result); they must not
do I/O, so a probe answers in microseconds however busy the service is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator, Sequence
from typing import Final

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import metrics

__all__ = ["HealthServer", "ReadinessCheck"]

_log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], bool]

STOP_TIMEOUT_SECONDS: Final = 5.0


class _Server(uvicorn.Server):
    """uvicorn without signal capture, telling when its socket is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class HealthServer:
    """`/health/live`, `/health/ready` and `/metrics` for one service.

    Extra routes (e.g. the dispatcher's Telegram webhook) are passed to the
    constructor or added with `add_route`.
    """

    def __init__(self, service: str, routes: Sequence[BaseRoute] = ()) -> None:
        self._service = service
        self._checks: dict[str, ReadinessCheck] = {}
        self._app = Starlette(
            routes=[
                Route("/health/live", self._live, methods=["GET"]),
                Route("/health/ready", self._ready, methods=["GET"]),
                Route("/metrics", self._metrics, methods=["GET"]),
                *routes,
            ]
        )
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        metrics.SERVICE_READY.labels(service).set(0)

    @property
    def app(self) -> Starlette:
        return self._app

    def add_route(self, route: BaseRoute) -> None:
        """Serve `route` too; the router is read per request, so this works after `start`."""
        self._app.router.routes.append(route)

    def add_check(self, name: str, fn: ReadinessCheck) -> None:
        """Register a readiness check; the service is ready when every check returns True."""
        self._checks[name] = fn

    def readiness(self) -> tuple[bool, dict[str, bool]]:
        """Run every check; a check that raises counts as failing."""
        results: dict[str, bool] = {}
        for name, check in self._checks.items():
            try:
                results[name] = bool(check())
            except Exception:
                _log.exception("readiness check failed", extra={"check": name})
                results[name] = False
        ready = all(results.values())
        metrics.SERVICE_READY.labels(self._service).set(1 if ready else 0)
        return ready, results

    async def _live(self, request: Request) -> Response:
        return JSONResponse({"live": True})

    async def _ready(self, request: Request) -> Response:
        ready, results = self.readiness()
        if ready:
            return JSONResponse({"ready": True, "checks": results})
        failing = {name: ok for name, ok in results.items() if not ok}
        return JSONResponse({"ready": False, "checks": failing}, status_code=503)

    async def _metrics(self, request: Request) -> Response:
        body, content_type = metrics.render_latest()
        return Response(body, media_type=content_type)

    async def start(self, host: str, port: int) -> None:
        """Listen on `host:port` (port 0 picks a free port; read it from `port`).

        Returns once the socket accepts connections; raises OSError if the
        address cannot be bound.
        """
        if self._task is not None:
            raise RuntimeError("health server already started")
        config = uvicorn.Config(
            self._app,
            host=host,
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(STOP_TIMEOUT_SECONDS),
        )
        # Bound here rather than by uvicorn, which calls sys.exit on a bind error.
        sock = await _bind(host, port)
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"{self._service}-http")
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
            task.result()  # re-raise what stopped it
            raise RuntimeError("health server exited during start-up")
        self._server, self._task = server, task
        _log.info("health server listening", extra={"host": host, "port": self.port})

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when started with port 0)."""
        if self._server is None:
            raise RuntimeError("health server not started")
        for listener in self._server.servers:
            for sock in listener.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("health server has no listening socket")

    async def stop(self) -> None:
        """Stop accepting connections, finish open requests and return."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_SECONDS * 2)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            self._server = self._task = None
            metrics.SERVICE_READY.labels(self._service).set(0)


async def _bind(host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    # IPPROTO_TCP (not 0) so asyncio turns on TCP_NODELAY: without it every
    # small response waits ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock
