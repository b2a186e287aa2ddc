"""Following the services' heartbeats: who is ready, and when all first were.

Services never answer calls; each writes a heartbeat (readiness, lag, pid) to a
KV bucket with a TTL. A heartbeat counts for a supervised service only when
its pid is the process running now, so a killed process's last heartbeat,
still alive until its TTL, does not pass for its successor's.

The Telegram sandbox writes no heartbeat: it is ready when its HTTP API
answers (`http_ready`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from piyasa_common.heartbeat import Heartbeat, read_heartbeats
from piyasa_contracts import Topology

log = logging.getLogger("piyasa.up")

POLL_S = 0.2
SETTLED_POLL_S = 1.0


def ready_services(
    beats: list[Heartbeat], pids: Mapping[str, int | None] | None = None
) -> set[str]:
    """Names of the services with a ready heartbeat (from the current pid, when `pids` says)."""
    ready: set[str] = set()
    for beat in beats:
        if not beat.ready:
            continue
        if pids is not None and beat.service in pids and beat.pid != pids[beat.service]:
            continue
        ready.add(beat.service)
    return ready


async def safe_heartbeats(js: JetStreamContext, topology: Topology) -> list[Heartbeat]:
    """The heartbeats, or none while the bucket does not exist yet or NATS is away."""
    try:
        return await read_heartbeats(js, topology)
    except Exception as exc:  # bucket not provisioned yet, reconnecting, timeout
        log.debug("heartbeats unavailable: %r", exc)
        return []


async def follow_readiness(
    nc: NATS,
    topology: Topology,
    expected: list[str],
    pids: Callable[[], Mapping[str, int | None]],
    *,
    started: float,
    say: Callable[[str], None],
    on_all_ready: Callable[[float], None],
) -> None:
    """Report each service's first readiness, then all-ready, then changes; until cancelled."""
    js = nc.jetstream(timeout=2)
    ready: set[str] = set()
    all_ready_once = False
    while True:
        now_ready = ready_services(await safe_heartbeats(js, topology), pids()) & set(expected)
        elapsed = time.monotonic() - started
        for name in [n for n in expected if n in now_ready - ready]:
            say(
                f"  ready      {name:<11} {elapsed:5.1f} s"
                if not all_ready_once
                else f"{name} is ready again"
            )
        if all_ready_once:
            for name in [n for n in expected if n in ready - now_ready]:
                say(f"{name} is not ready (see `piyasa logs {name}`)")
        ready = now_ready
        if not all_ready_once and ready >= set(expected):
            all_ready_once = True
            on_all_ready(elapsed)
        await asyncio.sleep(SETTLED_POLL_S if all_ready_once else POLL_S)


async def http_ready(url: str, timeout: float = 1.0) -> bool:
    """Whether `GET url` (plain http on this machine) answers 200 within `timeout`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    try:
        path = parts.path or "/"
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), timeout)
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    fields = status.split()
    return len(fields) >= 2 and fields[1] == b"200"


async def wait_http_ready(url: str, timeout: float) -> bool:
    """Poll `http_ready` until it answers or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await http_ready(url):
            return True
        await asyncio.sleep(POLL_S)
    return False


async def close_quietly(nc: NATS | None) -> None:
    if nc is not None and not nc.is_closed:
        with contextlib.suppress(Exception):
            await nc.close()
