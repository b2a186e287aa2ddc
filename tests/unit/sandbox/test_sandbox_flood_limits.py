"""Flood limits on a virtual clock."""

from __future__ import annotations

import pytest
from piyasa_sandbox.errors import TelegramError
from piyasa_sandbox.limits import FloodLimits
from piyasa_sandbox.settings import LimitSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _retry_after(limits: FloodLimits, bot: int, chat: int) -> int:
    with pytest.raises(TelegramError) as caught:
        limits.check_send(bot, chat, is_group=True)
    assert caught.value.status == 429
    retry = caught.value.retry_after
    assert retry is not None
    return retry


def test_per_chat_bucket_refills_at_the_rate() -> None:
    clock = Clock()
    limits = FloodLimits(LimitSettings(chat_per_s=1.0, chat_burst=2), clock)
    limits.check_send(1, -5, is_group=True)
    limits.check_send(1, -5, is_group=True)
    assert _retry_after(limits, 1, -5) == 1
    clock.now += 1.0
    limits.check_send(1, -5, is_group=True)
    limits.check_send(2, -5, is_group=True)  # another bot has its own bucket


def test_group_window_reports_when_the_oldest_send_leaves_it() -> None:
    clock = Clock()
    limits = FloodLimits(LimitSettings(chat_per_s=100, chat_burst=100, group_per_min=3), clock)
    for _ in range(3):
        limits.check_send(1, -5, is_group=True)
        clock.now += 10
    assert _retry_after(limits, 1, -5) == 30
    clock.now += 30
    limits.check_send(1, -5, is_group=True)


def test_overall_limit_counts_every_chat_of_the_bot() -> None:
    clock = Clock()
    limits = FloodLimits(LimitSettings(bot_per_s=2), clock)
    limits.check_send(1, -1, is_group=True)
    limits.check_send(1, -2, is_group=True)
    assert _retry_after(limits, 1, -3) == 1
    clock.now += 1.0
    limits.check_send(1, -3, is_group=True)


def test_disabled_limits_never_refuse() -> None:
    limits = FloodLimits(LimitSettings(enabled=False, bot_per_s=1), Clock())
    for _ in range(100):
        limits.check_send(1, -1, is_group=True)
