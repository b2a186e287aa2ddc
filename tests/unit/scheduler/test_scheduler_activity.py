"""Active hours, the chat's rate curve, due slots, the ledger and the policy."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from piyasa_contracts.events._common import ActiveHours
from piyasa_scheduler.activity import ChatRhythm, Window, advance
from piyasa_scheduler.ledger import Outcome, Turn, TurnLedger, TurnReason
from piyasa_scheduler.pacing import Pacer, sample_units
from piyasa_scheduler.policy import SchedulerPolicy

DAY = date(2026, 1, 5)
IST = "Europe/Istanbul"


def rhythm(
    *windows: tuple[str, str], target: float = 12.0, curve: list[float] | None = None
) -> ChatRhythm:
    return ChatRhythm(
        target_per_hour=target,
        curve=tuple(curve or [1.0] * 24),
        timezone=IST,
        windows=tuple(
            sorted(Window.of(ActiveHours(start=s, end=e, timezone=IST)) for s, e in windows)
        ),
        margin_s=0.0,
    )


def test_windows_may_wrap_midnight_or_span_the_day() -> None:
    night = Window.of(ActiveHours(start="20:00", end="02:00", timezone=IST))
    assert night.contains_minute(23 * 60) and night.contains_minute(60)
    assert not night.contains_minute(12 * 60)
    assert Window.of(ActiveHours(start="00:00", end="00:00")).contains_minute(777)


def test_active_hours_are_read_in_the_bots_own_time_zone() -> None:
    berlin = Window.of(ActiveHours(start="09:00", end="10:00", timezone="Europe/Berlin"))
    assert berlin.contains(datetime(2026, 1, 5, 8, 30, tzinfo=UTC))  # 09:30 in Berlin
    assert not berlin.contains(datetime(2026, 1, 5, 7, 30, tzinfo=UTC))


def test_a_day_expects_the_target_rate_over_its_waking_minutes() -> None:
    r = rhythm(("08:00", "20:00"), ("10:00", "22:00"))
    profile = r.day(DAY)
    assert profile.awake_minutes == 10 * 60  # two bots awake from 10 to 20
    assert profile.expected == pytest.approx(12.0 * 10)
    assert profile.rates[9 * 60] == 0.0 and profile.rates[21 * 60] == 0.0


def test_the_curve_shapes_the_day_without_changing_its_total() -> None:
    curve = [1.0] * 12 + [3.0] * 12
    r = rhythm(("00:00", "00:00"), ("00:00", "00:00"), curve=curve)
    profile = r.day(DAY)
    assert profile.expected == pytest.approx(12.0 * 24)
    assert sum(profile.rates[18 * 60 : 19 * 60]) == pytest.approx(
        3 * sum(profile.rates[6 * 60 : 7 * 60])
    )


def test_a_turn_must_fit_before_the_end_of_active_hours() -> None:
    r = ChatRhythm(
        12.0, (1.0,) * 24, IST, rhythm(("08:00", "20:00"), ("08:00", "20:00")).windows, 600.0
    )
    assert r.day(DAY).awake_minutes == 12 * 60 - 10


def test_advance_integrates_the_rate() -> None:
    r = rhythm(("08:00", "20:00"), ("08:00", "20:00"), target=60.0)  # one a minute
    start = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # 10:00 local
    assert advance(r, start, 30.0) == start + timedelta(minutes=30)
    evening = datetime(2026, 1, 5, 16, 50, tzinfo=UTC)  # 19:50: 10 left, then the night
    assert advance(r, evening, 20.0) == datetime(2026, 1, 6, 5, 10, tzinfo=UTC)  # 08:10 next day
    assert advance(rhythm(), start, 1.0) is None  # nobody ever awake


def test_gaps_are_jittered_with_unit_mean() -> None:
    rng = random.Random(1)
    gaps = [sample_units(rng, 1.5) for _ in range(20_000)]
    assert statistics.fmean(gaps) == pytest.approx(1.0, abs=0.02)
    assert statistics.pstdev(gaps) == pytest.approx(1 / 1.5**0.5, abs=0.03)


def test_slots_accrue_wait_and_expire() -> None:
    policy = SchedulerPolicy(slot_grace_s=600, max_slots=2)
    r = rhythm(("00:00", "00:00"), ("00:00", "00:00"), target=60.0)
    pacer, rng = Pacer(), random.Random(2)
    start = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    pacer.advance_to(r, start, rng, policy)
    pacer.advance_to(r, start + timedelta(minutes=20), rng, policy)
    assert len(pacer.slots) == 2  # about twenty were due; two wait, the rest are skipped
    assert pacer.skipped >= 10
    assert all(start + timedelta(minutes=10) <= s for s in pacer.slots)  # within the grace
    pacer.count_reply(policy)
    pacer.count_reply(policy)
    pacer.count_reply(policy)  # no slot left: owed
    assert (len(pacer.slots), pacer.debt) == (0, 1)


def test_a_turn_that_ended_without_a_message_gives_its_slot_back() -> None:
    policy = SchedulerPolicy()
    r = rhythm(("00:00", "00:00"), ("00:00", "00:00"))
    pacer = Pacer()
    now = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    pacer.refund(now, policy)
    assert not pacer.has_slot()  # not planning this chat: nothing to give back
    pacer.advance_to(r, now, random.Random(3), policy)
    pacer.refund(now, policy)
    assert pacer.has_slot()


def test_the_ledger_closes_a_turn_once_and_remembers_it() -> None:
    ledger = TurnLedger(closed_memory=2)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    turn = Turn("t1", "c1", "a", TurnReason.SCHEDULED, now, now + timedelta(minutes=5))
    assert ledger.open(turn) and not ledger.open(turn)
    assert ledger.overdue(now + timedelta(minutes=5)) == [turn]
    assert ledger.close("t1", Outcome.SENT) == turn
    assert ledger.close("t1", Outcome.EXPIRED) is None
    assert not ledger.open(turn)  # a request read after its outcome


def test_policy_defaults_and_refusals() -> None:
    assert SchedulerPolicy.parse({}) == SchedulerPolicy()
    p = SchedulerPolicy()
    assert (p.history_lines, p.turns_in_flight, p.back_and_forth_limit) == (20, 1, 6)
    assert SchedulerPolicy.parse({"scheduler": {"mention_delay_s": [30, 5]}}) is None
    assert SchedulerPolicy.parse({"scheduler": {"default_timezone": "Mars/Olympus"}}) is None
    assert SchedulerPolicy.parse({"scheduler": "fast"}) is None
    tuned = SchedulerPolicy.parse(
        {
            "scheduler": {
                "turns_in_flight": 1,
                "chats": {"c9": {"turns_in_flight": 3, "timezone": "UTC"}},
            }
        }
    )
    assert tuned is not None
    assert (tuned.turns_in_flight_for("c9"), tuned.turns_in_flight_for("c1")) == (3, 1)
    assert tuned.timezone_for("c9") == "UTC"
