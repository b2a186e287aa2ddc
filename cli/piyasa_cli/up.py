"""`piyasa up`: infrastructure, then every service, supervised until Ctrl-C or SIGTERM.

    lock the state dir -> NATS + PostgreSQL (embedded unless configured)
    -> the Telegram sandbox (unless --live), ready when its HTTP API answers
    -> every service as a supervised child -> run.json -> wait, report readiness
    -> signal: SIGTERM the services, wait for them to drain -> stop PostgreSQL
       and NATS -> run.json says stopped -> exit 0

A second Ctrl-C kills whatever is still running.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client as NATS

from piyasa_cli.errors import CliError
from piyasa_cli.infra import Infra, start_infra
from piyasa_cli.readiness import close_quietly, follow_readiness, wait_http_ready
from piyasa_cli.redact import redact_url
from piyasa_cli.runfile import ProcessInfo, RunInfo, read_run_info, write_run_info
from piyasa_cli.services import (
    SANDBOX,
    SANDBOX_DEFAULT_PORT,
    SERVICES,
    ServiceSpec,
    sandbox_config_env,
    sandbox_env,
    service_env,
    telegram_env,
)
from piyasa_cli.settings import CliSettings, default_state_dir
from piyasa_cli.state import StateDir, UpLock
from piyasa_cli.supervisor import BackoffPolicy, ProcessSpec, SupervisedProcess
from piyasa_common.logs import JsonFormatter, RedactingFilter
from piyasa_contracts import Topology

log = logging.getLogger("piyasa.up")

REPEAT_SIGNAL_WINDOW_S = 1.0
"""A second signal sooner than this after the first is not a second Ctrl-C."""

SANDBOX_READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class UpOptions:
    state: StateDir
    prefix: str
    settings: CliSettings
    services: tuple[ServiceSpec, ...] = SERVICES
    live: bool = False
    """Post to the real Telegram Bot API; without it, the sandbox is the fleet's Telegram."""


class Up:
    def __init__(self, options: UpOptions, say: Callable[[str], None]) -> None:
        self._options = options
        self._say = say
        settings = options.settings
        self._policy = BackoffPolicy(
            initial_s=settings.restart_initial_s,
            max_s=max(settings.restart_max_s, settings.restart_initial_s),
            reset_after_s=settings.restart_reset_after_s,
        )
        self._state = options.state
        self._lock = UpLock(options.state)
        self._stop = asyncio.Event()
        self._first_signal: float | None = None
        self._started = time.monotonic()
        self._started_at = datetime.now(UTC)
        self._infra: Infra | None = None
        self._infra_procs: list[SupervisedProcess] = []
        self._services: list[SupervisedProcess] = []
        self._skipped: list[ServiceSpec] = []
        self._ready_after: float | None = None
        self._stopped_at: datetime | None = None
        self._nc: NATS | None = None
        self._sandbox_port: int | None = None
        self._api_port: int | None = None
        self._first_start = False

    async def run(self) -> int:
        self._state.prepare()
        self._lock.acquire()
        try:
            _configure_logging(self._state)
            self._install_signal_handlers()
            try:
                started = await self._until_stopped(self._start())
            except BaseException:
                await self._shutdown()
                raise
            if started:
                self._banner()
                watcher = asyncio.create_task(self._follow_readiness())
                await self._stop.wait()
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await self._shutdown()
            return 0
        finally:
            self._lock.release()

    # -- start-up -----------------------------------------------------------------------

    async def _until_stopped(self, work: Coroutine[Any, Any, None]) -> bool:
        """Run the start-up unless a signal comes first; True when it completed."""
        task = asyncio.create_task(work)
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, CliError):
            await task
        return False

    async def _start(self) -> None:
        options = self._options
        previous = _previous_run(self._state)
        self._first_start = previous is None
        _ensure_fernet_keys(self._state)
        self._say(f"piyasa up: state {self._state.root}, prefix {options.prefix}")
        self._infra = await start_infra(
            self._state,
            nats_url=options.settings.nats_url,
            database_url=options.settings.database_url,
            database_name=options.prefix,
            previous=previous,
            policy=self._policy,
            on_change=self._write_run,
            started=self._infra_procs,
        )
        infra = self._infra
        instance = socket.gethostname()
        await self._start_sandbox()
        for spec in options.services:
            if not spec.installed():
                self._skipped.append(spec)
                continue
            env = service_env(
                spec,
                nats_url=infra.nats.url,
                database_url=infra.postgres.url,
                prefix=options.prefix,
                instance=instance,
            )
            if spec.name == "dispatcher" and (options.live or self._sandbox_port is not None):
                env.update(
                    telegram_env(
                        live=options.live,
                        sandbox_port=self._sandbox_port,
                        configured_base=env.get("TELEGRAM_API_BASE") or None,
                    )
                )
            if spec.name == "config":
                self._api_port = _free_port(options.settings.api_port)
                env["PIYASA_HTTP_PORT"] = str(self._api_port)
                if self._sandbox_port is not None:
                    env.update(sandbox_config_env())
            process = SupervisedProcess(
                ProcessSpec(
                    spec.name,
                    spec.argv(),
                    self._state.log_file(spec.name),
                    env=env,
                    stop_timeout_s=options.settings.stop_grace_s,
                ),
                self._policy,
                self._write_run,
            )
            self._services.append(process)
            await process.start()
            process.supervise()
        self._write_run()

    async def _start_sandbox(self) -> None:
        """The Telegram sandbox, supervised beside the servers (stopped after the services)."""
        if self._options.live or not SANDBOX.installed():
            return
        port = _sandbox_port()
        self._sandbox_port = port
        process = SupervisedProcess(
            ProcessSpec(
                SANDBOX.name,
                SANDBOX.argv(),
                self._state.log_file(SANDBOX.name),
                env={**os.environ, **sandbox_env(port, self._state.root / "sandbox.json")},
                stop_timeout_s=self._options.settings.stop_grace_s,
            ),
            self._policy,
            self._write_run,
        )
        self._infra_procs.append(process)
        await process.start()
        process.supervise()
        url = f"http://127.0.0.1:{port}{SANDBOX.ready_path}"
        if not await wait_http_ready(url, SANDBOX_READY_TIMEOUT_S):
            log.warning("the Telegram sandbox did not answer at %s yet", url)

    def _banner(self) -> None:
        infra = self._infra
        assert infra is not None
        state = self._state.root
        for name, server, where in (
            ("nats", infra.nats, state / "nats"),
            ("postgres", infra.postgres, state / "postgres"),
        ):
            how = f"embedded, data in {where}" if server.embedded else "external"
            self._say(f"  {name:<9} {redact_url(server.url)}  ({how})")
        if self._options.live:
            self._say("  telegram  LIVE: the real Bot API (--live); bots post into real groups")
        elif self._sandbox_port is not None:
            self._say(f"  telegram  sandbox http://127.0.0.1:{self._sandbox_port}/  (open it)")
        if self._api_port is not None:
            url = f"http://127.0.0.1:{self._api_port}/"
            self._say(f"  api       {url}  (the operators' dashboard; OpenAPI: /docs)")
        names = ", ".join(p.name for p in self._services)
        self._say(f"  services  {names}")
        for spec in self._skipped:
            self._say(f"  skipped   {spec.name}: {spec.module} is not installed")
        default = default_state_dir(configured=self._options.settings.state_dir)
        hint = "" if default == state else f" --state-dir {state}"
        self._say(f"  logs      {self._state.logs}/<name>.log  (follow: piyasa logs -f{hint})")
        self._say(f"  run file  {self._state.run_file}")
        if self._first_start:
            self._say(
                f"  first start: create the first admin with `piyasa admin create -u <name>{hint}`"
                " (it prints the TOTP enrolment and an API key for the config API)"
            )
        self._say("waiting for the services to report ready (Ctrl-C stops everything)")

    async def _follow_readiness(self) -> None:
        infra = self._infra
        assert infra is not None
        try:
            self._nc = await nats.connect(
                infra.nats.url,
                name="piyasa-up",
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                error_cb=_quiet,
                disconnected_cb=_nothing,
                reconnected_cb=_nothing,
            )
        except Exception as exc:
            log.warning("cannot follow readiness: NATS at %s: %s", infra.nats.url, exc)
            return
        await follow_readiness(
            self._nc,
            Topology(prefix=self._options.prefix),
            [p.name for p in self._services],
            lambda: {p.name: p.pid for p in self._services},
            started=self._started,
            say=self._say,
            on_all_ready=self._all_ready,
        )

    def _all_ready(self, elapsed: float) -> None:
        self._ready_after = elapsed
        self._write_run()
        self._say(
            f"all {len(self._services)} services ready in {elapsed:.1f} s; "
            "`piyasa status` shows them, Ctrl-C stops everything"
        )

    # -- shutdown -----------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        now = time.monotonic()
        if self._first_signal is None:
            self._first_signal = now
            self._say(f"{sig.name}: stopping the services (Ctrl-C again to kill everything)")
            self._stop.set()
        elif now - self._first_signal >= REPEAT_SIGNAL_WINDOW_S:
            self._say(f"{sig.name} again: killing everything")
            for process in [*self._services, *self._infra_procs]:
                process.kill()
        # A repeat within the window is the same Ctrl-C delivered twice: the terminal
        # signals the whole foreground group, and `uv run` forwards it to us as well.

    async def _shutdown(self) -> None:
        grace = self._options.settings.stop_grace_s
        await asyncio.gather(*(p.stop(grace) for p in self._services))
        await close_quietly(self._nc)
        await asyncio.gather(*(p.stop() for p in self._infra_procs))
        self._stopped_at = datetime.now(UTC)
        self._write_run()
        self._say("stopped")

    # -- run.json -----------------------------------------------------------------------

    def _write_run(self) -> None:
        infra = self._infra
        if infra is None:
            return
        pids = {p.name: p.pid for p in self._infra_procs}
        stopped = self._stopped_at is not None
        info = RunInfo(
            supervisor_pid=None if stopped else os.getpid(),
            state_dir=str(self._state.root),
            prefix=self._options.prefix,
            started_at=self._started_at,
            ready_after_s=None if self._ready_after is None else round(self._ready_after, 3),
            stopped_at=self._stopped_at,
            nats=infra.nats.model_copy(update={"pid": pids.get("nats")}),
            postgres=infra.postgres.model_copy(update={"pid": pids.get("postgres")}),
            api_url=None if self._api_port is None else f"http://127.0.0.1:{self._api_port}/",
            telegram_url=(
                None if self._sandbox_port is None else f"http://127.0.0.1:{self._sandbox_port}/"
            ),
            services={
                p.name: ProcessInfo(
                    pid=p.pid,
                    restarts=p.restarts,
                    started_at=p.started_at,
                    log=str(p.spec.log_path),
                )
                for p in self._services
            },
        )
        try:
            write_run_info(self._state.run_file, info)
        except OSError as err:
            log.error("cannot write %s: %s", self._state.run_file, err)


def _ensure_fernet_keys(state: StateDir) -> None:
    """Embedded default: a Fernet key file in the state directory for the bot tokens.

    Kept only when neither PIYASA_FERNET_KEYS nor PIYASA_FERNET_KEYS_FILE is set; the
    services inherit the variable. A Fernet key is 32 random bytes, url-safe base64.
    """
    if os.environ.get("PIYASA_FERNET_KEYS") or os.environ.get("PIYASA_FERNET_KEYS_FILE"):
        return
    path = state.root / "fernet.keys"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as keys:
            keys.write(base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n")
    os.environ["PIYASA_FERNET_KEYS_FILE"] = str(path)


def _sandbox_port() -> int:
    """The sandbox's configured port (`PIYASA_SANDBOX_PORT`, else 8081) when free, else any."""
    from piyasa_sandbox.settings import SandboxSettings

    return _free_port(SandboxSettings().port or SANDBOX_DEFAULT_PORT)


def _free_port(configured: int) -> int:
    """`configured` when nothing listens on it, else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", configured))
            return configured
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def _previous_run(state: StateDir) -> RunInfo | None:
    try:
        return read_run_info(state.run_file)
    except CliError as err:
        log.warning("ignoring the previous run file: %s", err)
        return None


def _configure_logging(state: StateDir) -> None:
    """The supervisor's own log: human lines on stderr, JSON lines in logs/up.log."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("piyasa up: %(message)s"))
    console.setLevel(logging.WARNING)
    file_handler = logging.FileHandler(state.log_file("up"))
    file_handler.setFormatter(JsonFormatter("up"))
    file_handler.addFilter(RedactingFilter())
    root.addHandler(console)
    root.addHandler(file_handler)


async def _quiet(exc: Exception) -> None:
    log.debug("nats: %s", exc)


async def _nothing() -> None:
    return None
