"""The fleet's knobs, as the config API stores them, change what the scheduler does."""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

import random
import statistics
from datetime import timedelta

import pytest

from piyasa_contracts.events.config import SettingsChanged
from piyasa_scheduler.core import Decision, Request, tick
from piyasa_scheduler.ledger import TurnReason
from piyasa_scheduler.pacing import sample_units
from piyasa_scheduler.policy import SchedulerPolicy
from piyasa_scheduler.state import FleetState
from tests.unit.scheduler.scheduler_world import (
    START,
    bot,
    chat,
    event,
    fleet,
    fleet_settings,
    incoming,
    minutes,
    sent,
)

SECOND = timedelta(seconds=1)


def three_bots(settings: SettingsChanged) -> FleetState:
    return fleet([bot("a"), bot("b"), bot("c"), chat("c1", ["a", "b", "c"]), settings])


def requests(decisions: list[Decision]) -> list[Request]:
    return [d for d in decisions if isinstance(d, Request)]


def test_the_fleets_knobs_are_the_policy_and_the_advanced_block_overrides_them() -> None:
    state = fleet(
        [
            fleet_settings(
                turns_in_flight_per_chat=2,
                turn_deadline_s=90,
                min_gap_s=45,
                gap_jitter=0.5,
                context_messages=7,
                reply_probability=0.3,
                mention_reply_probability=0.8,
                scheduler={"min_gap_s": 5, "back_and_forth_limit": 3},
            )
        ]
    )
    p = state.policy

    assert (p.turns_in_flight, p.turn_deadline_s, p.history_lines) == (2, 90, 7)
    assert p.gap_shape == pytest.approx(4.0)  # coefficient of variation 1/sqrt(4) = 0.5
    assert (p.disagreement_reply_probability, p.mention_reply_probability) == (0.3, 0.8)
    assert (p.min_gap_s, p.back_and_forth_limit) == (5, 3)  # the advanced block wins


def test_no_settings_and_default_settings_are_the_same_policy() -> None:
    assert fleet([fleet_settings()]).policy == SchedulerPolicy() == fleet([]).policy


@pytest.mark.parametrize(
    "ignored",
    [
        SettingsChanged(id="global", values={"min_gap_s": 45}),
        SettingsChanged(id="fleet", deleted=True, values={"min_gap_s": 45}),
        SettingsChanged(id="fleet", values={"min_gap_s": -1}),
    ],
    ids=["another aggregate", "deleted", "invalid"],
)
def test_only_the_fleets_valid_settings_are_taken(ignored: SettingsChanged) -> None:
    state = fleet([fleet_settings(min_gap_s=30)])
    state.apply_config(event(ignored), 0)
    assert state.policy.min_gap_s == 30


@pytest.mark.parametrize("jitter", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_gap_jitter_is_the_coefficient_of_variation_of_the_gaps(jitter: float) -> None:
    policy = fleet([fleet_settings(gap_jitter=jitter)]).policy
    rng = random.Random(7)

    gaps = [sample_units(rng, policy.gap_shape) for _ in range(20_000)]

    cv = statistics.pstdev(gaps) / statistics.fmean(gaps)
    assert cv == pytest.approx(max(jitter, 0.1), abs=0.02)  # 0: as even as the policy allows


def test_turns_in_flight_per_chat_lets_a_chat_hold_more_turns() -> None:
    for limit in (1, 3):
        state = three_bots(fleet_settings(turns_in_flight_per_chat=limit, min_gap_s=0))
        c = state.chat("c1")
        c.pacer.slots.extend([START, START, START])
        assert len(requests(tick(state, c, START, random.Random(3)))) == limit


def test_turn_deadline_s_is_every_new_turns_deadline() -> None:
    state = three_bots(fleet_settings(turn_deadline_s=45, min_gap_s=0))
    c = state.chat("c1")
    c.pacer.slots.append(START)
    [request] = requests(tick(state, c, START, random.Random(4)))
    assert request.payload.deadline == START + timedelta(seconds=45)


def test_min_gap_s_holds_a_scheduled_turn_after_the_last_message() -> None:
    state = three_bots(fleet_settings(min_gap_s=120))
    c = state.chat("c1")
    state.apply_conversation(sent("c1", "a", "BTC yükselir", at=START - minutes(1)), 0)
    c.pacer.slots.append(START)

    assert requests(tick(state, c, START, random.Random(5))) == []
    assert len(requests(tick(state, c, START + minutes(1), random.Random(5)))) == 1


def test_context_messages_is_the_history_a_request_carries() -> None:
    state = three_bots(fleet_settings(context_messages=3, min_gap_s=0))
    c = state.chat("c1")
    for i in range(6):
        state.apply_conversation(sent("c1", "a", f"satır {i}", at=START - minutes(30 - i)), 0)
    c.pacer.slots.append(START)

    [request] = requests(tick(state, c, START, random.Random(6)))

    assert [line.text for line in request.payload.history] == ["satır 3", "satır 4", "satır 5"]


@pytest.mark.parametrize(("chance", "answered"), [(0.0, 0), (1.0, 40)])
def test_mention_reply_probability_decides_whether_a_mention_gets_its_reply(
    chance: float, answered: int
) -> None:
    replies = 0
    for seed in range(40):
        state = three_bots(
            fleet_settings(mention_reply_probability=chance, scheduler={"mention_delay_s": [0, 0]})
        )
        c = state.chat("c1")
        state.apply_conversation(
            incoming("c1", "p1", "@b_bot BTC ne olur?", at=START, mentioned=["b"]), 0
        )
        made = requests(tick(state, c, START + SECOND, random.Random(seed)))
        replies += sum(1 for r in made if r.turn.reason is TurnReason.MENTION)
        assert c.pending == {}  # answered, or let go at once rather than kept waiting
    assert replies == answered
