"""Login rate limits: failed attempts per client address and per user name, in a window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """Refuse logins from an address or for a name with ``limit`` failures in ``window_s``.

    Only failures count, so a person who types right is never held up by others' typos
    beyond the per-name limit (the price of stopping a guesser spread over many addresses).
    """

    def __init__(
        self,
        *,
        per_ip: int = 10,
        per_user: int = 5,
        window_s: float = 300.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"ip": per_ip, "user": per_user}
        self._window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def blocked(self, ip: str, user: str) -> float:
        """Seconds until a login may be tried again; 0 when it may now."""
        now = self._clock()
        wait = 0.0
        for kind, key in (("ip", ip), ("user", user.lower())):
            times = self._recent((kind, key), now)
            if len(times) >= self._limits[kind]:
                wait = max(wait, times[0] + self._window_s - now)
        return wait

    def failed(self, ip: str, user: str) -> None:
        now = self._clock()
        if len(self._failures) >= self._max_keys:
            self._failures.clear()
        for key in (("ip", ip), ("user", user.lower())):
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str) -> None:
        self._failures.pop(("user", user.lower()), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times
