"""Saving the world to a JSON file and loading it back (so restarts keep chat history)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from pydantic import ValidationError

from .records import WorldSnapshot

__all__ = ["load", "save"]

_log = logging.getLogger(__name__)


def load(path: Path) -> WorldSnapshot | None:
    """The snapshot in `path`; None when there is none or it cannot be read (moved aside)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return WorldSnapshot.model_validate_json(text)
    except ValidationError:
        # Kept aside rather than overwritten by the empty world at the next save.
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        path.replace(aside)
        _log.exception("sandbox state file unreadable; starting empty", extra={"path": str(aside)})
        return None


def save(path: Path, snapshot: WorldSnapshot) -> None:
    """Write `snapshot` to `path` atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = snapshot.model_dump_json()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
