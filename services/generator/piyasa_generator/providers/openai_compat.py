"""OpenAI, and any OpenAI-compatible server (Ollama, vLLM) at `LLM_BASE_URL`.

The SDK's own retries are off (`max_retries=0`): the router decides whether and
where to try again. Rate-limit headers are read from the raw response
(`with_raw_response`, whose `parse()` is synchronous in this SDK).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from piyasa_generator.errors import (
    EmptyCompletion,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    QuotaExhausted,
    RateLimited,
)
from piyasa_generator.prompt import estimate_tokens
from piyasa_generator.providers.base import (
    Completion,
    Job,
    RateLimits,
    key_id,
    limits_from_headers,
    parse_duration,
    retry_after,
)

_TRY_AGAIN = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.IGNORECASE)


class OpenAICompatibleProvider:
    """`name` is "openai" for OpenAI itself, "compatible" for another server."""

    def __init__(
        self,
        *,
        name: str,
        model: str,
        api_key: str | None,
        base_url: str | None,
        timeout_s: float,
        connect_timeout_s: float,
        priced: bool = True,
    ) -> None:
        self._name = name
        self._model = model
        self._priced = priced
        self._openai_proper = name == "openai"
        self._key_id = key_id(name, api_key, base_url)
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url,
            max_retries=0,
            timeout=openai.Timeout(timeout_s, connect=connect_timeout_s),
        )

    @property
    def name(self) -> str:
        return self._name

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
        return self._priced

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(self, job: Job) -> Completion:
        model = job.model or self._model
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": job.prompt.system},
            {"role": "user", "content": job.prompt.user},
        ]
        extra: dict[str, Any] = {}
        if self._openai_proper:
            # Routes calls that share the persona prefix to the same cache shard.
            extra["prompt_cache_key"] = _cache_key(job.prompt.system)
            extra["max_completion_tokens"] = job.max_tokens
        else:
            extra["max_tokens"] = job.max_tokens  # what Ollama and vLLM understand
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                model=model, messages=messages, temperature=job.temperature, **extra
            )
            completion: ChatCompletion = raw.parse()
        except openai.APIStatusError as exc:
            raise map_status_error(
                self._name,
                exc.status_code,
                exc.response.headers,
                inner_error(exc.body),
                str(exc),
            ) from exc
        except openai.APITimeoutError as exc:
            raise ProviderUnavailable(self._name, "timeout", timeout=True) from exc
        except openai.APIConnectionError as exc:
            raise ProviderUnavailable(self._name, f"connection: {exc.__cause__ or exc}") from exc
        except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            raise ProviderUnavailable(self._name, f"unreadable response: {exc}") from exc
        return to_completion(self._name, job, completion, limits_from_headers(raw.headers))


def to_completion(provider: str, job: Job, completion: Any, limits: RateLimits) -> Completion:
    """Text, model and usage from an OpenAI-shaped chat completion (OpenAI, Groq, vLLM...)."""
    choices = getattr(completion, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    text = getattr(message, "content", None) if message is not None else None
    if not isinstance(text, str) or not text.strip():
        raise EmptyCompletion(provider, "no text in the completion", status=200)
    usage = getattr(completion, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", None)
    completion_tokens = getattr(usage, "completion_tokens", None)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Completion(
        text=text,
        model=str(getattr(completion, "model", None) or job.model or ""),
        # A server that reports no usage still costs budget: estimate it.
        prompt_tokens=int(prompt_tokens)
        if prompt_tokens is not None
        else job.prompt.estimated_tokens,
        completion_tokens=(
            int(completion_tokens) if completion_tokens is not None else estimate_tokens(text)
        ),
        cached_prompt_tokens=int(cached or 0),
        limits=limits,
    )


def map_status_error(
    provider: str, status: int, headers: object, error: dict[str, Any], message: str
) -> ProviderError:
    """An HTTP error of an OpenAI-shaped API as the generator's error."""
    code = str(error.get("code") or "")
    kind = str(error.get("type") or "")
    detail = f"http {status} {code or kind}".strip()
    if status == 429:
        if code == "insufficient_quota" or kind == "insufficient_quota":
            return QuotaExhausted(provider, "insufficient_quota", status=status)
        limits = limits_from_headers(headers)
        return RateLimited(
            provider,
            detail,
            retry_after_s=_retry_hint(headers, limits, kind, str(error.get("message") or message)),
            limits=limits,
        )
    if status >= 500 or status in (408, 409):
        return ProviderUnavailable(
            provider, detail, status=status, retry_after_s=retry_after(headers)
        )
    return ProviderRejected(provider, detail, status=status)


def _retry_hint(headers: object, limits: RateLimits, kind: str, message: str) -> float | None:
    """Retry-After, else "Please try again in 1.2s" in the message, else the reset header
    of the limit that was hit."""
    seconds = retry_after(headers)
    if seconds is not None:
        return seconds
    match = _TRY_AGAIN.search(message)
    if match:
        return parse_duration(match.group(1))
    if kind == "tokens" and limits.reset_tokens_s is not None:
        return limits.reset_tokens_s
    return limits.reset_requests_s


def inner_error(body: object) -> dict[str, Any]:
    """OpenAI's SDK unwraps `{"error": {...}}`; Groq's keeps the whole body."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        return inner if isinstance(inner, dict) else {}
    return {}


def _cache_key(system: str) -> str:
    return hashlib.blake2b(system.encode(), digest_size=8).hexdigest()
