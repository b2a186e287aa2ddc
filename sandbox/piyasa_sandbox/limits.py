"""Telegram's flood limits, enforced per bot (TELEGRAM.md section 4).

- one chat: about `chat_per_s` messages a second, with bursts of `chat_burst`
  (a token bucket, as the FAQ allows "short bursts");
- one group: at most `group_per_min` messages in any 60 s (a sliding window);
- all chats: at most `bot_per_s` messages in any second (a sliding window).

A refused send raises 429 with the whole seconds to wait, rounded up, and is
not counted. Only sends count; typing and reactions do not.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import TypeVar

from . import errors
from .settings import LimitSettings

__all__ = ["FloodLimits"]

K = TypeVar("K", bound=Hashable)

_GROUP_WINDOW_S = 60.0
_BOT_WINDOW_S = 1.0


class FloodLimits:
    """Decides whether a bot may send now; `clock` is monotonic seconds."""

    def __init__(
        self, settings: LimitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._chat_tat: dict[tuple[int, int], float] = {}
        self._group_sent: dict[tuple[int, int], deque[float]] = {}
        self._bot_sent: dict[int, deque[float]] = {}
        self._webhook_set: dict[int, float] = {}

    def configure(self, settings: LimitSettings) -> None:
        """Use new limits from now on (what was counted so far stays counted)."""
        self.settings = settings

    def reset(self) -> None:
        self._chat_tat.clear()
        self._group_sent.clear()
        self._bot_sent.clear()
        self._webhook_set.clear()

    def check_send(self, bot_id: int, chat_id: int, *, is_group: bool) -> None:
        """Count one message from `bot_id` to `chat_id`, or raise 429 without counting it."""
        if not self.settings.enabled:
            return
        now = self._clock()
        s = self.settings
        waits: list[float] = []
        bot_window = _window(self._bot_sent, bot_id, now, _BOT_WINDOW_S)
        if len(bot_window) >= s.bot_per_s:
            waits.append(bot_window[len(bot_window) - s.bot_per_s] + _BOT_WINDOW_S - now)
        group_window: deque[float] | None = None
        if is_group:
            group_window = _window(self._group_sent, (bot_id, chat_id), now, _GROUP_WINDOW_S)
            if len(group_window) >= s.group_per_min:
                oldest = group_window[len(group_window) - s.group_per_min]
                waits.append(oldest + _GROUP_WINDOW_S - now)
        interval = 1.0 / s.chat_per_s
        tat = max(self._chat_tat.get((bot_id, chat_id), now), now)
        allowed_at = tat - (s.chat_burst - 1) * interval
        if allowed_at > now:
            waits.append(allowed_at - now)
        if waits:
            raise errors.too_many_requests(math.ceil(max(waits)))
        self._chat_tat[(bot_id, chat_id)] = tat + interval
        bot_window.append(now)
        if group_window is not None:
            group_window.append(now)

    def check_set_webhook(self, bot_id: int) -> None:
        """setWebhook with a new URL: at most once per `set_webhook_interval_s`."""
        if not self.settings.enabled or self.settings.set_webhook_interval_s <= 0:
            return
        now = self._clock()
        last = self._webhook_set.get(bot_id)
        if last is not None and now - last < self.settings.set_webhook_interval_s:
            raise errors.too_many_requests(1)
        self._webhook_set[bot_id] = now


def _window(table: dict[K, deque[float]], key: K, now: float, span: float) -> deque[float]:
    window = table.setdefault(key, deque())
    while window and window[0] <= now - span:
        window.popleft()
    return window
