"""Login rate limits: failed and in-flight attempts per (user, address) and per address.

An attempt is *reserved* before the password is verified and counts toward both limits
while it runs, so a burst of simultaneous guesses is held to the limit: the check and the
record are one step on the event loop (no ``await`` between them). A failed attempt stays
counted for ``window_s``; a successful one is forgotten, with the user's earlier failures
from that address.

The trade-off (SECURITY.md): the limits are per (user, address) and per address, never per
user alone, so wrong tries from one address cannot lock a person out from another one (an
attacker who knows a name cannot keep its owner out); a guesser spread over many addresses
gets ``per_user_address`` tries per address per window against one name, which a slow,
salted hash and a 10-character minimum keep far from useful. Admins lift a block at once
(``unblock``) from the users page.

Two-factor codes (``reserve(..., code=True)``) count toward the same two limits, and also
toward ``per_user_codes`` per user alone, from every address: whoever types codes already
has the password, so that limit cannot be used to keep a stranger's account out, and it
holds a guesser spread over many addresses to a few codes per window
(``two_factor.MAX_FAILURES`` then stops codes altogether).

The table holds at most ``max_keys`` keys: expired ones go first, then the least recently
used keys that block nobody; a block is only dropped when every key in the table is one,
oldest first (it would soonest have expired).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

#: How long a client refused only because attempts are in flight is told to wait.
IN_FLIGHT_RETRY_S = 1.0
#: Keys looked at, oldest first, for one that blocks nobody before dropping the oldest.
_EVICTION_SCAN = 64

_PAIR = "pair"
_ADDRESS = "address"
_CODE = "code"
Key = tuple[str, str, str]


class Throttled(Exception):
    """Too many attempts: ``retry_after_s`` until the next may be tried."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many sign-in attempts; retry after {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


@dataclass
class _Entry:
    #: When each failure happened, and (for the address) whose name it was for.
    failures: deque[tuple[float, str]] = field(default_factory=deque)
    in_flight: int = 0


@dataclass(frozen=True, slots=True)
class Block:
    """A key that refuses sign-ins now: a user at an address, or a whole address."""

    address: str
    user: str | None
    retry_after_s: float


class Attempt:
    """One reserved sign-in attempt: say how it ended (``failed``/``succeeded``), or leave
    the ``with`` block (an error while checking: the reservation is returned uncounted)."""

    def __init__(
        self, throttle: LoginThrottle, address: str, user: str, keys: tuple[Key, ...]
    ) -> None:
        self._throttle, self.address, self.user, self.keys = throttle, address, user, keys
        self._open = True

    def failed(self) -> None:
        if self._open:
            self._open = False
            self._throttle._finish(self, failed=True)

    def succeeded(self) -> None:
        if self._open:
            self._open = False
            self._throttle._finish(self, failed=False)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._open:
            self._open = False
            self._throttle._finish(self, failed=None)


class LoginThrottle:
    def __init__(
        self,
        *,
        per_user_address: int = 5,
        per_address: int = 10,
        per_user_codes: int = 5,
        window_s: float = 300.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {_PAIR: per_user_address, _ADDRESS: per_address, _CODE: per_user_codes}
        self._window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def reserve(self, address: str, user: str, *, code: bool = False) -> Attempt:
        """Count an attempt now (before the password, or with ``code`` the two-factor code,
        is checked); ``Throttled`` if a limit is reached by failures and attempts in flight."""
        user = user.lower()
        now = self._clock()
        keys: tuple[Key, ...] = (_pair(address, user), _address(address))
        if code:
            keys = (*keys, _code(user))
        wait = max(self._wait(key, now) for key in keys)
        if wait > 0:
            raise Throttled(wait)
        for key in keys:
            self._entry(key, now).in_flight += 1
        return Attempt(self, address, user, keys)

    def blocked(self, address: str, user: str) -> float:
        """Seconds until ``user`` may try again from ``address``; 0 when it may now."""
        now = self._clock()
        user = user.lower()
        return max(self._wait(k, now) for k in (_pair(address, user), _address(address)))

    def blocks(self) -> list[Block]:
        """Every key refusing sign-ins now (for the admins' page)."""
        now = self._clock()
        found = []
        for key in list(self._entries):
            wait = self._wait(key, now)
            if wait > 0:
                kind, address, user = key
                found.append(Block(address, user if kind != _ADDRESS else None, wait))
        return sorted(found, key=lambda b: (b.address, b.user or ""))

    def unblock(self, *, user: str | None = None, address: str | None = None) -> int:
        """Forget the failures of ``user`` (from every address) or of ``address`` (every
        user there, and the address's own count). Returns the keys cleared."""
        user = user.lower() if user is not None else None
        cleared = 0
        for key in list(self._entries):
            kind, key_address, key_user = key
            mine = (user is not None and kind in (_PAIR, _CODE) and key_user == user) or (
                address is not None and key_address == address
            )
            if mine:
                self._entries[key].failures.clear()
                cleared += 1
            elif user is not None and kind == _ADDRESS:
                failures = self._entries[key].failures
                kept = deque(f for f in failures if f[1] != user)
                if len(kept) != len(failures):
                    self._entries[key].failures = kept
        for key in list(self._entries):
            self._drop_if_idle(key)
        return cleared

    def _finish(self, attempt: Attempt, *, failed: bool | None) -> None:
        now = self._clock()
        pair, address = _pair(attempt.address, attempt.user), _address(attempt.address)
        for key in attempt.keys:
            entry = self._entries.get(key)
            if entry is not None and entry.in_flight > 0:
                entry.in_flight -= 1
        if failed:
            for key in attempt.keys:
                self._entry(key, now).failures.append((now, attempt.user))
        elif failed is False:
            # Signed in: the user's earlier typos from here no longer count (a right code
            # also clears the run of wrong codes; a right password alone does not).
            for key in (pair, *(k for k in attempt.keys if k[0] == _CODE)):
                entry = self._entries.get(key)
                if entry is not None:
                    entry.failures.clear()
            entry = self._entries.get(address)
            if entry is not None:
                entry.failures = deque(f for f in entry.failures if f[1] != attempt.user)
        for key in attempt.keys:
            self._drop_if_idle(key)

    def _wait(self, key: Key, now: float) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        failures = entry.failures
        while failures and failures[0][0] <= now - self._window_s:
            failures.popleft()
        if len(failures) + entry.in_flight < self._limits[key[0]]:
            return 0.0
        if len(failures) >= self._limits[key[0]]:
            # The oldest failure that keeps the count at the limit must age out.
            index = len(failures) - self._limits[key[0]]
            return max(failures[index][0] + self._window_s - now, IN_FLIGHT_RETRY_S)
        return IN_FLIGHT_RETRY_S

    def _entry(self, key: Key, now: float) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._max_keys:
                self._evict(now)
            entry = self._entries[key] = _Entry()
        else:
            self._entries.move_to_end(key)
        return entry

    def _evict(self, now: float) -> None:
        """Make room for one key: an expired one, else one blocking nobody, else the oldest."""
        oldest: Key | None = None
        for index, key in enumerate(self._entries):
            if index >= _EVICTION_SCAN:
                break
            entry = self._entries[key]
            if entry.in_flight:
                continue
            oldest = oldest or key
            if self._wait(key, now) == 0:
                del self._entries[key]
                return
        if oldest is None:  # the oldest keys all have attempts in flight: drop the oldest
            oldest = next(iter(self._entries))
        del self._entries[oldest]

    def _drop_if_idle(self, key: Key) -> None:
        entry = self._entries.get(key)
        if entry is not None and not entry.failures and not entry.in_flight:
            del self._entries[key]


def _pair(address: str, user: str) -> Key:
    return (_PAIR, address, user)


def _address(address: str) -> Key:
    return (_ADDRESS, address, "")


def _code(user: str) -> Key:
    return (_CODE, "", user)
