"""How soon a crashed service is started again."""

from __future__ import annotations

import pytest

from piyasa_cli.supervisor import BackoffPolicy


def test_delay_doubles_from_the_first_failure_up_to_the_cap() -> None:
    policy = BackoffPolicy(initial_s=0.5, factor=2, max_s=5, reset_after_s=30)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_long_crash_loop_stays_at_the_cap() -> None:
    policy = BackoffPolicy(initial_s=0.5, max_s=30)
    assert policy.delay(10_000) == 30


def test_quick_failures_accumulate_and_a_long_run_resets_them() -> None:
    policy = BackoffPolicy(reset_after_s=30)
    failures = 0
    for _ in range(3):
        failures = policy.failures_after(failures, uptime_s=1.0)
    assert failures == 3
    assert policy.failures_after(failures, uptime_s=31.0) == 1
    assert policy.delay(policy.failures_after(failures, uptime_s=31.0)) == policy.initial_s


@pytest.mark.parametrize(
    "values", [{"initial_s": 0}, {"factor": 0.5}, {"initial_s": 10, "max_s": 1}]
)
def test_inconsistent_policies_are_refused(values: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**values)
