"""The fleet's behaviour knobs: the typed form of `settings.changed`'s `values`.

The config service validates every write against `FleetSettings` (unknown
keys refused, ranges checked) and stores the full, defaulted set of values in
the event, so a reader gets every knob from the last `settings.changed`
event alone. Readers parse with `FleetSettings.model_validate(values)`, which
ignores keys they do not know yet (a newer config service may add knobs
before they are upgraded) and fills a missing key with its default. A reader
takes only the event with id `SETTINGS_ID` that is not deleted.

Who reads which knob (where it takes effect):

    scheduler   turns_in_flight_per_chat, turn_deadline_s, min_gap_s, gap_jitter,
                reply_probability, mention_reply_probability, context_messages
    generator   context_messages, max_message_chars, daily_budget_usd_per_provider,
                daily_budget_usd_per_bot
    guard       dedup_threshold, dedup_window_messages, guard_max_retries, max_message_chars
    dispatcher  typing_chars_per_second, typing_max_s, typing_actions_per_minute
    config      stance_cooldown_h (applied to the stance writes it accepts)

The scheduler and the guard also read a block of advanced overrides of their
own (`values["scheduler"]`, `values["guard"]`) on top of these knobs.
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

    # pacing and replies (scheduler)
    turns_in_flight_per_chat: int = Field(
        1, ge=1, le=5, description="Turns a chat may have in flight at once."
    )
    turn_deadline_s: float = Field(
        300.0, ge=10.0, le=3600.0, description="A turn not posted by then expires at any stage."
    )
    min_gap_s: float = Field(
        20.0,
        ge=0.0,
        le=3600.0,
        description="Quiet time after a chat's last message before a scheduled bot message "
        "(a reply to a human does not wait for it).",
    )
    gap_jitter: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Coefficient of variation of the gaps between a chat's scheduled messages "
        "(0: even, 1: memoryless).",
    )
    reply_probability: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Chance a scheduled bot message replies to the recent line that most "
        "contradicts its stances, rather than starting a thread of its own (a mention or a "
        "human's open question is always its target).",
    )
    mention_reply_probability: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Chance a bot a human mentions (@username, or a reply to its message) "
        "answers the mention.",
    )
    # context and length (scheduler, generator, guard)
    context_messages: int = Field(
        20, ge=0, le=200, description="Last N chat messages given to the LLM."
    )
    max_message_chars: int = Field(
        600, ge=20, le=4096, description="Longest message a bot may post."
    )
    # cost (generator)
    daily_budget_usd_per_provider: dict[_ProviderName, _Usd] = Field(
        default_factory=lambda: {"openai": 20.0, "gemini": 20.0, "groq": 10.0},
        max_length=20,
        description="Daily spend per LLM provider, by the generator's provider names (openai, "
        "gemini, groq, compatible); when spent the provider's breaker opens. A provider not "
        "named keeps the generator's own setting; 0 sets no budget.",
        # patternProperties alone would let the schema admit any other key.
        json_schema_extra={"additionalProperties": False},
    )
    daily_budget_usd_per_bot: float = Field(
        1.0, ge=0.0, le=1000.0, description="Daily spend per bot across providers (0: none)."
    )
    # guard
    dedup_threshold: float = Field(
        0.4,
        ge=0.1,
        le=1.0,
        description="Similarity at or above which a draft is a near-duplicate of a recent "
        "message: the estimated Jaccard similarity of their character 4-grams (case, Turkish "
        "letters and punctuation folded).",
    )
    dedup_window_messages: int = Field(
        200, ge=10, le=5000, description="Recent chat messages a draft is compared with."
    )
    guard_max_retries: int = Field(
        2, ge=0, le=10, description="Regenerations after a rejection before the turn drops."
    )
    # stances (config)
    stance_cooldown_h: float = Field(
        24.0,
        ge=0.0,
        le=720.0,
        description="Cooldown a stance gets when its position flips and the write names no "
        "cooldown_until (0: none).",
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
