"""Reading what providers say about their limits, and pacing calls by it (pure parts)."""

from __future__ import annotations

import httpx
import pytest

from piyasa_generator.errors import (
    ProviderRejected,
    ProviderUnavailable,
    QuotaExhausted,
    RateLimited,
)
from piyasa_generator.providers.base import limits_from_headers, parse_duration
from piyasa_generator.providers.gemini import retry_delay
from piyasa_generator.providers.openai_compat import map_status_error
from piyasa_generator.rates import ProviderState, Rate, backoff, jittered


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("12ms", 0.012),
        ("6m0s", 360.0),
        ("2m59.56s", 179.56),
        ("7.66s", 7.66),
        ("1h2m3s", 3723.0),
        ("3", 3.0),
        ("0.5", 0.5),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_durations_as_providers_write_them(text: str | None, seconds: float | None) -> None:
    assert (
        parse_duration(text) == pytest.approx(seconds)
        if seconds is not None
        else (parse_duration(text) is None)
    )


def test_openai_headers_pace_requests_per_minute() -> None:
    headers = httpx.Headers(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "200000",
            "x-ratelimit-remaining-tokens": "198500",
            "x-ratelimit-reset-tokens": "450ms",
        }
    )
    limits = limits_from_headers(headers)
    rate = Rate()
    rate.observe(limits.limit_requests, limits.remaining_requests, limits.reset_requests_s, 100.0)
    assert rate.interval == pytest.approx(60 / 500)
    assert rate.capacity == 500


def test_groq_headers_count_requests_per_day_and_tokens_per_minute() -> None:
    limits = limits_from_headers(
        {
            "x-ratelimit-limit-requests": "14400",
            "x-ratelimit-remaining-requests": "14370",
            "x-ratelimit-reset-requests": "2m59.56s",
            "x-ratelimit-limit-tokens": "6000",
            "x-ratelimit-remaining-tokens": "5000",
            "x-ratelimit-reset-tokens": "10s",
        }
    )
    requests, tokens = Rate(), Rate()
    requests.observe(limits.limit_requests, limits.remaining_requests, limits.reset_requests_s, 0)
    tokens.observe(limits.limit_tokens, limits.remaining_tokens, limits.reset_tokens_s, 0)
    assert requests.interval == pytest.approx(86400 / 14400, rel=0.01)  # one per 6 s: a day
    assert tokens.interval == pytest.approx(60 / 6000)  # a minute


def test_a_rate_admits_a_burst_up_to_capacity_then_paces() -> None:
    rate = Rate(interval=0.5, capacity=3)
    now = 1000.0
    admitted = 0
    while rate.wait_for(1, now) == 0:
        rate.take(1, now)
        admitted += 1
    assert admitted == 3
    assert rate.wait_for(1, now) == pytest.approx(0.5)
    assert rate.wait_for(1, now + 0.5) == 0


def test_exhausted_headers_make_the_next_call_wait_for_one_slot() -> None:
    rate = Rate()
    rate.observe(limit=2, remaining=0, reset_s=1.0, now=0.0)  # both used, full again in 1 s
    assert rate.wait_for(1, 0.0) == pytest.approx(0.5)


def test_unknown_limits_do_not_block_and_settings_apply_until_headers_arrive() -> None:
    rate = Rate()
    assert rate.wait_for(10_000, 0.0) == 0
    rate.configure(60)
    assert rate.interval == 1.0
    rate.observe(limit=600, remaining=599, reset_s=0.1, now=0.0)
    rate.configure(60)  # headers win from now on
    assert rate.interval == pytest.approx(0.1)


def test_state_survives_a_round_trip_and_ignores_unknown_fields() -> None:
    state = ProviderState(cooldown_until=12.5, day="2026-01-05", cost_usd=1.25, calls=3)
    state.requests.interval = 0.2
    again = ProviderState.load(state.dump().replace(b'"calls"', b'"future":1,"calls"'))
    assert again == state


def test_openai_429s_say_how_long_to_wait() -> None:
    limited = map_status_error(
        "openai",
        429,
        {"retry-after": "3"},
        {"code": "rate_limit_exceeded", "type": "requests"},
        "Rate limit reached ... Please try again in 1.2s.",
    )
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 3.0
    hinted = map_status_error(
        "openai",
        429,
        {},
        {"code": "rate_limit_exceeded", "type": "tokens", "message": "Please try again in 1.2s."},
        "",
    )
    assert isinstance(hinted, RateLimited) and hinted.retry_after_s == pytest.approx(1.2)
    by_header = map_status_error(
        "groq", 429, {"x-ratelimit-reset-tokens": "7.66s", "x-ratelimit-limit-tokens": "6000",
                      "x-ratelimit-remaining-tokens": "0"}, {"type": "tokens"}, ""
    )  # fmt: skip
    assert isinstance(by_header, RateLimited) and by_header.retry_after_s == pytest.approx(7.66)


def test_insufficient_quota_is_its_own_error_and_other_statuses_map_by_kind() -> None:
    quota = map_status_error("openai", 429, {}, {"code": "insufficient_quota"}, "")
    assert isinstance(quota, QuotaExhausted)
    assert isinstance(map_status_error("openai", 503, {}, {}, ""), ProviderUnavailable)
    rejected = map_status_error("openai", 401, {}, {"code": "invalid_api_key"}, "")
    assert isinstance(rejected, ProviderRejected) and rejected.fatal
    assert not map_status_error("openai", 400, {}, {}, "").fatal  # type: ignore[attr-defined]


def test_gemini_retry_info_in_the_error_body() -> None:
    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "22s"},
            ],
        }
    }
    assert retry_delay(body) == 22.0
    assert retry_delay({"error": {"code": 429}}) is None
    assert retry_delay(None) is None


def test_waits_are_jittered_upwards_and_backoff_grows_to_its_cap() -> None:
    assert jittered(1.0, 0.0) == 1.0
    assert 1.0 < jittered(1.0, 0.99) <= 1.3
    assert backoff(1, 1.0, 30.0, 1.0) == 1.0
    assert backoff(4, 1.0, 30.0, 1.0) == 8.0
    assert backoff(10, 1.0, 30.0, 1.0) == 30.0
    assert backoff(3, 1.0, 30.0, 0.0) == 0.0
