"""API rate limits: a token bucket per token and one per client address.

Every request under ``/api/v1/`` takes one from its address's bucket and, when it carries
a bearer token, one from that token's bucket (keyed by the token's hash, before the token
is even checked: a flood of made-up tokens is held by the address's bucket). A bucket
refills at ``per_s`` and holds at most ``burst``; an empty one answers ``429`` with
``Retry-After``, the whole seconds until it holds one again, and costs nothing more: no
query, no hash check, no spool. Buckets are kept for ``max_keys`` keys, the least recently
used dropped first (a dropped bucket comes back full, which only forgives).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from hotline.web.api.errors import ApiError
from hotline.web.tokens import MAX_TOKEN_CHARS, token_hash

RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class RateLimits:
    per_token_per_s: float = 50.0
    per_token_burst: int = 100
    per_address_per_s: float = 100.0
    per_address_burst: int = 200


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    def __init__(
        self,
        per_s: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_s, self._burst = per_s, burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may make a request (0: now)."""
        bucket = self._fill(key)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self._per_s

    def take(self, key: str) -> None:
        self._fill(key).tokens -= 1

    def _fill(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self._burst), now)
            self._buckets[key] = bucket
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._per_s)
            bucket.at = now
        return bucket


class RateLimiter:
    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.tokens = TokenBuckets(limits.per_token_per_s, limits.per_token_burst, clock=clock)
        self.addresses = TokenBuckets(
            limits.per_address_per_s, limits.per_address_burst, clock=clock
        )
        self.refused = 0

    def check(self, address: str, bearer: str | None) -> None:
        """Take one request from the address's (and the token's) bucket, or raise 429."""
        token_key = token_hash(bearer) if bearer else None
        wait = self.addresses.wait(address)
        if token_key is not None:
            wait = max(wait, self.tokens.wait(token_key))
        if wait > 0:
            self.refused += 1
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                RATE_LIMITED,
                f"too many requests; retry after {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
        self.addresses.take(address)
        if token_key is not None:
            self.tokens.take(token_key)

    def middleware(self) -> Any:
        @web.middleware
        async def rate_limited(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.check(request.remote or "?", _bearer(request))
            return await handler(request)

        return rate_limited


def _bearer(request: web.Request) -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or len(secret) > MAX_TOKEN_CHARS:
        return None
    return secret
