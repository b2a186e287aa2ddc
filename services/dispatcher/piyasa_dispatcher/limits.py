"""Telegram's flood limits, enforced before sending rather than discovered by 429s.

A pluggable component beside the client, not inside it: it never sleeps. It
answers when a bot may next post into a chat (`next_slot`), and records a
post when one is made (`take`). The caller turns the answer into a timer on
a scheduled send, so nothing waits while holding a message.

Per bot (the limits are Telegram's per token, which is why the dispatcher is
partitioned by bot and each bot's limits live in one replica):

- one chat: at most one message per `chat_interval_s`;
- one group: at most `group_max` messages in any `group_window_s`;
- all chats: at most `bot_max` messages in any `bot_window_s`;
- a 429's `retry_after` pauses the bot, and only that bot.

Every window is widened by `margin` (a fraction) so that jitter between
here and Telegram never makes two posts land closer than the limit.

`TypingBudget` is the same idea for `sendChatAction`: Telegram does not say
whether typing counts against the flood limits, so each chat gets a budget of
typing actions per minute (a fleet setting).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LimitRules:
    chat_interval_s: float = 1.0
    group_max: int = 20
    group_window_s: float = 60.0
    bot_max: int = 30
    bot_window_s: float = 1.0
    margin: float = 0.05

    def __post_init__(self) -> None:
        if self.chat_interval_s < 0 or self.group_window_s < 0 or self.bot_window_s < 0:
            raise ValueError("limit windows must not be negative")
        if self.group_max < 1 or self.bot_max < 1 or not 0 <= self.margin < 1:
            raise ValueError("limits must allow at least one message, margin in [0, 1)")


@dataclass(slots=True)
class _BotState:
    paused_until: float = 0.0
    sent: deque[float] = field(default_factory=deque)
    chat_sent: dict[int, deque[float]] = field(default_factory=dict)


class Limiter:
    """Next-free-slot arithmetic per bot; times are monotonic seconds."""

    def __init__(self, rules: LimitRules) -> None:
        self.rules = rules
        self._bots: dict[str, _BotState] = {}

    def next_slot(self, bot: str, chat: int, now: float) -> float:
        """The earliest time >= now at which `bot` may post into `chat`."""
        state = self._bots.get(bot)
        if state is None:
            return now
        r = self.rules
        slot = max(now, state.paused_until)
        if len(state.sent) >= r.bot_max:
            slot = max(slot, state.sent[-r.bot_max] + r.bot_window_s * (1 + r.margin))
        window = state.chat_sent.get(chat)
        if window:
            slot = max(slot, window[-1] + r.chat_interval_s * (1 + r.margin))
            if len(window) >= r.group_max:
                slot = max(slot, window[-r.group_max] + r.group_window_s * (1 + r.margin))
        return slot

    def take(self, bot: str, chat: int, now: float) -> None:
        """Count a post made now (call it only when `next_slot` said now)."""
        r = self.rules
        state = self._bots.setdefault(bot, _BotState())
        state.sent.append(now)
        while len(state.sent) > r.bot_max:
            state.sent.popleft()
        window = state.chat_sent.setdefault(chat, deque())
        window.append(now)
        while len(window) > r.group_max:
            window.popleft()

    def retake(self, bot: str, chat: int, taken: float, now: float) -> None:
        """Move a post counted at `taken` to `now`, when it really leaves (never earlier)."""
        state = self._bots.get(bot)
        if state is None or now <= taken:
            return
        _move(state.sent, taken, now)
        window = state.chat_sent.get(chat)
        if window:
            _move(window, taken, now)

    def pause(self, bot: str, until: float) -> None:
        """A 429 said wait: nothing of `bot` goes out before `until`."""
        state = self._bots.setdefault(bot, _BotState())
        state.paused_until = max(state.paused_until, until)

    def paused_until(self, bot: str) -> float:
        state = self._bots.get(bot)
        return state.paused_until if state else 0.0

    def forget(self, bot: str) -> None:
        """The bot moved to another replica: its history goes with it (a fresh start there)."""
        self._bots.pop(bot, None)

    def prune(self, now: float) -> None:
        """Drop chats whose windows have passed (bounded memory for long-lived replicas)."""
        horizon = max(self.rules.group_window_s, self.rules.chat_interval_s) * (
            1 + self.rules.margin
        )
        for bot, state in list(self._bots.items()):
            for chat, window in list(state.chat_sent.items()):
                if not window or window[-1] < now - horizon:
                    del state.chat_sent[chat]
            if not state.chat_sent and state.paused_until < now:
                del self._bots[bot]


def _move(window: deque[float], old: float, new: float) -> None:
    """Replace `old` (searched from the newest end) by the later `new`, keeping order.

    Only a few recent entries are ever touched: a post leaves milliseconds after
    its slot was taken.
    """
    for i in range(len(window) - 1, -1, -1):
        if window[i] == old:
            window[i] = new
            while i + 1 < len(window) and window[i] > window[i + 1]:
                window[i], window[i + 1] = window[i + 1], window[i]
                i += 1
            return
        if window[i] < old:
            return


class TypingBudget:
    """At most `per_minute` typing actions per chat in any 60 seconds."""

    WINDOW_S = 60.0

    def __init__(self) -> None:
        self._chats: dict[int, deque[float]] = {}

    def take(self, chat: int, now: float, per_minute: int) -> bool:
        """Spend one action if the budget allows; False when it is spent (or zero)."""
        if per_minute <= 0:
            return False
        window = self._chats.setdefault(chat, deque())
        while window and window[0] <= now - self.WINDOW_S:
            window.popleft()
        if len(window) >= per_minute:
            return False
        window.append(now)
        return True

    def prune(self, now: float) -> None:
        for chat, window in list(self._chats.items()):
            if not window or window[-1] <= now - self.WINDOW_S:
                del self._chats[chat]
