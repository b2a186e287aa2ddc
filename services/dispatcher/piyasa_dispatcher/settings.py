"""The dispatcher's process settings, read once at start.

Behaviour knobs operators change at run time (typing speed, typing budget)
come from the fleet settings in CONFIG (`settings.changed`), not from here.

Telegram: `TELEGRAM_API_BASE` (default: a sandbox on this machine). The real
Bot API is refused unless `PIYASA_TELEGRAM_LIVE=true` says so explicitly
(`piyasa up --live` sets both): a laptop never posts into real groups by
accident.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, model_validator

from piyasa_common.settings import BackboneSettings
from piyasa_dispatcher.limits import LimitRules

SANDBOX_API_BASE = "http://127.0.0.1:8081"
REAL_API_HOSTS = ("api.telegram.org",)


class DispatcherSettings(BackboneSettings):
    telegram_api_base: str = Field(
        SANDBOX_API_BASE,
        validation_alias=AliasChoices("TELEGRAM_API_BASE", "PIYASA_TELEGRAM_API_BASE"),
        description="Bot API base URL (`<base>/bot<token>/<method>`); the sandbox by default.",
    )
    telegram_live: bool = Field(
        False, description="Allow the real Bot API (api.telegram.org); never on by default."
    )
    telegram_sandbox_admin: str | None = Field(
        None,
        validation_alias=AliasChoices("TELEGRAM_SANDBOX_ADMIN", "PIYASA_TELEGRAM_SANDBOX_ADMIN"),
        description="The sandbox's admin API (`.../sandbox/api`): set by `piyasa up` only, so "
        "that the fleet's bots and chats exist in the sandbox too.",
    )
    telegram_timeout_s: float = Field(10.0, gt=0, le=120)
    telegram_connections: int = Field(100, ge=1, le=10_000)

    fernet_keys: SecretStr | None = Field(
        None, description="PIYASA_FERNET_KEYS: comma-separated, newest first (bot tokens)."
    )
    fernet_keys_file: Path | None = None

    # incoming updates
    dispatcher_webhook_url: str | None = Field(
        None,
        description="Public base URL of this service's HTTP port; set, updates come by "
        "webhook (`<url>/telegram/webhook/<bot id>`), else by long polling. `{port}` is "
        "replaced with the HTTP port actually bound.",
    )
    dispatcher_webhook_secret: SecretStr | None = Field(
        None, description="Each bot's webhook secret_token is derived from this."
    )
    dispatcher_poll_timeout_s: int = Field(25, ge=0, le=50)
    dispatcher_poll_backoff_s: float = Field(1.0, gt=0, le=60)
    dispatcher_person_id_key: SecretStr = Field(
        SecretStr("piyasa-people"),
        description="Key of the hash that turns a Telegram user id into an opaque person id; "
        "the same on every replica, and never changed once people are in the log.",
    )

    # limits (Telegram's, per bot)
    dispatcher_chat_interval_s: float = Field(1.0, ge=0, le=60)
    dispatcher_group_per_window: int = Field(20, ge=1, le=100_000)
    dispatcher_group_window_s: float = Field(60.0, ge=0, le=3600)
    dispatcher_bot_per_window: int = Field(30, ge=1, le=100_000)
    dispatcher_bot_window_s: float = Field(1.0, ge=0, le=60)
    dispatcher_limit_margin: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Windows widened by this fraction: jitter on the way to Telegram.",
    )

    # typing
    dispatcher_typing_repeat_s: float = Field(
        4.5, gt=0, le=30, description="A typing action shows ~5 s; repeat it this often."
    )
    dispatcher_typing_jitter: float = Field(0.2, ge=0, lt=1)

    # retries and the turn ledger
    dispatcher_retry_initial_s: float = Field(1.0, gt=0, le=600)
    dispatcher_retry_max_s: float = Field(60.0, gt=0, le=3600)
    dispatcher_reply_wait_s: float = Field(
        60.0, ge=0, le=3600, description="How long a reply waits for its in-flight target."
    )
    dispatcher_intent_grace_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="An intent found on taking a partition is declared ambiguous only once "
        "it is this old (the previous owner may still be finishing it).",
    )
    dispatcher_ledger_ttl_s: int = Field(
        600,
        ge=60,
        le=30 * 24 * 3600,
        description="Ledger records outlive the turn's deadline this long: an approved "
        "message comes back only unacked (within the ack wait) or replayed by an operator.",
    )
    dispatcher_updates_ttl_s: int = Field(
        25 * 3600, ge=60, le=30 * 24 * 3600, description="How long updates seen are remembered."
    )

    @model_validator(mode="after")
    def _never_live_by_accident(self) -> DispatcherSettings:
        host = (urlsplit(self.telegram_api_base).hostname or "").lower()
        if host in REAL_API_HOSTS and not self.telegram_live:
            raise ValueError(
                f"TELEGRAM_API_BASE points at the real Bot API ({host}); set "
                "PIYASA_TELEGRAM_LIVE=true (piyasa up --live) to post into real groups"
            )
        if self.dispatcher_webhook_url and self.dispatcher_webhook_secret is None:
            raise ValueError("webhooks need PIYASA_DISPATCHER_WEBHOOK_SECRET")
        return self

    def limit_rules(self) -> LimitRules:
        return LimitRules(
            chat_interval_s=self.dispatcher_chat_interval_s,
            group_max=self.dispatcher_group_per_window,
            group_window_s=self.dispatcher_group_window_s,
            bot_max=self.dispatcher_bot_per_window,
            bot_window_s=self.dispatcher_bot_window_s,
            margin=self.dispatcher_limit_margin,
        )


__all__ = ["SANDBOX_API_BASE", "DispatcherSettings"]
