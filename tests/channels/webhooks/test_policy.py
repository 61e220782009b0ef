"""What an attempt's result means: delivered, retry later, or a dead letter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.webhooks.policy import (
    Backoff,
    Limits,
    Result,
    Verdict,
    decide,
    parse_retry_after,
)

LIMITS = Limits(max_attempts=5, max_age_s=3600, backoff=Backoff(initial_s=1, max_s=60))
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def verdict(status: int | None, *, attempts: int = 1, age_s: float = 0.0) -> Verdict:
    result = Result(status, None if status else "connection refused")
    return decide(result, attempts=attempts, age_s=age_s, limits=LIMITS, random=0.0).verdict


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(status: int) -> None:
    assert verdict(status) is Verdict.DELIVERED


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 504, 599])
def test_no_answer_timeouts_throttling_and_server_errors_are_retried(status: int | None) -> None:
    assert verdict(status) is Verdict.RETRY


@pytest.mark.parametrize("status", [100, 301, 302, 304, 400, 401, 403, 404, 405, 410, 413, 422])
def test_other_answers_are_dead_letters_at_once(status: int) -> None:
    assert verdict(status) is Verdict.DEAD


def test_retries_stop_at_max_attempts() -> None:
    assert verdict(500, attempts=4) is Verdict.RETRY
    decision = decide(Result(500), attempts=5, age_s=0, limits=LIMITS, random=0.0)
    assert decision.verdict is Verdict.DEAD
    assert decision.reason == "HTTP 500: gave up after 5 attempts"


def test_retries_stop_when_the_next_would_be_past_max_age() -> None:
    assert verdict(503, attempts=2, age_s=3597) is Verdict.RETRY  # next in 2 s: 3599
    assert verdict(503, attempts=2, age_s=3599) is Verdict.DEAD


def test_the_back_off_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial_s=1, max_s=60, jitter=0.5)

    assert [backoff.delay(n, 0.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(10_000, 0.0) == 60


def test_jitter_takes_up_to_its_share_off_the_delay() -> None:
    backoff = Backoff(initial_s=1, max_s=60, jitter=0.5)

    assert backoff.delay(4, 0.0) == 8
    assert backoff.delay(4, 0.5) == 6
    assert 4 < backoff.delay(4, 0.999) < 8


def test_a_back_off_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError, match="back-off"):
        Backoff(initial_s=10, max_s=1)


def test_retry_after_replaces_the_back_off() -> None:
    result = Result(429, retry_after_s=120)

    decision = decide(result, attempts=1, age_s=0, limits=LIMITS, random=0.0)

    assert (decision.verdict, decision.delay_s) == (Verdict.RETRY, 120)


def test_retry_after_zero_still_waits_the_first_back_off() -> None:
    decision = decide(Result(503, retry_after_s=0), attempts=1, age_s=0, limits=LIMITS, random=0)

    assert decision.delay_s == 1


def test_retry_after_past_max_age_is_a_dead_letter() -> None:
    decision = decide(Result(503, retry_after_s=7200), attempts=1, age_s=0, limits=LIMITS, random=0)

    assert decision.verdict is Verdict.DEAD


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("Mon, 02 Mar 2026 09:01:30 GMT", 90.0),
        ("Mon, 02 Mar 2026 08:00:00 GMT", 0.0),  # in the past: at once
        ("99999999999", 86400.0),  # capped
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("²", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds
