"""Upcasters: each lifts one event type's payload from version N to N+1.

Every past version has a committed sample under `contracts/samples/` that a
test replays through these functions to the current model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]


def _bot_changed_v1_to_v2(payload: JsonObject) -> JsonObject:
    """v1 kept active hours as "HH-HH" plus a separate `timezone` field."""
    out = dict(payload)
    window = out.pop("active_hours", None)
    timezone = out.pop("timezone", None) or "Europe/Istanbul"
    if isinstance(window, str) and "-" in window:
        start, end = (part.strip() for part in window.split("-", 1))
        out["active_hours"] = {
            "start": f"{int(start):02d}:00",
            "end": "23:59" if int(end) >= 24 else f"{int(end):02d}:00",
            "timezone": timezone,
        }
    else:
        out["active_hours"] = {"timezone": timezone}
    return out


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("bot.changed", 1): _bot_changed_v1_to_v2,
}
