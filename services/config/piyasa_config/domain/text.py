"""Text the log and PostgreSQL can hold: no NUL characters, no lone UTF-16 surrogates.

JSON can carry both (`\\u0000`, `\\ud800`), but an event holding one could never
be projected (PostgreSQL text refuses NUL) or even encoded (UTF-8 refuses lone
surrogates), so the API refuses them at the door, naming the field.
"""

from __future__ import annotations

from typing import Any

from piyasa_config.errors import Invalid

_MAX_DEPTH = 64


def check_text(value: Any, field: str = "body", depth: int = 0) -> None:
    """Raise Invalid naming the first field whose text (or key) cannot be stored."""
    if depth > _MAX_DEPTH:
        raise Invalid("nested too deeply", field=field)
    if isinstance(value, str):
        _check_string(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            _check_string(name, f"{field}.{name}" if field != "body" else name)
            check_text(item, name if field == "body" else f"{field}.{name}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, f"{field}.{index}", depth + 1)


def _check_string(value: str, field: str) -> None:
    if "\x00" in value:
        raise Invalid("text may not contain NUL characters", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid("text may not contain lone UTF-16 surrogates", field=field) from None
