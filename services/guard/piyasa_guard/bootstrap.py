"""Building the guard's parts from its settings (the composition root's helpers)."""

from __future__ import annotations

import gc
from datetime import timedelta

from piyasa_domain import LexiconStanceClassifier
from piyasa_guard.dedup import NearDuplicateIndex, Window
from piyasa_guard.judge import LlmJudge, StanceJudge, openai_compatible
from piyasa_guard.settings import GuardSettings
from piyasa_guard.state import GuardState


def build_state(settings: GuardSettings) -> GuardState:
    index = NearDuplicateIndex(
        threshold=settings.guard_near_duplicate_threshold,
        chat_window=Window(
            settings.guard_chat_window_messages, timedelta(hours=settings.guard_chat_window_h)
        ),
        bot_window=Window(
            settings.guard_bot_window_messages, timedelta(hours=settings.guard_bot_window_h)
        ),
    )
    return GuardState(settings, index)


def build_judge(settings: GuardSettings, classifier: LexiconStanceClassifier) -> StanceJudge | None:
    if not settings.guard_judge_base_url:
        return None
    complete = openai_compatible(
        settings.guard_judge_base_url, settings.guard_judge_model, settings.guard_judge_api_key
    )
    return LlmJudge(complete, classifier, settings.guard_judge_timeout_s)


def configure_gc() -> None:
    """Collect the young generation every 50,000 allocations instead of 700.

    A draft allocates thousands of short-lived objects (events, tokens, regex
    matches); with the default thresholds the collector runs several times per
    draft and each full pass walks the long-lived state. Measured on the guard
    benchmark: 361-521 -> 704-882 decisions/s at 1,000 messages of history.
    """
    gc.set_threshold(50_000, 20, 100)


__all__ = ["build_judge", "build_state", "configure_gc"]
