"""The scheduler's behaviour knobs, read from the fleet's `settings.changed` event.

Operators change them at run time through the config service. The base is the
fleet's knobs (`FleetSettings`, what the API writes), mapped onto the policy:

    turns_in_flight_per_chat   turns_in_flight
    turn_deadline_s            turn_deadline_s
    min_gap_s                  min_gap_s
    gap_jitter                 gap_shape = 1 / gap_jitter**2 (the gamma gaps' coefficient
                               of variation is 1/sqrt(shape)), at most 100
    context_messages           history_lines
    reply_probability          disagreement_reply_probability
    mention_reply_probability  mention_reply_probability

On top of them, `values["scheduler"]` holds advanced overrides: any field of
`SchedulerPolicy`, by its own name, wins over the fleet's knob (the config
API refuses keys that are not fleet knobs, so this block comes from events
published by other means). Every field has a documented default (the
defaults of the fleet's knobs where they map), so an empty settings aggregate
is a working fleet. An invalid event is ignored as a whole (logged by the
state), never half-applied.

```json
{"min_gap_s": 30, "gap_jitter": 0.5, "scheduler": {
    "back_and_forth_limit": 6, "mention_delay_s": [5, 30], "human_delay_s": [15, 90],
    "chats": {"<chat id>": {"turns_in_flight": 2, "timezone": "Europe/Berlin"}},
    "relationships": [{"bot_id": "a", "other_id": "b", "affinity": -0.6, "note": "rivals"}]
}}
```

The conversation window loaded at start-up is the backbone's
`PIYASA_CONVERSATION_WINDOW_H` (24 h): it bounds start-up, so it cannot change
at run time.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from piyasa_contracts.events._common import OpaqueId
from piyasa_contracts.fleet_settings import DEFAULT_FLEET_SETTINGS, FleetSettings

MAX_GAP_SHAPE = 100.0
"""The most regular gaps (coefficient of variation 0.1): what a jitter of 0 becomes."""


def gap_shape_for(jitter: float) -> float:
    """The gamma shape whose gaps have `jitter` as their coefficient of variation."""
    return MAX_GAP_SHAPE if jitter <= 0.0 else min(1.0 / jitter**2, MAX_GAP_SHAPE)


def fleet_knobs(fleet: FleetSettings) -> dict[str, Any]:
    """The policy fields the fleet's knobs set, by the policy's names."""
    return {
        "turns_in_flight": fleet.turns_in_flight_per_chat,
        "turn_deadline_s": fleet.turn_deadline_s,
        "min_gap_s": fleet.min_gap_s,
        "gap_shape": gap_shape_for(fleet.gap_jitter),
        "history_lines": fleet.context_messages,
        "disagreement_reply_probability": fleet.reply_probability,
        "mention_reply_probability": fleet.mention_reply_probability,
    }


_DEFAULTS = fleet_knobs(DEFAULT_FLEET_SETTINGS)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def _valid_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class ChatOverrides(_Frozen):
    """Per-chat exceptions to the fleet-wide knobs."""

    turns_in_flight: int | None = Field(None, ge=1, le=10)
    back_and_forth_limit: int | None = Field(None, ge=2, le=100)
    timezone: str | None = Field(None, description="IANA zone of the chat's local day.")

    _tz = field_validator("timezone")(_valid_timezone)


class RelationshipSetting(_Frozen):
    """How `bot_id` feels about `other_id` (-1 dislikes .. +1 likes); one direction."""

    bot_id: OpaqueId
    other_id: OpaqueId
    affinity: float = Field(ge=-1.0, le=1.0)
    note: str = Field("", max_length=200)


class SchedulerPolicy(_Frozen):
    history_lines: int = Field(
        _DEFAULTS["history_lines"],
        ge=0,
        le=200,
        description="N: the chat's last messages every request carries.",
    )
    turns_in_flight: int = Field(
        _DEFAULTS["turns_in_flight"], ge=1, le=10, description="Open turns per chat at most."
    )
    turn_deadline_s: float = Field(
        _DEFAULTS["turn_deadline_s"],
        ge=5.0,
        le=3600.0,
        description="A turn not sent by then expires; every stage drops it. It is also the "
        "margin before the end of a bot's active hours in which it gets no new turn.",
    )
    back_and_forth_limit: int = Field(
        6, ge=2, le=100, description="Alternating messages of the same two bots, at most."
    )
    drift_pause_s: float = Field(
        600.0,
        ge=0.0,
        le=24 * 3600.0,
        description="A silence this long ends a back-and-forth (people drifted off).",
    )
    mention_delay_s: tuple[float, float] = Field(
        (5.0, 30.0), description="Delay range of the reply to a mention (or a reply to a bot)."
    )
    human_delay_s: tuple[float, float] = Field(
        (15.0, 90.0), description="Delay range of the reply to a human's other messages."
    )
    mention_reply_probability: float = Field(
        _DEFAULTS["mention_reply_probability"],
        ge=0.0,
        le=1.0,
        description="Chance a human's mention of a bot (@username, or a reply to its message) "
        "gets the bot's reply.",
    )
    question_reply_probability: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Chance a human's question gets a reply; other messages use the "
        "chat's reply_probability.",
    )
    disagreement_reply_probability: float = Field(
        _DEFAULTS["disagreement_reply_probability"],
        ge=0.0,
        le=1.0,
        description="Chance a scheduled turn replies to the recent line that most contradicts "
        "its speaker's stances rather than starting a thread of its own.",
    )
    human_pending_s: float = Field(
        900.0,
        gt=0.0,
        le=24 * 3600.0,
        description="A human's message unanswered this long is let go.",
    )
    min_gap_s: float = Field(
        _DEFAULTS["min_gap_s"],
        ge=0.0,
        le=3600.0,
        description="Quiet time after the chat's last message (or turn) before a scheduled "
        "turn; a reply to a human does not wait for it.",
    )
    opening_delay_s: float = Field(
        15.0,
        ge=0.0,
        le=3600.0,
        description="A chat with no line in its recent window, awake now, gets its first "
        "slot this soon (jittered 0.5x-1.5x) when its plan starts, rather than after a whole "
        "gap: a new or long-silent group comes alive at once. 0: no opening.",
    )
    gap_shape: float = Field(
        _DEFAULTS["gap_shape"],
        gt=0.0,
        le=MAX_GAP_SHAPE,
        description="Shape k of the gamma-distributed gaps (1: exponential, larger: more regular).",
    )
    slot_grace_s: float = Field(
        900.0,
        gt=0.0,
        le=24 * 3600.0,
        description="A due slot that found no speaker for this long is skipped.",
    )
    max_slots: int = Field(3, ge=1, le=10, description="Due slots kept waiting, at most.")
    max_reply_debt: int = Field(
        3,
        ge=0,
        le=100,
        description="Replies made ahead of the schedule that later slots pay back, at most.",
    )
    recent_lines: int = Field(
        6, ge=1, le=50, description="Lines considered for disagreement and reply targets."
    )
    recent_window_s: float = Field(1800.0, gt=0.0, le=7 * 24 * 3600.0)
    mentionable_humans: int = Field(50, ge=0, le=400)
    reaction_probability: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="Chance that a line some bot sides with (or doubts) gets its reaction.",
    )
    reaction_delay_s: tuple[float, float] = Field((3.0, 90.0), description="Delay of a reaction.")
    default_timezone: str = Field(
        "Europe/Istanbul", description="The chats' local day, unless their bots agree on another."
    )
    chats: dict[str, ChatOverrides] = Field(default_factory=dict)
    relationships: list[RelationshipSetting] = Field(default_factory=list, max_length=100_000)

    _tz = field_validator("default_timezone")(_valid_timezone)
    _affinities: dict[tuple[str, str], RelationshipSetting] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._affinities.update({(r.bot_id, r.other_id): r for r in self.relationships})

    @field_validator("mention_delay_s", "human_delay_s", "reaction_delay_s")
    @classmethod
    def _ordered_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not 0.0 <= lo <= hi <= 24 * 3600.0:
            raise ValueError("expected [low, high] seconds with 0 <= low <= high")
        return v

    @classmethod
    def parse(cls, values: dict[str, Any]) -> SchedulerPolicy | None:
        """The policy in a settings event's values: the fleet's knobs, then the advanced
        overrides of `values["scheduler"]`; None when either is invalid."""
        raw = values.get("scheduler")
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            return None
        try:
            fleet = FleetSettings.model_validate(values)
            return cls.model_validate({**fleet_knobs(fleet), **raw})
        except ValidationError:
            return None

    # -- per chat ------------------------------------------------------------
    def turns_in_flight_for(self, chat_id: str) -> int:
        o = self.chats.get(chat_id)
        return o.turns_in_flight if o and o.turns_in_flight is not None else self.turns_in_flight

    def back_and_forth_limit_for(self, chat_id: str) -> int:
        o = self.chats.get(chat_id)
        if o and o.back_and_forth_limit is not None:
            return o.back_and_forth_limit
        return self.back_and_forth_limit

    def timezone_for(self, chat_id: str) -> str | None:
        o = self.chats.get(chat_id)
        return o.timezone if o else None

    def affinity(self, bot_id: str, other_id: str) -> float:
        found = self._affinities.get((bot_id, other_id))
        return found.affinity if found else 0.0

    def relationships_of(self, bot_id: str) -> list[RelationshipSetting]:
        return [r for r in self.relationships if r.bot_id == bot_id]


__all__ = [
    "MAX_GAP_SHAPE",
    "ChatOverrides",
    "RelationshipSetting",
    "SchedulerPolicy",
    "fleet_knobs",
    "gap_shape_for",
]
