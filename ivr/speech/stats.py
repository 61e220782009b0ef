"""Counters of the speech service, for logs and /metrics: turns, fallbacks, decode times.

Times are kept in a bounded window (the recent turns), so percentiles follow the current
load and memory stays flat however long the service runs. Updated from the event loop and
from worker threads, hence the lock.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FALLBACK_REASONS", "FallbackReason", "SpeechCounters", "SpeechStats", "percentile"]

FallbackReason = Literal["saturated", "timeout", "failed", "no_backend", "unavailable"]
FALLBACK_REASONS: tuple[FallbackReason, ...] = (
    "saturated",  # every worker (and queue slot) busy
    "timeout",  # the decode took longer than timeout_s
    "failed",  # unreadable audio or an engine error
    "no_backend",  # no model for the caller's language (or speech disabled)
    "unavailable",  # the service is not started, or closed
)

WINDOW = 2048


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in [0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


@dataclass(frozen=True)
class SpeechStats:
    """A snapshot. ``wait`` is the time a turn spent queued before a worker took it."""

    turns: int
    recognised: int
    fallbacks: Mapping[str, int]
    in_flight: int
    capacity: int
    decode_p50_s: float | None
    decode_p99_s: float | None
    wait_p50_s: float | None
    wait_p99_s: float | None
    languages: tuple[str, ...] = field(default=())

    @property
    def fallback_total(self) -> int:
        return sum(self.fallbacks.values())


class SpeechCounters:
    def __init__(self, window: int = WINDOW) -> None:
        self._lock = threading.Lock()
        self.turns = 0
        self.recognised = 0
        self.fallbacks: Counter[str] = Counter({reason: 0 for reason in FALLBACK_REASONS})
        self._decode: deque[float] = deque(maxlen=window)
        self._wait: deque[float] = deque(maxlen=window)

    def turn(self) -> None:
        with self._lock:
            self.turns += 1

    def success(self) -> None:
        with self._lock:
            self.recognised += 1

    def fallback(self, reason: FallbackReason) -> None:
        with self._lock:
            self.fallbacks[reason] += 1

    def decoded(self, wait_s: float, decode_s: float) -> None:
        with self._lock:
            self._wait.append(wait_s)
            self._decode.append(decode_s)

    def snapshot(self, *, in_flight: int, capacity: int, languages: tuple[str, ...]) -> SpeechStats:
        with self._lock:
            decode, wait = list(self._decode), list(self._wait)
            return SpeechStats(
                turns=self.turns,
                recognised=self.recognised,
                fallbacks=dict(self.fallbacks),
                in_flight=in_flight,
                capacity=capacity,
                decode_p50_s=percentile(decode, 0.5),
                decode_p99_s=percentile(decode, 0.99),
                wait_p50_s=percentile(wait, 0.5),
                wait_p99_s=percentile(wait, 0.99),
                languages=languages,
            )
