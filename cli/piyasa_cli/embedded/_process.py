"""A child process owned by the current Python process (shared by the embedded servers).

The child's stdout and stderr are merged into one pipe that a background task drains
continuously (so the child never blocks on a full pipe), keeping the last lines for error
messages and forwarding every line to a logger at DEBUG level.

On Linux the child is also asked to receive a signal when its parent dies
(``PR_SET_PDEATHSIG``), so a ``kill -9`` of the Python process does not leave a server
holding the state directory. The kernel sends that signal when the *thread* that started
the child exits, so start these processes from the thread that runs the event loop for the
life of the program (``asyncio.run`` in the main thread does this).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be prepared, started or stopped."""


_PR_SET_PDEATHSIG = 1


def _parent_death_hook(sig: signal.Signals) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    try:
        prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    # Resolved in the parent: the hook only makes one foreign call in the child.
    signum = ctypes.c_ulong(int(sig))
    option = ctypes.c_int(_PR_SET_PDEATHSIG)

    def hook() -> None:
        prctl(option, signum)

    return hook


class ChildProcess:
    """One run of a server binary as an asyncio subprocess."""

    def __init__(self, name: str, logger: logging.Logger, *, tail_lines: int = 200) -> None:
        self.name = name
        self._logger = logger
        self._lines: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines the child wrote to stdout/stderr."""
        return "\n".join(list(self._lines)[-lines:])

    async def start(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        death_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        if self.running:
            raise EmbeddedServerError(f"{self.name} is already running (pid {self.pid})")
        self._lines.clear()
        kwargs: dict[str, object] = {}
        if user is not None:
            import pwd

            entry = pwd.getpwnam(user)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        hook = _parent_death_hook(death_signal)
        if hook is not None:
            kwargs["preexec_fn"] = hook
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                **kwargs,  # type: ignore[arg-type]
            )
        except OSError as err:
            raise EmbeddedServerError(f"could not run {self.name} ({argv[0]}): {err}") from err
        self._drain = asyncio.create_task(self._read_output(self._proc), name=f"{self.name}-output")

    async def _read_output(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            self._lines.append(line)
            self._logger.debug("%s[%d]: %s", self.name, proc.pid, line)

    async def wait(self) -> int:
        """Wait for the child to exit and for its output to be read; return its exit code."""
        if self._proc is None:
            raise EmbeddedServerError(f"{self.name} was never started")
        code = await self._proc.wait()
        if self._drain is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._drain), timeout=5)
        return code

    def send_signal(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(sig)

    async def stop(self, sig: signal.Signals, timeout: float) -> int | None:
        """Send ``sig``, wait up to ``timeout`` seconds, then SIGKILL. Returns the exit code."""
        if self._proc is None:
            return None
        if self._proc.returncode is None:
            self.send_signal(sig)
            try:
                await asyncio.wait_for(self._proc.wait(), timeout=timeout)
            except TimeoutError:
                self._logger.warning(
                    "%s (pid %d) did not stop within %.0fs after %s; killing it",
                    self.name,
                    self._proc.pid,
                    timeout,
                    sig.name,
                )
                self.send_signal(signal.SIGKILL)
        code = await self.wait()
        if self._drain is not None and not self._drain.done():
            self._drain.cancel()
        return code


def require_directory(path: Path, what: str) -> Path:
    """Create ``path`` (and parents) or raise a clear error saying why it cannot be used."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:
        raise EmbeddedServerError(
            f"{what} {path} is unusable: it exists and is not a directory"
        ) from err
    except OSError as err:
        raise EmbeddedServerError(f"{what} {path} is unusable: {err}") from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise EmbeddedServerError(f"{what} {path} is unusable: not writable by this user")
    return path
