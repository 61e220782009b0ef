"""Web users with a role (agent, supervisor, admin, wallboard); passwords kept as argon2
hashes only.

Unlike API tokens (256 random bits, a fast hash is enough), passwords are chosen by people
and guessable, so a slow, salted, memory-hard hash (argon2id) makes a stolen table costly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from history.context import Clock, utc_now
from history.models import RecoveryCodeRow, WebUserRow
from history.store import writing_sessions
from hotline.web.auth.secret_box import SecretBox
from hotline.web.auth.two_factor import TwoFactorStore
from hotline.workers import WorkPool

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$")
#: What goes into an AMI Originate's Channel: no commas, spaces or line breaks.
ENDPOINT_PATTERN = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_.@:\-]{1,120}$")
MAX_DISPLAY_NAME_CHARS = 128
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    #: A wall screen's sign-in: the wallboard and its feed, nothing else (no names of
    #: customers, no actions).
    WALLBOARD = "wallboard"


class UserError(Exception):
    """A user command refused (bad name, weak password, name taken)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    agent_id: str | None
    #: A supervisor's phone, where listen/whisper/barge calls ring.
    endpoint: str | None = None
    #: Signs in with a TOTP code after the password (``two_factor``).
    two_factor: bool = False
    #: What the pages call the person; ``name`` when unset.
    display_name: str | None = None
    #: Disabled by an admin: cannot sign in (kept for the audit log; enabled again at will).
    disabled: bool = False

    @property
    def shown_name(self) -> str:
        return self.display_name or self.name


def password_pool() -> WorkPool:
    """Argon2 threads of their own: two hashes at a time (each takes 64 MiB and ~50 ms of a
    core), 32 waiting; more sign-ins at once are told to retry (``PoolBusy``)."""
    return WorkPool("password-hash", workers=2, max_waiting=32)


class UserStore:
    """The ``web_users`` table. Hashing runs off the event loop (it is slow on purpose), in a
    bounded pool of its own (``hashing``), never in the loop's default executor."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        hasher: PasswordHasher | None = None,
        clock: Clock = utc_now,
        hashing: WorkPool | None = None,
        secret_box: SecretBox | None = None,
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self.hashing = hashing or password_pool()
        self._clock = clock
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = writing_sessions(engine)
        # Verifying against this when the name is unknown keeps the timing the same.
        self._dummy_hash = self._hasher.hash("not a password of anyone")
        #: Users' second factor (TOTP secrets, recovery codes), hashed in the same pool.
        self.two_factor = TwoFactorStore(
            engine, hasher=self._hasher, hashing=self.hashing, clock=clock, box=secret_box
        )

    async def add(
        self,
        name: str,
        role: Role,
        password: str,
        *,
        agent_id: str | None = None,
        endpoint: str | None = None,
    ) -> User:
        if not NAME_PATTERN.match(name):
            raise UserError(f"user name {name!r}: 1-64 of A-Z a-z 0-9 _ . @ -")
        check_password(password)
        if role is Role.AGENT and agent_id is None:
            agent_id = name
        if endpoint is not None and not ENDPOINT_PATTERN.match(endpoint):
            raise UserError(f"endpoint {endpoint!r}: TECH/resource, e.g. PJSIP/sup1")
        digest = await self.hashing.run(self._hasher.hash, password)
        row = WebUserRow(
            name=name,
            role=role.value,
            agent_id=agent_id,
            endpoint=endpoint,
            password_hash=digest,
            created_at=self._clock(),
        )
        try:
            async with self._writes() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise UserError(f"a user named {name!r} exists") from None
        return User(name, role, agent_id, endpoint)

    async def set_password(self, name: str, password: str) -> None:
        """Replace ``name``'s password (a forgotten one, or the demo's fresh one per run)."""
        check_password(password)
        digest = await self.hashing.run(self._hasher.hash, password)
        async with self._writes() as session, session.begin():
            result = await session.execute(
                update(WebUserRow).where(WebUserRow.name == name).values(password_hash=digest)
            )
        if getattr(result, "rowcount", 0) != 1:
            raise UserError(f"no user named {name!r}")

    async def remove(self, name: str) -> bool:
        """Delete the user with everything kept for them (two-factor secret, recovery
        codes). The audit log keeps their name as the actor of what they did."""
        async with self._writes() as session, session.begin():
            row = (
                await session.execute(select(WebUserRow).where(WebUserRow.name == name))
            ).scalar_one_or_none()
            if row is None:
                return False
            await session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == row.id))
            await session.delete(row)
        return True

    async def update(
        self,
        name: str,
        *,
        role: Role,
        display_name: str | None,
        agent_id: str | None,
        endpoint: str | None,
    ) -> User:
        """Change what an admin edits of a user (not the password, not the second factor)."""
        if display_name is not None and len(display_name) > MAX_DISPLAY_NAME_CHARS:
            raise UserError(f"a display name has at most {MAX_DISPLAY_NAME_CHARS} characters")
        if endpoint is not None and not ENDPOINT_PATTERN.match(endpoint):
            raise UserError(f"endpoint {endpoint!r}: TECH/resource, e.g. PJSIP/sup1")
        if agent_id is not None and not NAME_PATTERN.match(agent_id):
            raise UserError(f"agent id {agent_id!r}: 1-64 of A-Z a-z 0-9 _ . @ -")
        values = {
            "role": role.value,
            "display_name": display_name,
            "agent_id": agent_id,
            "endpoint": endpoint,
        }
        async with self._writes() as session, session.begin():
            row = await _row(session, name)
            if row is None:
                raise UserError(f"no user named {name!r}")
            for key, value in values.items():
                setattr(row, key, value)
        return _user(row)

    async def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable (or enable again) a user; a disabled one cannot sign in. Ending the open
        sessions is the caller's part (``SessionStore.end_user``)."""
        async with self._writes() as session, session.begin():
            row = await _row(session, name)
            if row is None:
                raise UserError(f"no user named {name!r}")
            if disabled and row.disabled_at is None:
                row.disabled_at = self._clock()
            elif not disabled:
                row.disabled_at = None
        return _user(row)

    async def find(self, name: str) -> User | None:
        """The user, enabled or disabled (the admin pages); ``get`` only finds enabled."""
        async with self._reads() as session:
            row = await _row(session, name)
        return None if row is None else _user(row)

    async def list_all(self) -> list[User]:
        """Every user, the disabled ones too (the admin pages)."""
        async with self._reads() as session:
            rows = await session.execute(select(WebUserRow).order_by(WebUserRow.name))
            return [_user(r) for r in rows.scalars()]

    async def get(self, name: str) -> User | None:
        async with self._reads() as session:
            row = (
                await session.execute(select(WebUserRow).where(WebUserRow.name == name))
            ).scalar_one_or_none()
        return None if row is None or row.disabled_at is not None else _user(row)

    async def list(self) -> list[User]:
        async with self._reads() as session:
            rows = await session.execute(select(WebUserRow).order_by(WebUserRow.name))
            return [_user(r) for r in rows.scalars() if r.disabled_at is None]

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs; None otherwise (unknown, wrong, disabled).
        ``hotline.workers.PoolBusy`` when too many checks are waiting already."""
        if len(password) > MAX_PASSWORD_CHARS or len(name) > 64:
            return None
        async with self._reads() as session:
            row = (
                await session.execute(select(WebUserRow).where(WebUserRow.name == name))
            ).scalar_one_or_none()
        digest = self._dummy_hash if row is None else row.password_hash
        ok = await self.hashing.run(self._verify, digest, password)
        if not ok or row is None or row.disabled_at is not None:
            return None
        return _user(row)

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"the password is longer than {MAX_PASSWORD_CHARS} characters")


async def _row(session: AsyncSession, name: str) -> WebUserRow | None:
    found = await session.execute(select(WebUserRow).where(WebUserRow.name == name))
    return found.scalar_one_or_none()


def _user(row: WebUserRow) -> User:
    return User(
        row.name,
        Role(row.role),
        row.agent_id,
        row.endpoint,
        row.totp_secret is not None,
        row.display_name,
        row.disabled_at is not None,
    )
