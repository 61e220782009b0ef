"""What an attempt's result means: delivered, try again later, or a dead letter. Pure.

- a 2xx answer: delivered;
- no answer (connection refused, reset, timeout), 408, 429 or 5xx: the receiver may be back
  later: retry after an exponential back-off with jitter, or after the receiver's own
  ``Retry-After`` when it sent one, until the subscription's attempts or age run out;
- any other answer (400, 401, 404, 410, a redirect: redirects are not followed, the URL is
  wrong): retrying cannot help; a dead letter at once, to be re-queued by hand once fixed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "Backoff",
    "Decision",
    "Limits",
    "Result",
    "Verdict",
    "decide",
    "parse_retry_after",
]

#: Answers worth retrying besides 5xx: Request Timeout, Too Many Requests.
RETRYABLE_STATUSES = frozenset({408, 429})
#: A ``Retry-After`` beyond this is read as this (a day): the age limit decides.
MAX_RETRY_AFTER_S = 86400.0


@dataclass(frozen=True)
class Backoff:
    """``initial_s × factor^(n-1)``, capped at ``max_s``, less up to ``jitter`` of it at random
    (0.5: "equal jitter", so that receivers coming back are not hit by every sender at once)."""

    initial_s: float = 1.0
    max_s: float = 3600.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s and self.factor >= 1 and 0 <= self.jitter <= 1):
            raise ValueError("back-off needs 0 < initial_s <= max_s, factor >= 1, 0 <= jitter <= 1")

    def delay(self, retry: int, random: float) -> float:
        """The wait before retry number ``retry`` (1: after the first failure);
        ``random`` is uniform in [0, 1)."""
        base = self.initial_s
        for _ in range(min(retry - 1, 64)):
            base *= self.factor
            if base >= self.max_s:
                break
        base = min(base, self.max_s)
        return base * (1.0 - self.jitter * random)


@dataclass(frozen=True)
class Limits:
    max_attempts: int = 12
    #: From the event (or its re-queueing) to the last attempt.
    max_age_s: float = 86400.0
    backoff: Backoff = Backoff()


@dataclass(frozen=True)
class Result:
    """One attempt's result: an HTTP status, or why there was none."""

    status: int | None
    error: str | None = None
    retry_after_s: float | None = None

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else (self.error or "no answer")


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay_s: float = 0.0
    reason: str = ""


def decide(
    result: Result, *, attempts: int, age_s: float, limits: Limits, random: float
) -> Decision:
    """``attempts``: made so far in this round, this one included; ``age_s``: from the round's
    start to now. ``random`` in [0, 1) draws the jitter."""
    status = result.status
    if status is not None and 200 <= status < 300:
        return Decision(Verdict.DELIVERED, reason=result.describe())
    retryable = status is None or status in RETRYABLE_STATUSES or 500 <= status < 600
    if not retryable:
        why = "redirects are not followed" if status is not None and status < 400 else "refused"
        return Decision(Verdict.DEAD, reason=f"{result.describe()}: {why}")
    if attempts >= limits.max_attempts:
        return Decision(
            Verdict.DEAD, reason=f"{result.describe()}: gave up after {attempts} attempts"
        )
    if result.retry_after_s is not None:
        delay = max(result.retry_after_s, limits.backoff.initial_s)
    else:
        delay = limits.backoff.delay(attempts, random)
    if age_s + delay > limits.max_age_s:
        return Decision(
            Verdict.DEAD,
            reason=f"{result.describe()}: gave up, older than {limits.max_age_s:g} s",
        )
    return Decision(Verdict.RETRY, delay_s=delay, reason=result.describe())


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), or None
    when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_S)
