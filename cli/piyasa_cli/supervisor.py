"""Supervised child processes: start, restart with backoff, stop in order.

Each child runs in a session of its own, so the terminal's Ctrl-C reaches only
`piyasa up`, which then stops the children in order (services, then the
servers they depend on) instead of all of them at once. On Linux a child also
gets its stop signal if `piyasa up` dies without stopping it
(`PR_SET_PDEATHSIG`). Its stdout and stderr go to its log file; the supervisor
adds one JSON line of its own when it starts a process and when one exits.

A child that exits while not asked to is started again after a delay from
`BackoffPolicy`: doubling from `initial_s` up to `max_s`, back to `initial_s`
once a run lasted `reset_after_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from piyasa_cli.embedded._process import _parent_death_hook
from piyasa_cli.errors import StartupFailed

log = logging.getLogger("piyasa.up")

MAX_LOG_BYTES = 20 * 1024 * 1024
"""A log file past this size is rotated to `<name>.log.1` when its process (re)starts."""


@dataclass(frozen=True)
class BackoffPolicy:
    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    reset_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.factor < 1 or self.max_s < self.initial_s:
            raise ValueError(f"inconsistent backoff policy {self}")

    def failures_after(self, failures: int, uptime_s: float) -> int:
        """Consecutive quick failures, counting an exit after `uptime_s` of running."""
        return 1 if uptime_s >= self.reset_after_s else failures + 1

    def delay(self, failures: int) -> float:
        """Seconds to wait before the restart that follows `failures` quick failures."""
        exponent = max(failures, 1) - 1
        # Capped before the power so a long crash loop cannot overflow.
        if self.factor > 1 and exponent > 64:
            return self.max_s
        return float(min(self.max_s, self.initial_s * self.factor**exponent))


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout_s: float = 30.0
    user: str | None = None
    """Run as this system user (PostgreSQL as root)."""


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class SupervisedProcess:
    """One child, kept running until `stop()`."""

    spec: ProcessSpec
    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    on_change: Callable[[], None] = lambda: None
    """Called when the pid changes (started, exited): `piyasa up` rewrites run.json."""

    restarts: int = field(default=0, init=False)
    started_at: datetime | None = field(default=None, init=False)
    last_exit: int | None = field(default=None, init=False)
    _proc: asyncio.subprocess.Process | None = field(default=None, init=False, repr=False)
    _started_mono: float = field(default=0.0, init=False, repr=False)
    _failures: int = field(default=0, init=False, repr=False)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _watcher: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    async def start(self) -> None:
        """Start the child once; `supervise()` then keeps it running."""
        await self._spawn()

    def supervise(self) -> None:
        """Restart the child whenever it exits, until `stop()`."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name=f"supervise:{self.name}")

    async def wait_exit(self) -> int:
        """Wait for the current child to exit (no restart involved); its exit code."""
        if self._proc is None:
            raise StartupFailed(f"{self.name} was never started")
        return await self._proc.wait()

    async def stop(self, timeout: float | None = None) -> int | None:
        """Send the stop signal, wait up to `timeout` seconds, then SIGKILL; no restart."""
        self._stopping.set()
        limit = self.spec.stop_timeout_s if timeout is None else timeout
        code: int | None = None
        while True:
            proc = self._proc
            if proc is not None:
                code = await self._terminate(proc, limit)
            if self._watcher is not None and not self._watcher.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await self._watcher
            if self._proc is proc:
                break
            # The watcher was starting a replacement when asked to stop: stop that one too.
        self.on_change()
        return code

    async def _terminate(self, proc: asyncio.subprocess.Process, limit: float) -> int:
        if proc.returncode is not None:
            return proc.returncode
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(self.spec.stop_signal)
        try:
            return await asyncio.wait_for(proc.wait(), limit)
        except TimeoutError:
            log.warning(
                "%s (pid %d) did not stop within %.0fs; killing it", self.name, proc.pid, limit
            )
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            return await proc.wait()

    def kill(self) -> None:
        """SIGKILL now (a second Ctrl-C); `stop()` still reaps it."""
        self._stopping.set()
        self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    async def _watch(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            if proc is not None:
                code = await proc.wait()
                if self._stopping.is_set():
                    return
                uptime = time.monotonic() - self._started_mono
                self.last_exit = code
                self._note("process exited", exit=describe_exit(code), uptime_s=round(uptime, 3))
                self._failures = self.policy.failures_after(self._failures, uptime)
                reason = f"{describe_exit(code)} after {uptime:.1f}s"
            else:  # the last spawn itself failed
                self._failures += 1
                reason = "could not be started"
            delay = self.policy.delay(self._failures)
            log.warning("%s %s; restarting in %.1fs", self.name, reason, delay)
            self.on_change()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            try:
                await self._spawn()
            except StartupFailed as err:
                log.error("%s", err)
                self._proc = None
                continue
            self.restarts += 1
            log.info("%s restarted (pid %s, restart %d)", self.name, self.pid, self.restarts)
            self.on_change()

    async def _spawn(self) -> None:
        spec = self.spec
        user_ids: dict[str, object] = {}
        if spec.user is not None:
            import pwd

            entry = pwd.getpwnam(spec.user)
            user_ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        handle = _open_log(spec.log_path)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=handle,
                stderr=asyncio.subprocess.STDOUT,
                cwd=spec.cwd,
                env=dict(spec.env) if spec.env is not None else None,
                start_new_session=True,
                preexec_fn=_parent_death_hook(spec.stop_signal),
                **user_ids,  # type: ignore[arg-type]
            )
        except OSError as err:
            raise StartupFailed(f"could not start {spec.name} ({spec.argv[0]}): {err}") from err
        finally:
            handle.close()
        self._started_mono = time.monotonic()
        self.started_at = datetime.now(UTC)
        self._note("process started", pid=self._proc.pid)

    def _note(self, message: str, **fields: object) -> None:
        """One JSON line of the supervisor's own in the child's log."""
        line = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "INFO",
            "service": self.name,
            "logger": "piyasa.supervisor",
            "msg": message,
            **fields,
        }
        with contextlib.suppress(OSError), self.spec.log_path.open("a") as out:
            out.write(json.dumps(line) + "\n")


def _open_log(path: Path) -> BinaryIO:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size > MAX_LOG_BYTES:
                os.replace(path, path.with_name(path.name + ".1"))
        return path.open("ab")
    except OSError as err:
        raise StartupFailed(f"cannot write log file {path}: {err}") from err


class Supervisor:
    """Processes in tiers: started tier by tier, stopped in reverse, each tier at once."""

    def __init__(self) -> None:
        self._tiers: list[list[SupervisedProcess]] = []

    def add_tier(self, processes: Sequence[SupervisedProcess]) -> None:
        self._tiers.append(list(processes))

    @property
    def processes(self) -> list[SupervisedProcess]:
        return [p for tier in self._tiers for p in tier]

    def get(self, name: str) -> SupervisedProcess:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(name)

    async def stop(self, timeout_for: Callable[[SupervisedProcess], float | None]) -> None:
        """Stop every process, the last tier first."""
        for tier in reversed(self._tiers):
            await asyncio.gather(*(p.stop(timeout_for(p)) for p in tier))

    def kill(self) -> None:
        for process in self.processes:
            process.kill()
