"""HTTP idempotency keys: a retry gets the original result, a reused key with another body a 409.

The store already makes writes idempotent by ``(source, idempotency_key)``; what it cannot
tell is whether a retry carries the *same* request. So the first request's fingerprint
(SHA-256 of its validated body, canonical JSON) is claimed under ``(source, operation,
key)`` before the write, and a later request with that key is compared against it.

Only a salted form is stored: 16 hex digits of a random salt per row, then 48 of
SHA-256(salt, fingerprint). A table of hashes of bodies would let anyone holding a copy of
the database confirm a guess of a short body (a phone number in a note) against every row
at once, or spot two rows with the same body; a salt per row makes each guess cost one hash
per row, and the fingerprints of an erased customer's writes are deleted with the customer.

Fingerprints are kept ``retention`` (7 days: far beyond any client's retry window) and
purged as new ones are claimed; erasing a customer forgets the fingerprints of their
interactions and notes at once (a hash of a short body is guessable personal data).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from pydantic import BaseModel
from sqlalchemy import and_, delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from history.context import Clock, utc_now
from history.models import ApiIdempotencyRow, InteractionRow, NoteRow
from history.store import writing_sessions

INTERACTION = "interaction"
NOTE = "note"


class Claim(Enum):
    NEW = "new"  # first use of the key: go ahead and write
    REPEAT = "repeat"  # the same request again: answer with what the first one wrote


@dataclass(frozen=True)
class Claimed:
    kind: Claim
    #: When the key was first claimed (now, for a NEW claim).
    at: datetime


class IdempotencyConflict(Exception):
    def __init__(self, key: str, first_at: datetime) -> None:
        self.key, self.first_at = key, first_at
        super().__init__(
            f"Idempotency-Key {key!r} was first used at {first_at.isoformat()} with a different"
            " body; a retry must repeat the request exactly, a new request needs a new key"
        )


_SALT_HEX = 16


def fingerprint(operation: str, body: BaseModel) -> str:
    """The request's fingerprint (kept in memory only; the store holds it salted)."""
    canonical = json.dumps(
        [operation, body.model_dump(mode="json")], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def salted(print_: str, salt: str | None = None) -> str:
    """What the store keeps: the salt, then SHA-256(salt + fingerprint), 64 hex digits."""
    salt = secrets.token_hex(_SALT_HEX // 2) if salt is None else salt
    digest = hashlib.sha256((salt + print_).encode()).hexdigest()
    return salt + digest[: 64 - _SALT_HEX]


def matches(stored: str, print_: str) -> bool:
    return hmac.compare_digest(stored, salted(print_, stored[:_SALT_HEX]))


class IdempotencyStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock = utc_now,
        retention: timedelta = timedelta(days=7),
        purge_every: timedelta = timedelta(minutes=10),
    ) -> None:
        self._clock = clock
        self._retention = retention
        self._purge_every = purge_every
        self._last_purge: datetime | None = None
        self._writes = writing_sessions(engine)

    async def claim(self, source: str, operation: str, key: str, print_: str) -> Claimed:
        """NEW (now claimed) or REPEAT; ``IdempotencyConflict`` if the bodies differ."""
        try:
            async with self._writes() as session, session.begin():
                found = await self._find(session, source, operation, key)
                if found is None:
                    now = self._clock()
                    session.add(
                        ApiIdempotencyRow(
                            source=source,
                            operation=operation,
                            key=key,
                            fingerprint=salted(print_),
                            created_at=now,
                        )
                    )
                    await self._purge(session, now)
                    return Claimed(Claim.NEW, now)
        except IntegrityError:  # a concurrent first use of the same key won the race
            async with self._writes() as session, session.begin():
                found = await self._find(session, source, operation, key)
            if found is None:
                raise
        if not matches(found.fingerprint, print_):
            raise IdempotencyConflict(key, found.created_at)
        return Claimed(Claim.REPEAT, found.created_at)

    async def release(self, source: str, operation: str, key: str, print_: str) -> None:
        """Give the key back: the write it was claimed for was refused (bad data), so the
        client may fix the body and use the key again."""
        async with self._writes() as session, session.begin():
            found = await self._find(session, source, operation, key)
            if found is not None and matches(found.fingerprint, print_):
                await session.delete(found)

    async def forget_customer(self, customer_id: int) -> int:
        """Drop the fingerprints of the customer's interactions and notes (before erasure)."""
        written_by = {INTERACTION: InteractionRow.__table__.c, NOTE: NoteRow.__table__.c}
        removed = 0
        async with self._writes() as session, session.begin():
            for operation, table in written_by.items():
                mine = exists().where(
                    table.customer_id == customer_id,
                    table.source == ApiIdempotencyRow.source,
                    table.idempotency_key == ApiIdempotencyRow.key,
                )
                result = await session.execute(
                    delete(ApiIdempotencyRow).where(
                        and_(ApiIdempotencyRow.operation == operation, mine)
                    )
                )
                removed += int(getattr(result, "rowcount", 0) or 0)
        return removed

    async def _find(
        self, session: AsyncSession, source: str, operation: str, key: str
    ) -> ApiIdempotencyRow | None:
        found = await session.execute(
            select(ApiIdempotencyRow).where(
                ApiIdempotencyRow.source == source,
                ApiIdempotencyRow.operation == operation,
                ApiIdempotencyRow.key == key,
            )
        )
        return found.scalar_one_or_none()

    async def _purge(self, session: AsyncSession, now: datetime) -> None:
        if self._last_purge is not None and now - self._last_purge < self._purge_every:
            return
        self._last_purge = now
        await session.execute(
            delete(ApiIdempotencyRow).where(ApiIdempotencyRow.created_at < now - self._retention)
        )
