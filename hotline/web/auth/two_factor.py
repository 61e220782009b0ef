"""Two-factor sign-in: a TOTP secret per web user (RFC 6238) and one-time recovery codes.

- **Enrolment** takes effect only once a code from the new secret is typed back
  (``enrol``): a secret the user's app never held cannot lock them out.
- **A code is used once**: the step it matched is kept (``totp_last_step``) and the update
  that accepts it is conditional on a later step, so the same code (or an older one) sent
  again, even at the same moment from two places, is refused.
- **Guessing is bounded twice**: the sign-in throttle counts every code guess before it is
  checked (per user at an address, per address, and per user alone: ``LoginThrottle``),
  and ``max_failures`` wrong codes in a row (from anywhere, across windows) stop codes
  being accepted at all until a recovery code is used or an admin resets the user's
  two-factor sign-in. Only someone who has the password can guess codes; 20 guesses of a
  6-digit code (3 valid at a time) succeed with odds of 6 in 100,000, once.
- **Recovery codes** are ``RECOVERY_CODES`` random codes of 80 bits, shown once: a 20-bit
  *selector* finds the row (so a code costs one argon2 check, not ten) and only an argon2
  hash of the 60-bit rest is kept; a code is spent by a conditional update (once only).
- **The secret** must be read back (the server computes the codes), so it is sealed with
  AES-GCM under a key kept outside the database (``secret_box``), bound to the user's row;
  never logged or exported, and wiped by a reset or with the user (``UserStore.remove``).
  A value that is not sealed is refused at sign-in (one written into the database by
  someone else); secrets kept in clear by an older version are sealed at start
  (``seal_stored_secrets``), which also moves values to the current key after a rotation.
"""

from __future__ import annotations

import enum
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from history.context import Clock, utc_now
from history.models import RecoveryCodeRow, WebUserRow
from history.store import flush_erased, writing_sessions
from hotline.web.auth import totp
from hotline.web.auth.secret_box import SecretBox, SecretKeyError, is_sealed
from hotline.workers import WorkPool

log = logging.getLogger(__name__)

RECOVERY_CODES = 10
#: Wrong codes in a row after which codes are refused (recovery codes still work).
MAX_FAILURES = 20
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: no i, l, o, u
_SELECTOR_CHARS = 4
_VERIFIER_CHARS = 12


@dataclass(frozen=True, slots=True)
class TwoFactorPolicy:
    """``web.sign_in.two_factor`` in ``hotline.yaml``: the roles that must sign in with a
    code (the others may choose to), and the name authenticator apps show."""

    required_for: frozenset[str] = frozenset()
    issuer: str = "hotline"

    def required(self, role: str) -> bool:
        return role in self.required_for


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    #: ``max_failures`` wrong codes in a row: only a recovery code (or an admin) helps.
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class TwoFactorStatus:
    enabled: bool
    since: datetime | None
    recovery_codes_left: int
    locked: bool


def normalise_recovery_code(code: str) -> str | None:
    text = code.strip().lower().replace("-", "").replace(" ", "")
    if len(text) != _SELECTOR_CHARS + _VERIFIER_CHARS or any(c not in _ALPHABET for c in text):
        return None
    return text


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_SELECTOR_CHARS + _VERIFIER_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


class TwoFactorStore:
    """The ``web_users`` TOTP columns and ``web_recovery_codes``; argon2 runs in ``hashing``
    (the password pool: recovery codes are checked like passwords)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        hasher: PasswordHasher,
        hashing: WorkPool,
        clock: Clock = utc_now,
        unix_clock: Callable[[], float] = time.time,
        max_failures: int = MAX_FAILURES,
        box: SecretBox | None = None,
    ) -> None:
        """``box`` seals the secrets; the service's is loaded from its key (``build``), an
        ephemeral one serves tests and commands that never read a secret back."""
        self._engine = engine
        self._box = box or SecretBox.ephemeral()
        self._hasher = hasher
        self._hashing = hashing
        self._clock = clock
        self._unix = unix_clock
        self.max_failures = max_failures
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = writing_sessions(engine)
        self._dummy_hash = hasher.hash("not a recovery code of anyone")

    async def _row(self, name: str) -> WebUserRow | None:
        async with self._reads() as session:
            query = select(WebUserRow).where(WebUserRow.name == name)
            return (await session.execute(query)).scalar_one_or_none()

    async def status(self, name: str) -> TwoFactorStatus:
        row = await self._row(name)
        if row is None or row.totp_secret is None:
            return TwoFactorStatus(False, None, 0, False)
        async with self._reads() as session:
            codes = await session.execute(
                select(RecoveryCodeRow.id).where(
                    RecoveryCodeRow.user_id == row.id, RecoveryCodeRow.used_at.is_(None)
                )
            )
            left = len(codes.all())
        locked = row.totp_failures >= self.max_failures
        return TwoFactorStatus(True, row.totp_enabled_at, left, locked)

    async def enrol(self, name: str, secret: str, code: str) -> list[str] | None:
        """Turn two-factor sign-in on with ``secret`` if ``code`` is its current code: the
        new recovery codes (shown once), or None when the code does not match."""
        step = totp.matching_step(secret, code, self._unix())
        row = await self._row(name)
        if step is None or row is None:
            return None
        codes, rows = await self._recovery_rows(row.id)
        async with self._writes() as session, session.begin():
            await session.execute(
                update(WebUserRow)
                .where(WebUserRow.id == row.id)
                .values(
                    totp_secret=self._box.seal(secret, context=_context(row.id)),
                    totp_enabled_at=self._clock(),
                    totp_last_step=step,
                    totp_failures=0,
                )
            )
            await session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == row.id))
            session.add_all(rows)
        return codes

    async def verify(self, name: str, code: str) -> Verdict:
        """Check a TOTP code at sign-in; a right code is spent (its step, and every earlier
        one, can never be used again)."""
        row = await self._row(name)
        if row is None or row.totp_secret is None:
            return Verdict.WRONG
        if row.totp_failures >= self.max_failures:
            return Verdict.LOCKED
        try:
            secret = self._box.open(row.totp_secret, context=_context(row.id))
        except SecretKeyError as error:
            log.error("two-factor secret of %s unusable: %s", name, error)
            return Verdict.WRONG
        step = totp.matching_step(secret, code, self._unix(), after_step=row.totp_last_step)
        async with self._writes() as session, session.begin():
            if step is None:
                await session.execute(
                    update(WebUserRow)
                    .where(WebUserRow.id == row.id)
                    .values(totp_failures=WebUserRow.totp_failures + 1)
                )
                return Verdict.WRONG
            spent = await session.execute(
                update(WebUserRow)
                .where(
                    WebUserRow.id == row.id,
                    WebUserRow.totp_secret.is_not(None),
                    or_(WebUserRow.totp_last_step.is_(None), WebUserRow.totp_last_step < step),
                )
                .values(totp_last_step=step, totp_failures=0)
            )
        # Zero rows: the same code was accepted a moment ago (a replay racing the first use).
        return Verdict.ACCEPTED if getattr(spent, "rowcount", 0) == 1 else Verdict.WRONG

    async def use_recovery_code(self, name: str, code: str) -> bool:
        """Spend one recovery code (it never works again); clears the run of wrong codes."""
        text = normalise_recovery_code(code)
        row = await self._row(name)
        found = None
        if text is not None and row is not None:
            selector, verifier = text[:_SELECTOR_CHARS], text[_SELECTOR_CHARS:]
            async with self._reads() as session:
                found = (
                    await session.execute(
                        select(RecoveryCodeRow).where(
                            RecoveryCodeRow.user_id == row.id,
                            RecoveryCodeRow.selector == selector,
                            RecoveryCodeRow.used_at.is_(None),
                        )
                    )
                ).scalar_one_or_none()
        else:
            verifier = "not a code"
        # The same argon2 cost whether or not the selector names a code.
        digest = self._dummy_hash if found is None else found.code_hash
        ok = await self._hashing.run(self._verify, digest, verifier)
        if not ok or found is None or row is None:
            return False
        async with self._writes() as session, session.begin():
            spent = await session.execute(
                update(RecoveryCodeRow)
                .where(RecoveryCodeRow.id == found.id, RecoveryCodeRow.used_at.is_(None))
                .values(used_at=self._clock())
            )
            if getattr(spent, "rowcount", 0) != 1:
                return False
            await session.execute(
                update(WebUserRow).where(WebUserRow.id == row.id).values(totp_failures=0)
            )
        return True

    async def new_recovery_codes(self, name: str) -> list[str]:
        """Replace the user's recovery codes (the old ones stop working)."""
        row = await self._row(name)
        if row is None or row.totp_secret is None:
            raise LookupError(f"{name} has no two-factor sign-in")
        codes, rows = await self._recovery_rows(row.id)
        async with self._writes() as session, session.begin():
            await session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == row.id))
            session.add_all(rows)
        return codes

    async def reset(self, name: str) -> bool:
        """Turn the user's two-factor sign-in off: the secret and the recovery codes are
        erased (an admin's reset for a lost phone, or the user's own choice)."""
        row = await self._row(name)
        if row is None:
            return False
        async with self._writes() as session, session.begin():
            await session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == row.id))
            await session.execute(
                update(WebUserRow)
                .where(WebUserRow.id == row.id)
                .values(
                    totp_secret=None, totp_enabled_at=None, totp_last_step=None, totp_failures=0
                )
            )
        return row.totp_secret is not None

    async def seal_stored_secrets(self) -> int:
        """Seal secrets kept in clear (by a version before sealing) and seal again those a
        previous key sealed (a rotation); on SQLite the file is then checkpointed, so the
        clear text is in neither the file nor its WAL. How many values were rewritten."""
        async with self._reads() as session:
            rows = (
                await session.execute(
                    select(WebUserRow.id, WebUserRow.name, WebUserRow.totp_secret).where(
                        WebUserRow.totp_secret.is_not(None)
                    )
                )
            ).all()
        rewritten = 0
        for user_id, name, stored in rows:
            if stored is None or self._box.sealed_by_current(stored):
                continue
            try:
                plain = (
                    self._box.open(stored, context=_context(user_id))
                    if is_sealed(stored)
                    else stored
                )
            except SecretKeyError as error:
                log.error("two-factor secret of %s cannot be sealed again: %s", name, error)
                continue
            async with self._writes() as session, session.begin():
                await session.execute(
                    update(WebUserRow)
                    .where(WebUserRow.id == user_id, WebUserRow.totp_secret == stored)
                    .values(totp_secret=self._box.seal(plain, context=_context(user_id)))
                )
            rewritten += 1
        if rewritten:
            await flush_erased(self._engine)
            log.info("%d two-factor secrets sealed with key %s", rewritten, self._box.current_id)
        return rewritten

    async def _recovery_rows(self, user_id: int) -> tuple[list[str], list[RecoveryCodeRow]]:
        codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
        now = self._clock()
        rows = []
        selectors: set[str] = set()
        for index, code in enumerate(codes):
            text = code.replace("-", "")
            while text[:_SELECTOR_CHARS] in selectors:  # one in 100,000 per pair: draw again
                code = _new_recovery_code()
                text = code.replace("-", "")
                codes[index] = code
            selectors.add(text[:_SELECTOR_CHARS])
            digest = await self._hashing.run(self._hasher.hash, text[_SELECTOR_CHARS:])
            rows.append(
                RecoveryCodeRow(
                    user_id=user_id,
                    selector=text[:_SELECTOR_CHARS],
                    code_hash=digest,
                    created_at=now,
                )
            )
        return codes, rows

    def _verify(self, digest: str, text: str) -> bool:
        try:
            return self._hasher.verify(digest, text)
        except (VerificationError, InvalidHashError):
            return False


def _context(user_id: int) -> str:
    """What a sealed secret is bound to: its own row."""
    return f"web_users.totp_secret:{user_id}"
