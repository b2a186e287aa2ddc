"""The providers settings configure, in fallback order."""

from __future__ import annotations

from typing import Any

from piyasa_generator.providers.base import Provider
from piyasa_generator.settings import GeneratorSettings


def build_providers(settings: GeneratorSettings) -> list[Provider]:
    """The configured providers in fallback order (see `GeneratorSettings.configured`)."""
    # Imported here: a replica only loads the SDKs it uses.
    out: list[Provider] = []
    timeouts: dict[str, Any] = {
        "timeout_s": settings.llm_timeout_s,
        "connect_timeout_s": settings.llm_connect_timeout_s,
    }
    for name in settings.configured():
        if name == "openai" and settings.openai_api_key is not None:
            from piyasa_generator.providers.openai_compat import OpenAICompatibleProvider

            out.append(
                OpenAICompatibleProvider(
                    name="openai",
                    model=settings.openai_model,
                    api_key=settings.openai_api_key.get_secret_value(),
                    base_url=settings.openai_base_url,
                    **timeouts,
                )
            )
        elif name == "gemini" and settings.gemini_api_key is not None:
            from piyasa_generator.providers.gemini import GeminiProvider

            out.append(
                GeminiProvider(
                    model=settings.gemini_model,
                    api_key=settings.gemini_api_key.get_secret_value(),
                    base_url=settings.gemini_base_url,
                    **timeouts,
                )
            )
        elif name == "groq" and settings.groq_api_key is not None:
            from piyasa_generator.providers.groq import GroqProvider

            out.append(
                GroqProvider(
                    model=settings.groq_model,
                    api_key=settings.groq_api_key.get_secret_value(),
                    base_url=settings.groq_base_url,
                    **timeouts,
                )
            )
        elif name == "compatible" and settings.llm_base_url is not None:
            from piyasa_generator.providers.openai_compat import OpenAICompatibleProvider

            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            out.append(
                OpenAICompatibleProvider(
                    name="compatible",
                    model=settings.llm_model,
                    api_key=key,
                    base_url=settings.llm_base_url,
                    priced=False,
                    **timeouts,
                )
            )
        elif name == "offline":
            from piyasa_generator.providers.offline import OfflineProvider

            out.append(OfflineProvider())
    return out
