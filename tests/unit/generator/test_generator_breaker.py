"""The breaker: consecutive failures open it, a probe after the cool-down closes it."""

from __future__ import annotations

from piyasa_common.clock import ManualClock
from piyasa_generator.breaker import Breaker, BreakerState


def breaker(clock: ManualClock) -> Breaker:
    return Breaker("openai", failures=3, open_s=10.0, clock=clock)


def test_opens_after_consecutive_failures_only() -> None:
    clock = ManualClock()
    b = breaker(clock)
    b.failure("unavailable")
    b.failure("unavailable")
    b.success()
    b.failure("unavailable")
    b.failure("unavailable")
    assert b.allows()
    b.failure("unavailable")
    assert b.state is BreakerState.OPEN and not b.allows()
    assert b.retry_in() == 10.0


def test_after_the_cool_down_one_probe_goes_and_its_success_closes() -> None:
    clock = ManualClock()
    b = breaker(clock)
    b.force_open(10.0, "test")
    clock.advance(10.0)
    assert b.state is BreakerState.HALF_OPEN
    assert b.allows()
    assert not b.allows()  # one probe at a time
    b.success()
    assert b.state is BreakerState.CLOSED and b.allows()


def test_a_failed_probe_opens_it_again() -> None:
    clock = ManualClock()
    b = breaker(clock)
    b.force_open(10.0, "test")
    clock.advance(11.0)
    assert b.allows()
    b.failure("timeout")
    assert b.state is BreakerState.OPEN


def test_forcing_it_open_keeps_the_later_deadline() -> None:
    clock = ManualClock()
    b = breaker(clock)
    b.force_open(3600.0, "insufficient quota")
    b.force_open(5.0, "another failure")
    clock.advance(60.0)
    assert b.state is BreakerState.OPEN and b.reason == "insufficient quota"
