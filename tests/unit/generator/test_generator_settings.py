"""Settings: which providers run, in which order, and keys that never show."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from piyasa_common.logs import JsonFormatter, RedactingFilter, register_secret
from piyasa_generator.pricing import PriceTable
from piyasa_generator.providers.factory import build_providers
from piyasa_generator.settings import GeneratorSettings

NO_KEYS: dict[str, Any] = {
    "openai_api_key": None,
    "gemini_api_key": None,
    "groq_api_key": None,
    "llm_base_url": None,
    "llm_api_key": None,
}


def settings(**values: Any) -> GeneratorSettings:
    return GeneratorSettings(**{**NO_KEYS, **values})


def test_with_no_key_the_offline_writer_is_the_only_provider() -> None:
    assert settings().configured() == ["offline"]
    assert [p.name for p in build_providers(settings())] == ["offline"]


def test_the_first_configured_provider_is_the_default() -> None:
    s = settings(groq_api_key="gsk_test_key_123456", gemini_api_key="g-test-key-123456")
    assert s.configured() == ["gemini", "groq"]
    s = settings(llm_base_url="http://127.0.0.1:11434/v1", offline_fallback=True)
    assert s.configured() == ["compatible", "offline"]


def test_an_explicit_order_is_kept() -> None:
    s = settings(
        openai_api_key="sk-test-123456", groq_api_key="gsk_test_123456", llm_providers="groq,openai"
    )
    assert s.configured() == ["groq", "openai"]


def test_the_environment_names_from_the_design_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-123456")
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("LLM_MODEL", "qwen2.5")
    s = GeneratorSettings()
    assert s.openai_api_key is not None
    assert s.openai_api_key.get_secret_value() == "sk-from-env-123456"
    assert (s.llm_base_url, s.llm_model) == ("http://127.0.0.1:8000/v1", "qwen2.5")


def test_keys_never_show_in_reprs_or_logs() -> None:
    key = "sk-proj-supersecretvalue1234567890"
    s = settings(openai_api_key=key, groq_api_key="gsk_anothersecret1234567890")
    assert key not in repr(s) and key not in str(s.model_dump())
    for secret in s.secrets():
        register_secret(secret)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "calling with %s", (key,), None)
    RedactingFilter().filter(record)
    assert key not in json.dumps(JsonFormatter("generator").format(record))


def test_prices_match_dated_model_names_and_unknown_models_cost_nothing() -> None:
    table = PriceTable({"my-local": (1.0, 0.5, 2.0)})
    assert table.price("gpt-4o-mini-2024-07-18") == table.price("gpt-4o-mini")
    assert table.price("gpt-4o-2024-08-06").input == 2.5
    assert table.price("models/gemini-2.0-flash").output == 0.40
    assert table.price("my-local").cost(1000, 400, 100) == pytest.approx(
        (600 * 1.0 + 400 * 0.5 + 100 * 2.0) / 1e6
    )
    assert table.price("who-knows").cost(10**6, 0, 10**6) == 0.0
