"""aiohttp stays out of the generator's dependency closure.

google-genai switches its async transport to aiohttp whenever aiohttp is importable,
with a hidden retry on connection errors (LLM_PROVIDERS.md). The generator passes
an explicit httpx2 client, and its installed dependencies never bring aiohttp in.
"""

from __future__ import annotations

import re
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement

from piyasa_generator.providers.gemini import GeminiProvider


def closure(distribution: str) -> set[str]:
    """Every distribution `distribution` needs here (markers evaluated, no extras)."""
    seen: set[str] = set()
    todo = [distribution]
    environment = {**default_environment(), "extra": ""}
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(requirement.name)
    return seen


def test_aiohttp_is_not_in_the_generators_dependency_closure() -> None:
    needed = closure("piyasa-generator")
    assert {"openai", "google-genai", "groq", "httpx2"} <= needed
    assert "aiohttp" not in needed


def test_the_gemini_client_is_given_its_own_httpx2_client() -> None:
    provider = GeminiProvider(
        model="gemini-2.0-flash",
        api_key="g-test-key-123456",
        base_url="http://127.0.0.1:9",
        timeout_s=5,
        connect_timeout_s=1,
    )
    options = provider._client._api_client._http_options  # the SDK's resolved options
    assert options.httpx_async_client is provider._http
    assert options.retry_options is not None and options.retry_options.attempts == 1
