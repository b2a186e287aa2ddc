"""The side server answers liveness, readiness and metrics over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from piyasa_common.http import HealthServer


async def webhook(request: Request) -> Response:
    return PlainTextResponse("ok")


@pytest.fixture
async def server() -> AsyncIterator[HealthServer]:
    server = HealthServer("health-test", routes=[Route("/hook", webhook, methods=["POST"])])
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def client(server: HealthServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as c:
        yield c


async def test_port_zero_binds_a_real_free_port(server: HealthServer) -> None:
    assert server.port > 0


async def test_live_answers_while_the_process_runs(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200


async def test_ready_flips_from_503_to_200_when_its_check_passes(
    server: HealthServer, client: httpx.AsyncClient
) -> None:
    caught_up = False
    server.add_check("nats", lambda: True)
    server.add_check("caught_up", lambda: caught_up)

    before = await client.get("/health/ready")
    caught_up = True
    after = await client.get("/health/ready")

    assert before.status_code == 503
    assert before.json() == {"ready": False, "checks": {"caught_up": False}}
    assert after.status_code == 200
    assert after.json() == {"ready": True, "checks": {"nats": True, "caught_up": True}}


async def test_a_check_that_raises_counts_as_failing(
    server: HealthServer, client: httpx.AsyncClient
) -> None:
    def broken() -> bool:
        raise RuntimeError("cache not built")

    server.add_check("projection", broken)

    response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"projection": False}


async def test_metrics_serves_the_registry_with_readiness(
    server: HealthServer, client: httpx.AsyncClient
) -> None:
    server.add_check("always", lambda: True)
    await client.get("/health/ready")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# HELP piyasa_events_consumed_total" in response.text
    assert 'piyasa_service_ready{service="health-test"} 1.0' in response.text


async def test_extra_routes_are_served(server: HealthServer, client: httpx.AsyncClient) -> None:
    async def late(request: Request) -> Response:
        return PlainTextResponse("late")

    server.add_route(Route("/late", late))

    hook = await client.post("/hook")
    added = await client.get("/late")

    assert (hook.status_code, hook.text) == (200, "ok")
    assert (added.status_code, added.text) == (200, "late")


async def test_stop_closes_the_port() -> None:
    server = HealthServer("health-test")
    await server.start("127.0.0.1", 0)
    port = server.port

    await server.stop()

    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/health/live")


async def test_a_port_in_use_fails_start_with_oserror(server: HealthServer) -> None:
    second = HealthServer("health-test")

    with pytest.raises(OSError):
        await second.start("127.0.0.1", server.port)
