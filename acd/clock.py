"""The ACD never reads the wall clock: time is a function handed in.

Live, the composition root passes ``time.monotonic``; the simulator and the tests pass a
``ManualClock`` and move it themselves, so the same code runs at simulated speed.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Clock", "ManualClock"]

#: Seconds on a monotonic scale; only differences matter.
Clock = Callable[[], float]


class ManualClock:
    """A clock that moves only when told to (virtual time)."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self.now += seconds
        return self.now

    def set(self, now: float) -> float:
        if now < self.now:
            raise ValueError(f"time does not run backwards ({now} < {self.now})")
        self.now = now
        return self.now
