"""Reading the log files: the last lines of each, then (optionally) what follows."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

_BLOCK = 64 * 1024
FOLLOW_POLL_S = 0.25


def last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a file, reading it backwards in blocks (no full read)."""
    if count <= 0:
        return []
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - _BLOCK)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-count:]


@dataclass
class _Followed:
    name: str
    path: Path
    offset: int = 0
    inode: int | None = None
    partial: bytes = field(default=b"", repr=False)


def follow(
    files: dict[str, Path],
    *,
    stop: Callable[[], bool] = lambda: False,
    poll_s: float = FOLLOW_POLL_S,
) -> Iterator[tuple[str, str]]:
    """Yield (name, line) for every complete line appended from now on, until `stop()`.

    A file that was rotated or truncated is read again from its start.
    """
    followed = []
    for name, path in files.items():
        entry = _Followed(name, path)
        try:
            stat = path.stat()
            entry.offset, entry.inode = stat.st_size, stat.st_ino
        except FileNotFoundError:
            pass
        followed.append(entry)
    while not stop():
        for entry in followed:
            yield from _read_new(entry)
        time.sleep(poll_s)


def _read_new(entry: _Followed) -> Iterator[tuple[str, str]]:
    try:
        stat = entry.path.stat()
    except FileNotFoundError:
        return
    if stat.st_ino != entry.inode or stat.st_size < entry.offset:
        entry.inode, entry.offset, entry.partial = stat.st_ino, 0, b""
    if stat.st_size == entry.offset:
        return
    with entry.path.open("rb") as handle:
        handle.seek(entry.offset)
        chunk = handle.read(stat.st_size - entry.offset)
    entry.offset += len(chunk)
    *complete, entry.partial = (entry.partial + chunk).split(b"\n")
    for raw in complete:
        yield entry.name, raw.decode("utf-8", "replace")
