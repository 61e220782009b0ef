"""Who is calling: ``Authorization: Bearer hl_...`` checked against the token store.

A token seen recently is trusted from memory for ``fresh_s`` (so a busy module costs no
query per request, and its "last used" is noted at most that often); a revocation
therefore takes effect within ``fresh_s``. While the store is unavailable, a token checked
within ``stale_s`` stays trusted, so modules can keep sending interactions to the spool; a
token never seen, or seen too long ago, gets 503. Neither the token nor its hash is logged.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import exc

from history.writer import is_outage
from hotline.web.api.errors import UNAUTHENTICATED, ApiError, unavailable
from hotline.web.tokens import MAX_TOKEN_CHARS, PREFIX, ApiToken, TokenStore, token_hash

log = logging.getLogger(__name__)

_CHALLENGE = 'Bearer realm="hotline"'


@dataclass(frozen=True, slots=True)
class _Seen:
    token: ApiToken
    checked: float


def _unauthenticated(message: str, *, invalid: bool) -> ApiError:
    challenge = _CHALLENGE + (', error="invalid_token"' if invalid else "")
    return ApiError(401, UNAUTHENTICATED, message, headers={"WWW-Authenticate": challenge})


class Authenticator:
    def __init__(
        self,
        tokens: TokenStore,
        *,
        fresh_s: float = 30.0,
        stale_s: float = 3600.0,
        retry_after_s: int = 5,
        max_cached: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._fresh_s, self._stale_s = fresh_s, stale_s
        self._retry_after_s = retry_after_s
        self._max_cached = max_cached
        self._clock = clock
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
            if seen is not None and now - seen.checked < self._stale_s:
                return seen.token
            raise unavailable(
                self._retry_after_s, "the token cannot be checked: the history store is down"
            ) from None
        if token is None:
            self._seen.pop(digest, None)
            raise _unauthenticated("unknown or revoked token", invalid=True)
        self._remember(digest, _Seen(token, now))
        await self._touch(token)
        return token

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
