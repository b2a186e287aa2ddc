"""Validation beyond the field types, and the stance cooldown rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from piyasa_config.errors import CooldownActive, Invalid
from piyasa_contracts.events._common import Position
from piyasa_contracts.events.config import StanceChanged


def check_timezone(name: str, field: str = "active_hours.timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"unknown time zone {name!r}", field=field) from exc
    return name


def check_flip(
    current: StanceChanged | None, position: Position, *, now: datetime, force: bool
) -> None:
    """A stance may not change its position before `cooldown_until`, unless forced.

    Changing strength or rationale, or keeping the position, is always allowed.
    """
    if current is None or current.deleted or force:
        return
    until = current.cooldown_until
    if position != current.position and until is not None and now < until:
        raise CooldownActive(until)


def flip_cooldown(
    current: StanceChanged, new: StanceChanged, *, now: datetime, cooldown_h: float
) -> StanceChanged:
    """A stance whose position flips cannot flip back for `cooldown_h` hours (the fleet's
    `stance_cooldown_h`; 0: no cooldown). Only for a write that names no `cooldown_until`
    of its own; any other change keeps the stance's cooldown."""
    if current.deleted or new.position == current.position:
        return new
    until = now + timedelta(hours=cooldown_h) if cooldown_h > 0 else None
    return new.model_copy(update={"cooldown_until": until})


def chat_bots(bot_ids: list[str], listener_bot_id: str | None) -> list[str]:
    """The chat's bots: each once, and the listener among them (added if missing)."""
    if len(set(bot_ids)) != len(bot_ids):
        raise Invalid("a bot is listed twice", field="bot_ids")
    if listener_bot_id is not None and listener_bot_id not in bot_ids:
        return [*bot_ids, listener_bot_id]
    return bot_ids
