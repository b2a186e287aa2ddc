"""The state directory's layout, and the lock that keeps one `piyasa up` per directory.

<state>/run.json        what runs where (runfile.py), for the other commands
<state>/up.lock         held (flock) by the running `piyasa up`
<state>/logs/<name>.log one file per process: services write JSON lines
<state>/nats/           the embedded NATS store
<state>/postgres/       the embedded PostgreSQL data
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from piyasa_cli.errors import AlreadyRunning, CliError


@dataclass(frozen=True)
class StateDir:
    root: Path

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "up.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def prepare(self) -> None:
        """Create the directory and its logs folder, or say clearly why not."""
        try:
            self.logs.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CliError(f"state directory {self.root} is unusable: {err}") from err
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise CliError(f"state directory {self.root} is not writable by this user")


class UpLock:
    """An exclusive flock on `<state>/up.lock`; released when the process ends, however."""

    def __init__(self, state: StateDir) -> None:
        self._path = state.lock_file
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise AlreadyRunning(
                f"piyasa up is already running on {self._path.parent} (pid {holder})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def is_locked(state: StateDir) -> bool:
    """True while a `piyasa up` holds this state directory."""
    try:
        handle = state.lock_file.open("r")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
