"""Groq through its own SDK (plain httpx underneath; `parse()` is async here).

Groq's headers count requests per day and tokens per minute; the budget needs
no window length, only remaining and reset (see `RateLimits`).
"""

from __future__ import annotations

import json

import groq
from groq.types.chat import ChatCompletion, ChatCompletionMessageParam

from piyasa_generator.errors import ProviderUnavailable
from piyasa_generator.providers.base import Completion, Job, key_id, limits_from_headers
from piyasa_generator.providers.openai_compat import (
    inner_error,
    map_status_error,
    to_completion,
)


class GroqProvider:
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
        self._key_id = key_id("groq", api_key, base_url)
        self._client = groq.AsyncGroq(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=groq.Timeout(timeout_s, connect=connect_timeout_s),
        )

    @property
    def name(self) -> str:
        return "groq"

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
        await self._client.close()

    async def complete(self, job: Job) -> Completion:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": job.prompt.system},
            {"role": "user", "content": job.prompt.user},
        ]
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                model=job.model or self._model,
                messages=messages,
                temperature=job.temperature,
                max_completion_tokens=job.max_tokens,
            )
            completion: ChatCompletion = await raw.parse()
        except groq.APIStatusError as exc:
            raise map_status_error(
                "groq", exc.status_code, exc.response.headers, inner_error(exc.body), str(exc)
            ) from exc
        except groq.APITimeoutError as exc:
            raise ProviderUnavailable("groq", "timeout", timeout=True) from exc
        except groq.APIConnectionError as exc:
            raise ProviderUnavailable("groq", f"connection: {exc.__cause__ or exc}") from exc
        except (json.JSONDecodeError, groq.APIResponseValidationError) as exc:
            raise ProviderUnavailable("groq", f"unreadable response: {exc}") from exc
        return to_completion("groq", job, completion, limits_from_headers(raw.headers))
