"""The sandbox's settings: one typed object, read once at start (env `PIYASA_SANDBOX_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LimitSettings(BaseSettings):
    """Telegram's flood limits as the sandbox enforces them (TELEGRAM.md section 4).

    Each can be changed at run time through `PUT /sandbox/api/limits`.
    """

    model_config = SettingsConfigDict(env_prefix="PIYASA_SANDBOX_LIMIT_", extra="ignore")

    enabled: bool = True
    chat_per_s: float = Field(1.0, gt=0, description="Messages per second in one chat.")
    chat_burst: int = Field(
        3, ge=1, le=1000, description="Short bursts over chat_per_s that are still allowed."
    )
    group_per_min: int = Field(20, ge=1, le=10_000, description="Per bot, in one group.")
    bot_per_s: int = Field(30, ge=1, le=10_000, description="Per bot, all chats together.")
    set_webhook_interval_s: float = Field(
        1.0, ge=0, le=60, description="setWebhook with a new URL at most this often."
    )


class SandboxSettings(BaseSettings):
    """Everything the sandbox reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="PIYASA_SANDBOX_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8081, ge=0, le=65535, description="0 picks a free port.")
    state_file: Path | None = Field(
        None, description="JSON file the world is loaded from at start and saved to at stop."
    )
    save_interval_s: float = Field(
        30.0, ge=0, le=3600, description="Also save this often while running (0: only at stop)."
    )
    max_messages_per_chat: int = Field(5000, ge=10, le=1_000_000)
    max_typing_events_per_chat: int = Field(1000, ge=10, le=1_000_000)
    max_pending_updates: int = Field(
        10_000, ge=10, le=1_000_000, description="Per bot; the oldest are dropped beyond it."
    )
    typing_duration_s: float = Field(5.0, gt=0, le=60, description="How long one action shows.")
    max_poll_timeout_s: int = Field(50, ge=0, le=50)
    webhook_timeout_s: float = Field(10.0, gt=0, le=120)
    webhook_retry_initial_s: float = Field(1.0, gt=0, le=600)
    webhook_retry_max_s: float = Field(60.0, gt=0, le=3600)
    webhook_max_attempts: int = Field(
        20, ge=1, le=10_000, description="Deliveries of one update before it is dropped."
    )
    limits: LimitSettings = Field(default_factory=LimitSettings)
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
