"""What a call costs: US dollars per million tokens, by model.

Prices are the providers' list prices for standard (non-batch) use as of 2025;
`PIYASA_LLM_PRICES` overrides or adds models without a release. A model is
matched by its longest known prefix (`gpt-4o-mini-2024-07-18` -> `gpt-4o-mini`);
an unknown model costs nothing and is logged once, so a typo cannot stop the fleet.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    cached_input: float
    output: float

    def cost(self, prompt: int, cached: int, completion: int) -> float:
        """USD for one call; cached prompt tokens are part of `prompt`."""
        cached = min(cached, prompt)
        return (
            (prompt - cached) * self.input + cached * self.cached_input + completion * self.output
        ) / 1e6


FREE = Price(0.0, 0.0, 0.0)

PRICES: Mapping[str, Price] = {
    # OpenAI
    "gpt-4o-mini": Price(0.15, 0.075, 0.60),
    "gpt-4o": Price(2.50, 1.25, 10.00),
    "gpt-4.1-nano": Price(0.10, 0.025, 0.40),
    "gpt-4.1-mini": Price(0.40, 0.10, 1.60),
    "gpt-4.1": Price(2.00, 0.50, 8.00),
    "gpt-5-nano": Price(0.05, 0.005, 0.40),
    "gpt-5-mini": Price(0.25, 0.025, 2.00),
    # Gemini
    "gemini-2.0-flash-lite": Price(0.075, 0.01875, 0.30),
    "gemini-2.0-flash": Price(0.10, 0.025, 0.40),
    "gemini-2.5-flash-lite": Price(0.10, 0.025, 0.40),
    "gemini-2.5-flash": Price(0.30, 0.075, 2.50),
    "gemini-2.5-pro": Price(1.25, 0.31, 10.00),
    # Groq
    "llama-3.1-8b-instant": Price(0.05, 0.05, 0.08),
    "llama-3.3-70b-versatile": Price(0.59, 0.295, 0.79),
    "openai/gpt-oss-20b": Price(0.10, 0.05, 0.50),
    "openai/gpt-oss-120b": Price(0.15, 0.075, 0.75),
    # the offline writer
    "offline-grammar-1": FREE,
}


class PriceTable:
    def __init__(self, overrides: Mapping[str, tuple[float, float, float]] | None = None) -> None:
        self._prices = dict(PRICES)
        for model, (inp, cached, out) in (overrides or {}).items():
            self._prices[model] = Price(inp, cached, out)
        self._by_length = sorted(self._prices, key=len, reverse=True)
        self._unknown: set[str] = set()

    def price(self, model: str) -> Price:
        name = model.removeprefix("models/")
        exact = self._prices.get(name)
        if exact is not None:
            return exact
        for known in self._by_length:
            if name.startswith(known):
                return self._prices[known]
        if name not in self._unknown and len(self._unknown) < 100:
            self._unknown.add(name)
            log.warning("no price for model; counting it as free", extra={"model": name})
        return FREE
