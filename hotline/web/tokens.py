"""Bearer tokens of the HTTP API: created by an admin, shown once, stored as a hash only.

A token is ``hl_`` followed by 32 random bytes (URL-safe base64). The store keeps its
SHA-256, which is enough: a slow password hash (bcrypt, argon2) is there to make guessing a
*low-entropy* secret from a stolen hash expensive, and nobody guesses 256 random bits at any
hash rate. A fast, unsalted hash also lets a request's token be found by an index lookup
instead of trying every stored hash. The lookup reveals, through timing, at most something
about the *hash*, which is useless without a preimage; the final equality check is
``hmac.compare_digest`` all the same.

Scopes say what a token may do (see :class:`Scope`). A token also names the ``source`` its
writes are recorded under: the namespace of its idempotency keys.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from history.context import Clock, utc_now
from history.inputs import Channel
from history.models import ApiTokenRow
from history.store import writing_sessions

PREFIX = "hl_"
SECRET_BYTES = 32
#: Longer than any token this module makes; a longer header value is refused unhashed.
MAX_TOKEN_CHARS = 128
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
SOURCE_PATTERN = re.compile(r"^[a-z0-9_.\-]{1,32}$")


class Scope(StrEnum):
    HISTORY_READ = "history:read"
    #: Interactions on every channel, notes, customers, and merging customers.
    HISTORY_WRITE = "history:write"
    HISTORY_WRITE_VOICE = "history:write:voice"
    HISTORY_WRITE_CHAT = "history:write:chat"
    HISTORY_WRITE_EMAIL = "history:write:email"
    HISTORY_WRITE_WHATSAPP = "history:write:whatsapp"
    HISTORY_WRITE_SMS = "history:write:sms"
    HISTORY_WRITE_VOICEMAIL = "history:write:voicemail"
    HISTORY_WRITE_FOLLOW_UP = "history:write:follow_up"
    EVENTS_READ = "events:read"
    #: Export and erasure of a customer's data.
    PRIVACY_ADMIN = "privacy:admin"


def write_scope(channel: Channel) -> Scope:
    """The scope that lets a token write interactions on ``channel``."""
    return Scope(f"{Scope.HISTORY_WRITE.value}:{channel.value}")


CHANNEL_WRITE_SCOPES = frozenset(write_scope(c) for c in Channel)
_KNOWN_SCOPES = frozenset(s.value for s in Scope)


class TokenError(Exception):
    """A token command refused (name taken, unknown name, bad name or scope)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """A token as the API and the CLI see it (never the secret, never the hash)."""

    name: str
    source: str
    scopes: frozenset[Scope]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def allows(self, scope: Scope) -> bool:
        if scope in self.scopes:
            return True
        return scope in CHANNEL_WRITE_SCOPES and Scope.HISTORY_WRITE in self.scopes

    def may_write(self, channel: Channel) -> bool:
        return self.allows(write_scope(channel))

    @property
    def writes_any(self) -> bool:
        """Holds some write scope: enough for notes and customer records."""
        return any(self.allows(s) for s in (Scope.HISTORY_WRITE, *CHANNEL_WRITE_SCOPES))


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(values: Collection[str]) -> frozenset[Scope]:
    unknown = sorted(set(values) - _KNOWN_SCOPES)
    if unknown:
        known = ", ".join(s.value for s in Scope)
        raise TokenError(f"unknown scope {', '.join(unknown)}; known: {known}")
    if not values:
        raise TokenError("a token needs at least one scope")
    return frozenset(Scope(v) for v in values)


def _record(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        name=row.name,
        source=row.source,
        scopes=frozenset(Scope(s) for s in row.scopes if s in _KNOWN_SCOPES),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class TokenStore:
    """The ``api_tokens`` table. Each method is one transaction."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = writing_sessions(engine)

    async def create(
        self, name: str, scopes: Collection[str], *, source: str | None = None
    ) -> tuple[ApiToken, str]:
        """The new token and its secret: the only time the secret exists outside a client."""
        if not NAME_PATTERN.match(name):
            raise TokenError(
                f"token name {name!r}: 1-64 of a-z 0-9 _ . - (starting with a letter or digit)"
            )
        source = name if source is None else source
        if not SOURCE_PATTERN.match(source):
            raise TokenError(f"source {source!r}: 1-32 of a-z 0-9 _ . - (give --source)")
        granted = parse_scopes(scopes)
        secret = new_secret()
        row = ApiTokenRow(
            name=name,
            source=source,
            token_hash=token_hash(secret),
            scopes=sorted(s.value for s in granted),
            created_at=self._clock(),
        )
        try:
            async with self._writes() as session, session.begin():
                session.add(row)
        except IntegrityError:
            message = f"a token named {name!r} exists (names are never reused; pick another)"
            raise TokenError(message) from None
        return _record(row), secret

    async def list(self) -> list[ApiToken]:
        async with self._reads() as session:
            rows = await session.execute(select(ApiTokenRow).order_by(ApiTokenRow.name))
            return [_record(r) for r in rows.scalars()]

    async def revoke(self, name: str) -> ApiToken:
        async with self._writes() as session, session.begin():
            row = (
                await session.execute(select(ApiTokenRow).where(ApiTokenRow.name == name))
            ).scalar_one_or_none()
            if row is None:
                raise TokenError(f"no token named {name!r}")
            if row.revoked_at is None:
                row.revoked_at = self._clock()
            return _record(row)

    async def authenticate(self, secret: str) -> ApiToken | None:
        """The live token with this secret, or None. Read-only: see :meth:`touch`."""
        if not secret.startswith(PREFIX) or len(secret) > MAX_TOKEN_CHARS:
            return None
        digest = token_hash(secret)
        async with self._reads() as session:
            row = (
                await session.execute(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest))
            ).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return None if row.revoked_at is not None else _record(row)

    async def live(self) -> builtins.list[tuple[str, ApiToken]]:
        """Every token not revoked, with its hash (for the outage snapshot: never a secret)."""
        async with self._reads() as session:
            rows = await session.execute(
                select(ApiTokenRow).where(ApiTokenRow.revoked_at.is_(None))
            )
            return [(r.token_hash, _record(r)) for r in rows.scalars()]

    async def touch(self, name: str) -> None:
        """Note that the token was used now (the API does so at most every few seconds)."""
        async with self._writes() as session, session.begin():
            await session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.name == name)
                .values(last_used_at=self._clock())
            )
