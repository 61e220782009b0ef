"""Who is calling: ``Authorization: Bearer hl_...`` checked against the token store.

Every request's token is looked up in the store (one indexed read), so a revoked token is
refused from the next request on; ``fresh_s`` may trade that for fewer queries (a token
checked that recently is trusted from memory). Its "last used" is noted at most every
``touch_every_s``. While the store is unavailable, a token checked within ``stale_s`` stays
trusted, so modules can keep sending interactions to the spool; after a restart during an
outage, the tokens on disk (``token_snapshot``, refreshed while the store answers) are
trusted the same way. A token known to neither gets 503. Neither the token nor its hash is
logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import exc

from history.context import utc_now
from history.writer import is_outage
from hotline.web.api import token_snapshot
from hotline.web.api.errors import UNAUTHENTICATED, ApiError, unavailable
from hotline.web.tokens import MAX_TOKEN_CHARS, PREFIX, ApiToken, TokenStore, token_hash

log = logging.getLogger(__name__)

_CHALLENGE = 'Bearer realm="hotline"'


@dataclass(frozen=True, slots=True)
class _Seen:
    token: ApiToken
    checked: float
    touched: float


def _unauthenticated(message: str, *, invalid: bool) -> ApiError:
    challenge = _CHALLENGE + (', error="invalid_token"' if invalid else "")
    return ApiError(401, UNAUTHENTICATED, message, headers={"WWW-Authenticate": challenge})


class Authenticator:
    def __init__(
        self,
        tokens: TokenStore,
        *,
        fresh_s: float = 0.0,
        stale_s: float = 3600.0,
        retry_after_s: int = 5,
        max_cached: int = 1024,
        touch_every_s: float = 30.0,
        snapshot: Path | None = None,
        snapshot_every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tokens = tokens
        self._fresh_s, self._stale_s = fresh_s, stale_s
        self._retry_after_s = retry_after_s
        self._max_cached = max_cached
        self._touch_every_s = touch_every_s
        self._snapshot_path = snapshot
        self._snapshot_every_s = snapshot_every_s
        self._snapshot: token_snapshot.Snapshot | None = None
        self._snapshot_read = False
        self._snapshot_saved: float | None = None
        self._clock, self._wall = clock, wall
        self._seen: OrderedDict[str, _Seen] = OrderedDict()

    async def authenticate(self, request: web.Request) -> ApiToken:
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise _unauthenticated("send Authorization: Bearer <token>", invalid=False)
        if not secret.startswith(PREFIX) or len(secret) > MAX_TOKEN_CHARS:
            raise _unauthenticated("the token is not one of this server's", invalid=True)
        # The cache is keyed by the hash, never the secret, so a heap dump shows no token.
        digest = token_hash(secret)
        now = self._clock()
        seen = self._seen.get(digest)
        if seen is not None and now - seen.checked < self._fresh_s:
            return seen.token
        try:
            token = await self._tokens.authenticate(secret)
        except (OSError, exc.SQLAlchemyError) as error:
            if not is_outage(error):
                raise
            trusted = await self._trusted_while_down(digest, seen, now)
            if trusted is not None:
                return trusted
            raise unavailable(
                self._retry_after_s, "the token cannot be checked: the history store is down"
            ) from None
        if token is None:
            self._seen.pop(digest, None)
            raise _unauthenticated("unknown or revoked token", invalid=True)
        touched = seen.touched if seen is not None else None
        if touched is None or now - touched >= self._touch_every_s:
            await self._touch(token)
            touched = now
        self._remember(digest, _Seen(token, now, touched))
        if self._snapshot_due(now, digest):
            await self.save_snapshot()
        return token

    async def save_snapshot(self) -> bool:
        """Write the live tokens to the snapshot file (at start, then now and then while the
        store answers). False when there is no file to keep or the store is down."""
        if self._snapshot_path is None:
            return False
        self._snapshot_saved = self._clock()
        try:
            live = await self._tokens.live()
        except (OSError, exc.SQLAlchemyError) as error:
            if not is_outage(error):
                raise
            return False
        now = self._wall()
        await asyncio.to_thread(token_snapshot.save, self._snapshot_path, live, now)
        self._snapshot = token_snapshot.Snapshot(now, dict(live))
        self._snapshot_read = True
        return True

    def _snapshot_due(self, now: float, digest: str) -> bool:
        """Every ``snapshot_every_s``, and at once for a live token it does not hold yet (one
        created since): a restart during an outage then knows every token in use."""
        if self._snapshot_path is None:
            return False
        saved, snapshot = self._snapshot_saved, self._snapshot
        if saved is None or now - saved >= self._snapshot_every_s:
            return True
        return snapshot is not None and digest not in snapshot.tokens

    async def _trusted_while_down(
        self, digest: str, seen: _Seen | None, now: float
    ) -> ApiToken | None:
        if seen is not None and now - seen.checked < self._stale_s:
            return seen.token
        if self._snapshot_path is None:
            return None
        if not self._snapshot_read:  # once: written by an earlier run (or this one)
            self._snapshot = await asyncio.to_thread(token_snapshot.load, self._snapshot_path)
            self._snapshot_read = True
        snapshot = self._snapshot
        if snapshot is None or digest not in snapshot.tokens:
            return None
        if self._wall() - snapshot.saved_at >= timedelta(seconds=self._stale_s):
            return None
        return snapshot.tokens[digest]

    def _remember(self, digest: str, seen: _Seen) -> None:
        self._seen[digest] = seen
        self._seen.move_to_end(digest)
        while len(self._seen) > self._max_cached:
            self._seen.popitem(last=False)

    async def _touch(self, token: ApiToken) -> None:
        try:
            await self._tokens.touch(token.name)
        except (OSError, exc.SQLAlchemyError) as error:
            if not is_outage(error):
                raise
            log.debug("could not note the use of token %r: store unavailable", token.name)
