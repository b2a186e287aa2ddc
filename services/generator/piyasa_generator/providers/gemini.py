"""Gemini through google-genai, over an explicit httpx2 client.

Two traps handled here (see LLM_PROVIDERS.md): with aiohttp importable the SDK
silently switches to it, with a hidden retry on connection errors, unless it is
given its own client; and without `api_version` it calls `/v1`. The SDK's retries
stay off (`HttpRetryOptions(attempts=1)`). Gemini sends no rate-limit headers: a
429's wait is `google.rpc.RetryInfo.retryDelay` in the error body.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from piyasa_generator.errors import (
    EmptyCompletion,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)
from piyasa_generator.prompt import estimate_tokens
from piyasa_generator.providers.base import Completion, Job, key_id, parse_duration


class GeminiProvider:
    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None,
        timeout_s: float,
        connect_timeout_s: float,
    ) -> None:
        self._model = model
        self._key_id = key_id("gemini", api_key, base_url)
        self._http = httpx2.AsyncClient(
            timeout=httpx2.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
        )
        options = types.HttpOptions(
            base_url=base_url,
            api_version="v1beta",
            timeout=int(timeout_s * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
            httpx_async_client=self._http,
        )
        self._client = genai.Client(api_key=api_key, http_options=options).aio

    @property
    def name(self) -> str:
        return "gemini"

    @property
    def model(self) -> str:
        return self._model

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def governed(self) -> bool:
        return True

    @property
    def priced(self) -> bool:
        return True

    async def aclose(self) -> None:
        await self._http.aclose()

    async def complete(self, job: Job) -> Completion:
        model = job.model or self._model
        config = types.GenerateContentConfig(
            system_instruction=job.prompt.system,
            max_output_tokens=job.max_tokens,
            temperature=job.temperature,
        )
        if model.startswith("gemini-2.5-flash"):
            # A chat line needs no reasoning; thinking tokens are billed as output.
            config.thinking_config = types.ThinkingConfig(thinking_budget=0)
        try:
            response = await self._client.models.generate_content(
                model=model, contents=job.prompt.user, config=config
            )
        except genai_errors.APIError as exc:
            raise map_error(exc) from exc
        except httpx2.TimeoutException as exc:
            raise ProviderUnavailable("gemini", "timeout", timeout=True) from exc
        except httpx2.TransportError as exc:
            raise ProviderUnavailable("gemini", f"connection: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ProviderUnavailable("gemini", f"unreadable response: {exc}") from exc
        text = response.text
        if not text or not text.strip():
            raise EmptyCompletion("gemini", "no text in the response", status=200)
        usage = response.usage_metadata
        prompt_tokens = usage.prompt_token_count if usage is not None else None
        output = (
            (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0) if usage else 0
        )
        return Completion(
            text=text,
            model=response.model_version or model,
            prompt_tokens=prompt_tokens
            if prompt_tokens is not None
            else job.prompt.estimated_tokens,
            completion_tokens=output or estimate_tokens(text),
            cached_prompt_tokens=(usage.cached_content_token_count or 0) if usage else 0,
        )


def map_error(exc: genai_errors.APIError) -> ProviderError:
    status = int(exc.code or 0)
    detail = f"http {status} {exc.status or ''}".strip()
    if status == 429:
        return RateLimited("gemini", detail, retry_after_s=retry_delay(exc.details))
    if status >= 500 or status == 408:
        return ProviderUnavailable("gemini", detail, status=status)
    return ProviderRejected("gemini", detail, status=status)


def retry_delay(details: Any) -> float | None:
    """`RetryInfo.retryDelay` ("22s") from a Google RPC error body, in seconds."""
    error = details.get("error") if isinstance(details, dict) else None
    items = error.get("details") if isinstance(error, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("retryDelay"), str):
            return parse_duration(item["retryDelay"])
    return None
