"""The fleet's behaviour knobs: the typed form of `settings.changed`'s `values`.

The config service validates every write against `FleetSettings` (unknown
keys refused, ranges checked) and stores the full, defaulted set of values in
the event, so a reader gets every knob from the last `settings.changed`
event alone. Readers parse with `FleetSettings.model_validate(values)`, which
ignores keys they do not know yet (a newer config service may add knobs
before they are upgraded) and fills a missing key with its default.

    scheduler   turns_in_flight_per_chat, turn_deadline_s, min_gap_s, gap_jitter,
                bot_hourly_limit, reply_probability, mention_reply_probability,
                human_message_boost, stance_cooldown_h
    generator   context_messages, max_message_chars, daily_budget_usd_per_provider,
                daily_budget_usd_per_bot
    guard       dedup_threshold, dedup_window_messages, guard_max_retries
    dispatcher  typing_chars_per_second, typing_max_s, typing_actions_per_minute
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

SETTINGS_ID: Final = "fleet"
"""The one settings aggregate's id: `<prefix>.config.settings.fleet`."""

_Usd = Annotated[float, Field(ge=0.0, le=100_000.0)]
_ProviderName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


class FleetSettings(BaseModel):
    """Global behaviour knobs with their defaults and the ranges the API accepts."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # pacing (scheduler)
    turns_in_flight_per_chat: int = Field(
        1, ge=1, le=5, description="Turns a chat may have in flight at once."
    )
    turn_deadline_s: float = Field(
        300.0, ge=10.0, le=3600.0, description="A turn not posted by then expires at any stage."
    )
    min_gap_s: float = Field(
        20.0, ge=0.0, le=3600.0, description="Shortest gap between two bot messages in a chat."
    )
    gap_jitter: float = Field(
        0.35, ge=0.0, le=1.0, description="Relative random spread of each gap (0.35 = +-35%)."
    )
    bot_hourly_limit: int = Field(
        6, ge=0, le=1000, description="Messages per bot per hour when the bot sets none."
    )
    reply_probability: float = Field(
        0.6, ge=0.0, le=1.0, description="Chance a bot message replies to a recent one."
    )
    mention_reply_probability: float = Field(
        0.95, ge=0.0, le=1.0, description="Chance a mentioned bot answers the mention."
    )
    human_message_boost: float = Field(
        2.0, ge=1.0, le=10.0, description="How much a human's message raises the chat's rate."
    )
    stance_cooldown_h: float = Field(
        24.0, ge=0.0, le=720.0, description="Default cooldown after a stance flips by drift."
    )
    # generation (generator)
    context_messages: int = Field(
        20, ge=0, le=200, description="Last N chat messages given to the LLM."
    )
    max_message_chars: int = Field(
        600, ge=20, le=4096, description="Longest message a bot may post."
    )
    daily_budget_usd_per_provider: dict[_ProviderName, _Usd] = Field(
        default_factory=lambda: {"openai": 20.0, "google": 20.0, "groq": 10.0},
        max_length=20,
        description="Daily spend per LLM provider; when spent the provider's breaker opens.",
        # patternProperties alone would let the schema admit any other key.
        json_schema_extra={"additionalProperties": False},
    )
    daily_budget_usd_per_bot: float = Field(
        1.0, ge=0.0, le=1000.0, description="Daily spend per bot across providers."
    )
    # guard
    dedup_threshold: float = Field(
        0.88,
        ge=0.5,
        le=1.0,
        description="Semantic similarity above which a draft is a near-duplicate.",
    )
    dedup_window_messages: int = Field(
        200, ge=10, le=5000, description="Recent chat messages a draft is compared with."
    )
    guard_max_retries: int = Field(
        2, ge=0, le=10, description="Regenerations after a rejection before the turn drops."
    )
    # dispatch (dispatcher)
    typing_chars_per_second: float = Field(
        12.0, ge=1.0, le=100.0, description="Simulated typing speed."
    )
    typing_max_s: float = Field(25.0, ge=0.0, le=120.0, description="Longest typing simulation.")
    typing_actions_per_minute: int = Field(
        10, ge=0, le=60, description="sendChatAction calls budgeted per chat per minute."
    )


class FleetSettingsInput(FleetSettings):
    """What the API accepts: the same knobs, with unknown keys refused by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")


DEFAULT_FLEET_SETTINGS: Final = FleetSettings()
