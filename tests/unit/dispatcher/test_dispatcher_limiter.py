"""The limiter's arithmetic: next free slot per chat, per group, per bot, and 429 pauses."""

from __future__ import annotations

from piyasa_dispatcher.limits import Limiter, LimitRules, TypingBudget

RULES = LimitRules(
    chat_interval_s=1.0, group_max=3, group_window_s=60.0, bot_max=4, bot_window_s=1.0, margin=0.0
)


def test_one_chat_gets_one_message_per_interval() -> None:
    limiter = Limiter(RULES)
    assert limiter.next_slot("a", -1, 100.0) == 100.0

    limiter.take("a", -1, 100.0)

    assert limiter.next_slot("a", -1, 100.2) == 101.0
    assert limiter.next_slot("a", -2, 100.2) == 100.2  # another chat is free
    assert limiter.next_slot("b", -1, 100.2) == 100.2  # another bot too


def test_a_group_takes_at_most_group_max_in_any_window() -> None:
    limiter = Limiter(RULES)
    for t in (0.0, 1.0, 2.0):
        limiter.take("a", -1, t)

    assert limiter.next_slot("a", -1, 3.0) == 60.0
    limiter.take("a", -1, 60.0)
    assert limiter.next_slot("a", -1, 61.0) == 61.0  # the window slid past the first


def test_a_bot_takes_at_most_bot_max_per_window_across_chats() -> None:
    limiter = Limiter(RULES)
    for chat in (-1, -2, -3, -4):
        limiter.take("a", chat, 10.0)

    assert limiter.next_slot("a", -5, 10.1) == 11.0
    assert limiter.next_slot("b", -5, 10.1) == 10.1


def test_the_margin_widens_every_window() -> None:
    limiter = Limiter(LimitRules(chat_interval_s=1.0, margin=0.1))
    limiter.take("a", -1, 0.0)

    assert limiter.next_slot("a", -1, 0.0) == 1.1


def test_a_429_pauses_only_that_bot() -> None:
    limiter = Limiter(RULES)
    limiter.pause("a", 50.0)

    assert limiter.next_slot("a", -1, 10.0) == 50.0
    assert limiter.next_slot("b", -1, 10.0) == 10.0
    assert limiter.paused_until("a") == 50.0


def test_a_post_counts_from_when_it_really_left() -> None:
    limiter = Limiter(RULES)
    limiter.take("a", -1, 10.0)

    limiter.retake("a", -1, 10.0, 10.4)  # the request left 0.4 s after its slot

    assert limiter.next_slot("a", -1, 10.5) == 11.4


def test_forget_and_prune_drop_state() -> None:
    limiter = Limiter(RULES)
    limiter.take("a", -1, 0.0)
    limiter.prune(1000.0)
    assert limiter.next_slot("a", -1, 1000.0) == 1000.0
    limiter.take("a", -1, 0.0)
    limiter.forget("a")
    assert limiter.next_slot("a", -1, 0.5) == 0.5


def test_typing_budget_per_chat_per_minute() -> None:
    budget = TypingBudget()

    assert [budget.take(-1, t, 2) for t in (0.0, 1.0, 2.0)] == [True, True, False]
    assert budget.take(-2, 2.0, 2) is True
    assert budget.take(-1, 60.5, 2) is True
    assert budget.take(-3, 0.0, 0) is False
