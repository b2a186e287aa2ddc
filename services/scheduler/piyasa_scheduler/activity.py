"""When a chat is awake: bots' active hours and the chat's time-of-day activity curve.

A chat's expected message rate at instant t is

    rate(t) = target_per_hour * curve[h(t)] * A(t) * M / sum(curve[h(m)] * A(m))

where h is the hour of the chat's local day, A(t) is 1 while the chat can hold
a conversation: at least two of its bots (or its only bot) may speak, each
inside its active hours and far enough from their end for a turn to finish
(the turn deadline); no bot speaks twice in a row, so one bot awake is a
monologue, not a conversation. M is the number of such minutes in that
local day. So `target_per_hour` is the mean rate while the chat is
awake, the curve shapes it within the day, and a day's expected count is
`target_per_hour * M / 60`. Outside every bot's active hours the rate is 0.

The day is a 1,440-minute grid from local midnight; days with a DST change
are treated as 24-hour days (Turkey has none since 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from piyasa_contracts.events._common import ActiveHours

MINUTES_PER_DAY = 24 * 60


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A bot's daily active window, in minutes of its own local day.

    start == end means all day; start > end wraps midnight (20:00-02:00).
    """

    start: int
    end: int
    timezone: str

    @classmethod
    def of(cls, hours: ActiveHours) -> Window:
        return cls(_minute(hours.start), _minute(hours.end), hours.timezone)

    def contains_minute(self, minute: int) -> bool:
        m = minute % MINUTES_PER_DAY
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= m < self.end
        return m >= self.start or m < self.end

    def contains(self, instant: datetime) -> bool:
        local = instant.astimezone(zone(self.timezone))
        return self.contains_minute(local.hour * 60 + local.minute)

    def allows_turn(self, instant: datetime, margin_s: float) -> bool:
        """Active now and still active when a turn started now must be done."""
        return self.contains(instant) and self.contains(instant + timedelta(seconds=margin_s))


@dataclass(frozen=True, slots=True)
class DayProfile:
    rates: tuple[float, ...]
    """Expected messages per minute, for each minute of the local day."""
    expected: float
    """Expected messages in the day."""
    awake_minutes: int


@dataclass(frozen=True, slots=True)
class ChatRhythm:
    """Everything a chat's rate depends on; hashable, so day profiles are cached."""

    target_per_hour: float
    curve: tuple[float, ...]
    timezone: str
    windows: tuple[Window, ...]
    """One per bot that may speak, sorted (two bots with the same hours count twice)."""
    margin_s: float

    def day(self, day: date) -> DayProfile:
        return _day_profile(self, day)

    def rate_at(self, instant: datetime) -> float:
        """Expected messages per second at `instant`."""
        local = instant.astimezone(zone(self.timezone))
        return self.day(local.date()).rates[local.hour * 60 + local.minute] / 60.0


@lru_cache(maxsize=8192)
def _day_profile(rhythm: ChatRhythm, day: date) -> DayProfile:
    tz = zone(rhythm.timezone)
    margin_min = math.ceil(rhythm.margin_s / 60.0)
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    speakers = [0] * MINUTES_PER_DAY
    for window in rhythm.windows:
        same_zone = window.timezone == rhythm.timezone
        for m in range(MINUTES_PER_DAY):
            if same_zone:
                able = window.contains_minute(m) and window.contains_minute(m + margin_min)
            else:
                able = window.allows_turn(midnight + timedelta(minutes=m), rhythm.margin_s)
            speakers[m] += able
    needed = min(2, len(rhythm.windows)) or 1
    awake = [n >= needed for n in speakers]
    weights = [rhythm.curve[m // 60] if awake[m] else 0.0 for m in range(MINUTES_PER_DAY)]
    total = sum(weights)
    minutes = sum(awake)
    if total <= 0.0 or rhythm.target_per_hour <= 0.0:
        return DayProfile((0.0,) * MINUTES_PER_DAY, 0.0, minutes)
    scale = rhythm.target_per_hour / 60.0 * minutes / total
    rates = tuple(w * scale for w in weights)
    return DayProfile(rates, rhythm.target_per_hour * minutes / 60.0, minutes)


def advance(
    rhythm: ChatRhythm, start: datetime, units: float, horizon_days: int = 8
) -> datetime | None:
    """The instant at which `units` expected messages have accrued since `start`.

    Time-rescaling: a unit-mean gap in "expected messages" becomes a real gap
    that is short when the chat is busy and stretches across quiet hours.
    None when the chat stays asleep over the horizon.
    """
    tz = zone(rhythm.timezone)
    t = start
    remaining = units
    for _ in range(horizon_days * MINUTES_PER_DAY + 1):
        local = t.astimezone(tz)
        minute = local.hour * 60 + local.minute
        rate = rhythm.day(local.date()).rates[minute] / 60.0
        span = 60.0 - local.second - local.microsecond / 1e6
        mass = rate * span
        if mass >= remaining and rate > 0.0:
            return t + timedelta(seconds=remaining / rate)
        remaining -= mass
        t += timedelta(seconds=span)
    return None


__all__ = ["MINUTES_PER_DAY", "ChatRhythm", "DayProfile", "Window", "advance", "zone"]
