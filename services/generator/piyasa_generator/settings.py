"""The generator's settings: the backbone's, plus providers, budgets and retry policy.

The history, the message length and the daily budgets are the fleet's knobs
once an operator has written the fleet's settings (see `fleet.py`); the values
here are what the generator uses until then.

Provider keys come from the environment names DESIGN.md gives (`OPENAI_API_KEY`,
`GEMINI_API_KEY`, `GROQ_API_KEY`, `LLM_BASE_URL`, `LLM_MODEL`); everything else
uses the `PIYASA_` prefix. Keys are `SecretStr`: they print as `**********` and
`main` registers them with the log redactor before anything is logged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator

from piyasa_common.settings import BackboneSettings

ProviderName = Literal["openai", "gemini", "groq", "compatible", "offline"]
PROVIDER_NAMES: tuple[ProviderName, ...] = ("openai", "gemini", "groq", "compatible", "offline")
"""Also the default order: the first one configured is the default provider."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, f"PIYASA_{name}")


class GeneratorSettings(BackboneSettings):
    # providers -------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(
        None, description="Only to point the SDK elsewhere (a proxy, a fake server)."
    )
    openai_model: str = "gpt-4o-mini"
    gemini_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("GEMINI_API_KEY", "PIYASA_GEMINI_API_KEY", "GOOGLE_API_KEY"),
    )
    gemini_base_url: str | None = None
    gemini_model: str = "gemini-2.0-flash"
    groq_api_key: SecretStr | None = Field(None, validation_alias=_env("GROQ_API_KEY"))
    groq_base_url: str | None = None
    groq_model: str = "llama-3.3-70b-versatile"
    llm_base_url: str | None = Field(
        None,
        validation_alias=_env("LLM_BASE_URL"),
        description="Any OpenAI-compatible server (Ollama, vLLM), e.g. http://127.0.0.1:11434/v1.",
    )
    llm_api_key: SecretStr | None = Field(None, validation_alias=_env("LLM_API_KEY"))
    llm_model: str = Field("llama3.1", validation_alias=_env("LLM_MODEL"))

    llm_providers: tuple[ProviderName, ...] | None = Field(
        None,
        description="Fallback order; default: every configured provider in PROVIDER_NAMES order, "
        "or offline when none is.",
    )
    offline_fallback: bool = Field(
        False, description="Append the offline generator after the configured providers."
    )

    # calls -----------------------------------------------------------------
    llm_timeout_s: float = Field(20.0, gt=0, le=300, description="One provider call, end to end.")
    llm_connect_timeout_s: float = Field(5.0, gt=0, le=60)
    llm_concurrency: int = Field(
        16, ge=1, le=1000, description="Calls in flight per provider per replica."
    )
    llm_temperature: float = Field(0.9, ge=0.0, le=2.0)
    history_lines: int = Field(
        20,
        ge=0,
        le=200,
        description="Last N chat lines in the prompt, until the fleet's settings are written "
        "(then: their context_messages).",
    )
    max_calls_per_delivery: int = Field(
        3, ge=1, le=10, description="Provider calls one delivery may make (failover included)."
    )

    # budgets (shared by every replica through KV) ---------------------------
    llm_rpm: dict[str, int] = Field(
        default_factory=dict,
        description="Requests per minute per provider until its headers tell the real limit "
        "(Gemini sends none, so this is its only proactive limit).",
    )
    llm_tpm: dict[str, int] = Field(default_factory=dict, description="Tokens per minute.")
    provider_daily_budget_usd: float = Field(
        20.0,
        ge=0,
        description="Per provider per day; spent -> the breaker opens till midnight. The fleet's "
        "daily_budget_usd_per_provider, once written, wins for the providers it names.",
    )
    provider_daily_budget_overrides: dict[str, float] = Field(default_factory=dict)
    bot_daily_budget_usd: float = Field(
        0.5,
        ge=0,
        description="Per bot per day, over priced providers; 0 turns it off. Until the fleet's "
        "settings are written (then: their daily_budget_usd_per_bot).",
    )
    llm_prices: dict[str, tuple[float, float, float]] = Field(
        default_factory=dict,
        description="USD per million tokens (input, cached input, output), by model; "
        "merged over the built-in table.",
    )

    # failure policy --------------------------------------------------------
    breaker_failures: int = Field(3, ge=1, le=100, description="Consecutive failures to open.")
    breaker_open_s: float = Field(30.0, gt=0, le=3600)
    quota_open_s: float = Field(3600.0, gt=0, le=86400, description="After insufficient_quota.")
    prefer_wait_s: float = Field(
        5.0,
        ge=0,
        le=600,
        description="A shorter wait for a provider's slot is waited out (nak'd with that delay) "
        "rather than falling back to the next provider.",
    )
    retry_base_s: float = Field(1.0, gt=0, le=60, description="Jittered backoff after failures.")
    retry_cap_s: float = Field(30.0, gt=0, le=600)
    max_failed_rounds: int = Field(
        3, ge=1, le=20, description="Deliveries that may fail on every provider before dropping."
    )

    @field_validator("llm_providers", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return tuple(p.strip() for p in v.split(",") if p.strip())
        return v

    def secrets(self) -> list[str]:
        """Every configured key, to be masked in logs."""
        keys = (self.openai_api_key, self.gemini_api_key, self.groq_api_key, self.llm_api_key)
        return [k.get_secret_value() for k in keys if k is not None and k.get_secret_value()]

    def configured(self) -> list[ProviderName]:
        """Providers in fallback order; offline when nothing else is configured."""
        present: dict[ProviderName, bool] = {
            "openai": self.openai_api_key is not None,
            "gemini": self.gemini_api_key is not None,
            "groq": self.groq_api_key is not None,
            "compatible": self.llm_base_url is not None,
            "offline": True,
        }
        order = self.llm_providers or PROVIDER_NAMES[:-1]
        chosen = [p for p in order if present[p]]
        if not chosen or (self.offline_fallback and "offline" not in chosen):
            chosen.append("offline")
        return chosen

    def daily_budget(self, provider: str) -> float:
        return self.provider_daily_budget_overrides.get(provider, self.provider_daily_budget_usd)
