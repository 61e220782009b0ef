"""How much one visitor's connection may send: token buckets (pure, clock injected)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic

__all__ = ["TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    """``burst`` at once, then ``rate_per_s``; ``take`` says whether one more may pass, and
    ``retry_after_s`` how long until one will."""

    burst: float
    rate_per_s: float
    clock: Callable[[], float] = monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        if self.burst < 1 or self.rate_per_s <= 0:
            raise ValueError("a bucket holds at least one token and refills")
        self._tokens = self.burst
        self._at = self.clock()

    def take(self) -> bool:
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def retry_after_s(self) -> float:
        self._refill()
        return max(0.0, (1 - self._tokens) / self.rate_per_s)

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now
