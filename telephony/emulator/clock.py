"""Virtual time: durations are virtual seconds, slept `time_scale` times faster in real time."""

from __future__ import annotations

import asyncio
import time


class Clock:
    """Scales sleeps; `now_v` is virtual seconds since the clock was made."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.scale = time_scale
        self._t0 = time.monotonic()

    def now_v(self) -> float:
        return (time.monotonic() - self._t0) / self.scale

    def real(self, virtual_s: float) -> float:
        return max(virtual_s, 0.0) * self.scale

    async def sleep(self, virtual_s: float) -> None:
        await asyncio.sleep(self.real(virtual_s))

    @staticmethod
    def epoch() -> float:
        """Wall-clock seconds (uniqueids, AMI timestamps)."""
        return time.time()
