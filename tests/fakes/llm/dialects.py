"""What each provider's HTTP API looks like on the wire: paths, bodies, headers, errors.

Shapes follow `shared/LLM_PROVIDERS.md` (checked against the real SDKs):

- OpenAI: `POST /v1/chat/completions`, `usage.prompt_tokens_details.cached_tokens`,
  `x-ratelimit-*` headers on every answer (requests and tokens per minute), and a
  429 body `{"error": {"type": "requests"|"tokens", "code": "rate_limit_exceeded"}}`
  or `{"error": {"type": "insufficient_quota", "code": "insufficient_quota"}}`.
- Groq: `POST /openai/v1/chat/completions`, the OpenAI body plus `x_groq`, the same
  headers but requests per *day* and tokens per minute; `retry-after` only on 429.
- Gemini: `POST /v1beta/models/<model>:generateContent`, camelCase
  `usageMetadata.cachedContentTokenCount`, no rate headers at all, and the retry
  hint in the 429 body as `google.rpc.RetryInfo.retryDelay`.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any


def format_duration(seconds: float) -> str:
    """A duration as OpenAI and Groq write it: `12ms`, `1.5s`, `6m0s`, `2m59.56s`."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)}m" + (f"{rest:.2f}".rstrip("0").rstrip(".") or "0") + "s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)}h{int(minutes)}m{round(rest)}s"


@dataclass(frozen=True)
class Usage:
    prompt: int
    completion: int
    cached: int


@dataclass(frozen=True)
class Limits:
    """The state of an emulated rate limiter, as headers report it."""

    limit_requests: int
    remaining_requests: int
    reset_requests_s: float
    limit_tokens: int
    remaining_tokens: int
    reset_tokens_s: float


class Dialect:
    name: str = ""
    request_window: str = "min"

    def route(self, method: str, path: str) -> str | None:
        """The model a request is for, or None when this API has no such route."""
        raise NotImplementedError

    def model_of(self, body: dict[str, Any], routed: str) -> str:
        return str(body.get("model") or routed)

    def prompt_text(self, body: dict[str, Any]) -> str:
        """The prompt as one string, in the order the provider's cache sees it."""
        raise NotImplementedError

    def success(self, text: str, model: str, usage: Usage) -> dict[str, Any]:
        raise NotImplementedError

    def limit_headers(self, limits: Limits | None) -> dict[str, str]:
        return {}

    def rate_limited(
        self, model: str, retry_after_s: float | None, kind: str = "requests"
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    def server_error(self, status: int = 500) -> tuple[int, dict[str, str], dict[str, Any]]:
        raise NotImplementedError


class _OpenAIShape(Dialect):
    path = "/v1/chat/completions"

    def route(self, method: str, path: str) -> str | None:
        return "" if method == "POST" and path == self.path else None

    def prompt_text(self, body: dict[str, Any]) -> str:
        parts = []
        for message in body.get("messages") or []:
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(str(p.get("text", "")) for p in content)
            parts.append(f"<{message.get('role')}>{content}")
        return "\n".join(parts)

    def success(self, text: str, model: str, usage: Usage) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt,
                "completion_tokens": usage.completion,
                "total_tokens": usage.prompt + usage.completion,
                "prompt_tokens_details": {"cached_tokens": usage.cached},
            },
        }

    def limit_headers(self, limits: Limits | None) -> dict[str, str]:
        if limits is None:
            return {}
        return {
            "x-ratelimit-limit-requests": str(limits.limit_requests),
            "x-ratelimit-limit-tokens": str(limits.limit_tokens),
            "x-ratelimit-remaining-requests": str(limits.remaining_requests),
            "x-ratelimit-remaining-tokens": str(limits.remaining_tokens),
            "x-ratelimit-reset-requests": format_duration(limits.reset_requests_s),
            "x-ratelimit-reset-tokens": format_duration(limits.reset_tokens_s),
        }

    def _window_words(self, kind: str) -> str:
        return "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"

    def rate_limited(
        self, model: str, retry_after_s: float | None, kind: str = "requests"
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        wait = f" Please try again in {format_duration(retry_after_s)}." if retry_after_s else ""
        body = {
            "error": {
                "message": f"Rate limit reached for {model} in organization org-fake on "
                f"{self._window_words(kind)}: Limit 3, Used 3, Requested 1.{wait}",
                "type": kind,
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
        headers = {} if retry_after_s is None else {"retry-after": _seconds(retry_after_s)}
        return 429, headers, body

    def insufficient_quota(self) -> tuple[int, dict[str, str], dict[str, Any]]:
        return (
            429,
            {},
            {
                "error": {
                    "message": "You exceeded your current quota, please check your plan and "
                    "billing details.",
                    "type": "insufficient_quota",
                    "param": None,
                    "code": "insufficient_quota",
                }
            },
        )

    def server_error(self, status: int = 500) -> tuple[int, dict[str, str], dict[str, Any]]:
        return (
            status,
            {},
            {
                "error": {
                    "message": "The server had an error while processing your request. "
                    "Sorry about that!",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
        )


class OpenAIDialect(_OpenAIShape):
    name = "openai"


class GroqDialect(_OpenAIShape):
    name = "groq"
    path = "/openai/v1/chat/completions"
    request_window = "day"

    def _window_words(self, kind: str) -> str:
        return "requests per day (RPD)" if kind == "requests" else "tokens per minute (TPM)"

    def success(self, text: str, model: str, usage: Usage) -> dict[str, Any]:
        body = super().success(text, model, usage)
        body["usage"].update(queue_time=0.01, prompt_time=0.02, completion_time=0.05)
        body["x_groq"] = {"id": f"req_{uuid.uuid4().hex[:20]}"}
        return body

    def rate_limited(
        self, model: str, retry_after_s: float | None, kind: str = "requests"
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        status, headers, body = super().rate_limited(model, retry_after_s, kind)
        body["error"].pop("param", None)
        return status, headers, body


_GEMINI_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")


class GeminiDialect(Dialect):
    name = "gemini"

    def route(self, method: str, path: str) -> str | None:
        match = _GEMINI_PATH.match(path)
        return match.group("model") if method == "POST" and match else None

    def model_of(self, body: dict[str, Any], routed: str) -> str:
        return routed

    def prompt_text(self, body: dict[str, Any]) -> str:
        parts = []
        system = body.get("systemInstruction") or body.get("system_instruction")
        if system:
            parts.append("<system>" + "".join(p.get("text", "") for p in system.get("parts", [])))
        for content in body.get("contents") or []:
            text = "".join(p.get("text", "") for p in content.get("parts", []))
            parts.append(f"<{content.get('role', 'user')}>{text}")
        return "\n".join(parts)

    def success(self, text: str, model: str, usage: Usage) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "promptTokenCount": usage.prompt,
            "candidatesTokenCount": usage.completion,
            "totalTokenCount": usage.prompt + usage.completion,
        }
        if usage.cached:
            meta["cachedContentTokenCount"] = usage.cached
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": meta,
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:16],
        }

    def rate_limited(
        self, model: str, retry_after_s: float | None, kind: str = "requests"
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/"
                        "generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "quotaDimensions": {"location": "global", "model": model},
                        "quotaValue": "15",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
        ]
        if retry_after_s is not None:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": _seconds(retry_after_s) + "s",
                }
            )
        body = {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan and "
                "billing details.",
                "status": "RESOURCE_EXHAUSTED",
                "details": details,
            }
        }
        return 429, {}, body

    def server_error(self, status: int = 500) -> tuple[int, dict[str, str], dict[str, Any]]:
        state = "UNAVAILABLE" if status == 503 else "INTERNAL"
        return (
            status,
            {},
            {
                "error": {
                    "code": status,
                    "message": "An internal error has occurred. Please retry or report.",
                    "status": state,
                }
            },
        )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


OPENAI = OpenAIDialect()
GROQ = GroqDialect()
GEMINI = GeminiDialect()
DIALECTS: dict[str, Dialect] = {d.name: d for d in (OPENAI, GROQ, GEMINI)}
