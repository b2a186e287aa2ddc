"""The generator's Prometheus metrics, on the process registry (`piyasa_common.metrics`).

Labels are bounded: `provider` is one of `settings.PROVIDER_NAMES`, `model` comes
from settings or the bots' configured LLM choice, `outcome` / `kind` / `reason`
take the fixed values listed in each help text.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from piyasa_common.metrics import REGISTRY

LLM_CALLS: Final = Counter(
    "piyasa_llm_calls_total",
    "LLM calls by provider, model and outcome (ok, rate_limited, quota_exhausted, "
    "unavailable, timeout, rejected, empty).",
    ["provider", "model", "outcome"],
    registry=REGISTRY,
)
LLM_TOKENS: Final = Counter(
    "piyasa_llm_tokens_total",
    "Tokens by provider, model and kind (prompt, completion, cached_prompt: the part of "
    "prompt that the provider served from its prompt cache).",
    ["provider", "model", "kind"],
    registry=REGISTRY,
)
LLM_COST: Final = Counter(
    "piyasa_llm_cost_usd_total",
    "Spend in US dollars by provider and model, from the price table.",
    ["provider", "model"],
    registry=REGISTRY,
)
LLM_LATENCY: Final = Histogram(
    "piyasa_llm_latency_seconds",
    "Provider call latency, successful or not.",
    ["provider", "model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0),
    registry=REGISTRY,
)
BREAKER_STATE: Final = Gauge(
    "piyasa_llm_breaker_state",
    "Circuit breaker per provider on this replica: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    registry=REGISTRY,
)
BUDGET_EXHAUSTED: Final = Counter(
    "piyasa_llm_budget_exhausted_total",
    "A daily cost budget found spent (scope: provider, bot); alert on any increase.",
    ["provider", "scope"],
    registry=REGISTRY,
)
LLM_WAITS: Final = Counter(
    "piyasa_llm_waits_total",
    "Requests nak'd with a delay instead of waiting, by provider and reason "
    "(requests, tokens, cooldown, concurrency, breaker).",
    ["provider", "reason"],
    registry=REGISTRY,
)
PROMPT_TOKENS_ESTIMATED: Final = Counter(
    "piyasa_generator_prompt_tokens_estimated_total",
    "Estimated prompt tokens built, by part (cacheable: the byte-stable prefix; total).",
    ["part"],
    registry=REGISTRY,
)
TURNS: Final = Counter(
    "piyasa_generator_turns_total",
    "Requests handled by outcome (drafted, expired, dropped) and kind (generate, regenerate).",
    ["outcome", "kind"],
    registry=REGISTRY,
)
