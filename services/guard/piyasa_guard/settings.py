"""The guard's settings: one typed object, read once at start (`PIYASA_GUARD_*`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from piyasa_common.settings import BackboneSettings


class GuardSettings(BackboneSettings):
    """Defaults are what the labelled fixtures were tuned with (see docs/performance.md).

    `guard_max_attempts`, `guard_near_duplicate_threshold` and
    `guard_chat_window_messages` hold only until the fleet's settings are first
    written; then the fleet's `guard_max_retries`, `dedup_threshold` and
    `dedup_window_messages` replace them at run time (`state.py`).
    """

    guard_max_attempts: int = Field(
        2,
        ge=0,
        le=10,
        description="Regenerations per original request; a draft rejected at this attempt "
        "drops the turn (2: a first draft and up to two retries).",
    )
    guard_near_duplicate_threshold: float = Field(
        0.4,
        gt=0.0,
        le=1.0,
        description="Estimated Jaccard of character 4-grams at which a draft is a near-duplicate.",
    )
    guard_chat_window_messages: int = Field(200, ge=1, le=10_000_000)
    guard_chat_window_h: float = Field(24.0, gt=0, le=24 * 365 * 10)
    guard_bot_window_messages: int = Field(200, ge=1, le=10_000_000)
    guard_bot_window_h: float = Field(24.0, gt=0, le=24 * 365 * 10)
    guard_stance_confidence: float = Field(
        0.55, ge=0.0, le=1.0, description="Classifier confidence needed to call a contradiction."
    )
    guard_firm_stance_strength: float = Field(
        0.7, ge=0.0, le=1.0, description="A stance this strong binds even out of its cooldown."
    )
    guard_holding_confidence: float = Field(0.7, ge=0.0, le=1.0)
    guard_disclaimer: str | None = Field(
        None,
        max_length=500,
        description="Appended to every approved message, unless a chat has its own.",
    )
    guard_disclaimers: dict[str, str] = Field(
        default_factory=dict, description="Per-chat disclaimers (chat id -> text), JSON."
    )
    guard_decision_memory: int = Field(
        100_000,
        ge=100,
        le=10_000_000,
        description="Drafts whose decision is remembered, so "
        "a redelivery re-emits the same decision.",
    )
    guard_judge_base_url: str | None = Field(
        None, description="An OpenAI-compatible endpoint: consult an LLM judge on stances."
    )
    guard_judge_model: str = "gpt-4o-mini"
    guard_judge_api_key: str | None = Field(None, repr=False)
    guard_judge_timeout_s: float = Field(5.0, gt=0, le=60)


class GuardOverrides(BaseModel):
    """Advanced knobs in `SettingsChanged.values["guard"]`, on top of the fleet's.

    The fleet's knobs (`FleetSettings`: `dedup_threshold`, `dedup_window_messages`,
    `guard_max_retries`, `max_message_chars`) replace the process settings once the
    fleet's settings are written; `max_attempts` here wins over `guard_max_retries`.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    max_attempts: int | None = Field(None, ge=0, le=10)
    stance_confidence: float | None = Field(None, ge=0.0, le=1.0)
    firm_stance_strength: float | None = Field(None, ge=0.0, le=1.0)
    holding_confidence: float | None = Field(None, ge=0.0, le=1.0)
    disclaimer: str | None = Field(None, max_length=500)
    disclaimers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def parse(cls, values: dict[str, Any]) -> GuardOverrides | None:
        """The overrides in a settings event's values, or None when they are invalid."""
        raw = values.get("guard")
        if not isinstance(raw, dict):
            return cls()
        try:
            return cls.model_validate(raw)
        except ValidationError:
            return None


__all__ = ["GuardOverrides", "GuardSettings"]
