"""The scheduler's process settings (`PIYASA_SCHEDULER_*`), read once at start.

Behaviour knobs (pace, deadlines, limits) are not here: operators change
them at run time through `SettingsChanged` (see `policy.py`).
"""

from __future__ import annotations

from pydantic import Field

from piyasa_common.settings import BackboneSettings


class SchedulerSettings(BackboneSettings):
    scheduler_tick_interval_s: float = Field(
        1.0,
        gt=0.0,
        le=60.0,
        description="Longest sleep of a partition's ticker; events wake it sooner.",
    )
    scheduler_work_window_s: float = Field(
        3600.0,
        gt=0.0,
        le=7 * 24 * 3600.0,
        description="How far back generation requests are read at start and on taking a "
        "partition; must cover the longest turn deadline.",
    )


__all__ = ["SchedulerSettings"]
