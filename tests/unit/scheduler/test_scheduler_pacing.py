"""Pacing over simulated weeks, in the harness: the core on a virtual clock.

One 30-day run of two chats that share bots (an evening-heavy activity curve
on one, a flat one on the other, staggered active hours, hourly limits that
bind at the peaks, humans who post, ask and mention) backs most tests here;
it takes a few seconds.
"""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from piyasa_contracts.events.config import ConfigChanged
from piyasa_scheduler.activity import Window, zone
from piyasa_scheduler.core import rhythm_of
from piyasa_scheduler.harness import Humans, Log, RequestRecord, Simulation
from piyasa_scheduler.ledger import TurnReason
from tests.unit.scheduler.scheduler_world import bot, chat, holding, settings, stance

DAYS = 30
EVENING = [0.0] * 7 + [
    0.5,
    0.8,
    1.0,
    1.0,
    0.9,
    1.1,
    1.0,
    0.9,
    1.0,
    1.2,
    1.5,
    1.8,
    2.0,
    1.8,
    1.4,
    0.9,
    0.5,
]


def world() -> list[ConfigChanged]:
    return [
        bot("b0", hourly_limit=8, hours=("08:00", "23:30")),
        bot("b1", hourly_limit=7, hours=("07:30", "22:00")),
        bot("b2", hourly_limit=8, hours=("09:30", "23:59")),
        bot("b3", hourly_limit=8, hours=("08:00", "20:00")),
        bot("b4", hourly_limit=7, hours=("10:00", "23:00")),
        chat("main", ["b0", "b1", "b2", "b3", "b4"], target=12, curve=EVENING,
             topics=["BTC", "altın", "faiz"]),
        chat("side", ["b0", "b2", "b4"], target=6, topics=["BIST", "dolar"]),
        stance("b0", "BTC", "bullish", 0.9),
        stance("b1", "Bitcoin", "bearish", 0.8),
        stance("b2", "altın", "bullish", 0.6),
        holding("b3", "XAU", 3),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def month() -> tuple[Simulation, Log]:
    sim = Simulation(world(), seed=7, humans=Humans(per_hour=1.0))
    return sim, sim.run_for(timedelta(days=DAYS))


def _days(sim: Simulation) -> list[datetime]:
    start = sim.clock.now() - timedelta(days=DAYS)
    return [start + timedelta(days=d) for d in range(DAYS)]


@pytest.mark.parametrize("chat_id", ["main", "side"])
def test_mean_daily_count_is_within_3_percent_of_the_target(
    month: tuple[Simulation, Log], chat_id: str
) -> None:
    sim, log = month
    rhythm = rhythm_of(sim.fleet, sim.fleet.chats[chat_id])
    target = sum(rhythm.day(d.date()).expected for d in _days(sim)) / DAYS

    mean = sum(1 for s in log.sent if s[1] == chat_id) / DAYS

    print(f"{chat_id}: target {target:.1f}/day, mean {mean:.1f}/day ({mean / target - 1:+.2%})")
    assert abs(mean / target - 1) <= 0.03


def test_daily_count_follows_the_activity_curve(month: tuple[Simulation, Log]) -> None:
    sim, log = month
    rhythm = rhythm_of(sim.fleet, sim.fleet.chats["main"])
    tz = zone(rhythm.timezone)
    observed = Counter(
        at.astimezone(tz).hour for at, chat_id, _, _ in log.sent if chat_id == "main"
    )
    expected = [
        sum(sum(rhythm.day(d.date()).rates[h * 60 : (h + 1) * 60]) for d in _days(sim)) / DAYS
        for h in range(24)
    ]
    seen = [observed[h] / DAYS for h in range(24)]

    print(" ".join(f"{h:02d}h {seen[h]:.1f}/{expected[h]:.1f}" for h in range(24) if expected[h]))
    assert _correlation(seen, expected) > 0.97
    for h in range(24):
        if expected[h] == 0:
            assert seen[h] < 0.5  # asleep (a turn begun before the hour may end in it)
        elif expected[h] >= 5:
            assert abs(seen[h] / expected[h] - 1) < 0.15, (h, seen[h], expected[h])


def test_no_bot_exceeds_its_hourly_limit_in_any_hour(month: tuple[Simulation, Log]) -> None:
    sim, log = month
    sends: dict[str, list[datetime]] = defaultdict(list)
    for at, _, bot_id, _ in log.sent:
        sends[bot_id].append(at)
    for bot_id, times in sends.items():
        limit = sim.fleet.bots[bot_id].hourly_limit
        assert _busiest_hour(sorted(times)) <= limit, bot_id
    # The limits did bind: at the evening peak some bots used all of theirs.
    assert any(_busiest_hour(sorted(t)) == sim.fleet.bots[b].hourly_limit for b, t in sends.items())


def test_no_message_outside_active_hours(month: tuple[Simulation, Log]) -> None:
    sim, log = month
    for at, _, bot_id, _ in log.sent:
        assert Window.of(sim.fleet.bots[bot_id].active_hours).contains(at), (bot_id, at)


def test_never_two_turns_in_flight_in_one_chat(month: tuple[Simulation, Log]) -> None:
    _, log = month
    by_chat: dict[str, list[RequestRecord]] = defaultdict(list)
    for request in log.requests:
        by_chat[request.chat_id].append(request)
    for chat_id, requests in by_chat.items():
        for before, after in pairwise(requests):
            assert log.closed[before.turn_id] <= after.at, (chat_id, before, after)
    assert set(log.max_in_flight.values()) == {1}


def test_every_reason_and_outcome_happened(month: tuple[Simulation, Log]) -> None:
    _, log = month
    assert {r.reason for r in log.requests} == set(TurnReason)
    assert {reason for _, _, reason in log.expired} == {"deadline"}  # lost turns expire


def test_mention_gets_reply_before_any_other_pending_request() -> None:
    sim = Simulation(
        [
            bot("a"),
            bot("b"),
            bot("c"),
            chat("busy", ["a", "b", "c"], target=30),
            settings(mention_delay_s=[5, 30]),
        ],
        seed=11,
        humans=Humans(per_hour=6.0, mention_share=0.5, awake=(0, 24)),
    )
    log = sim.run_for(timedelta(days=5))

    mentions = [h for h in log.humans if h.addressed]
    assert len(mentions) > 200
    for mention in mentions:
        after = [r for r in log.requests if r.at >= mention.at]
        reply = next(i for i, r in enumerate(after) if r.reply_ref == mention.ref)
        assert after[reply].bot_id in mention.addressed
        # Only replies to other (earlier) mentions may come first.
        assert all(r.reason is TurnReason.MENTION for r in after[:reply]), mention


def test_a_back_and_forth_ends_after_the_limit() -> None:
    limit = 4
    sim = Simulation(
        [
            bot("a"),
            bot("b"),
            chat("duo", ["a", "b"], target=30),
            settings(back_and_forth_limit=limit, drift_pause_s=600),
        ],
        seed=5,
        humans=Humans(per_hour=0.0),
    )
    log = sim.run_for(timedelta(days=3))

    runs, run, last = [], 0, None
    for at, _, _, _ in sorted(log.sent):
        run = run + 1 if last is not None and (at - last).total_seconds() < 600 else 1
        runs.append(run)
        last = at
    assert max(runs) == limit  # reached, never passed: then a pause of drift_pause_s


def test_same_seed_same_month() -> None:
    def run() -> list[tuple[datetime, str, str]]:
        sim = Simulation(world(), seed=3, humans=Humans(per_hour=2.0))
        log = sim.run_for(timedelta(days=2))
        return [(r.at, r.turn_id, r.bot_id) for r in log.requests]

    assert run() == run()


def _busiest_hour(times: list[datetime]) -> int:
    start, busiest = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= timedelta(hours=1):
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def _correlation(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs) ** 0.5
    vy = sum((y - my) ** 2 for y in ys) ** 0.5
    return cov / (vx * vy)
