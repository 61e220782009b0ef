"""Signed-in sessions: a random id in an HttpOnly cookie, the rest held server-side.

Sessions live in memory (one process serves the pages): a restart signs everyone out, which
is the safe direction. Each session carries its own CSRF token; every POST must echo it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.web.auth.users import User

COOKIE = "hotline_session"


@dataclass(slots=True)
class Session:
    id: str
    user: User
    csrf: str
    expires_at: float
    idle_s: float = field(repr=False)
    #: Signed in with a password, but their role requires two-factor sign-in and they have
    #: not set it up: only the set-up page (and sign-out) answers until they do.
    must_enrol: bool = False
    #: A TOTP secret being set up (``/account/two-factor``), not yet confirmed by a code.
    pending_secret: str | None = field(default=None, repr=False)
    enrol_failures: int = 0


class SessionStore:
    """``idle_s``: a session unused this long has expired; ``max_sessions`` caps memory."""

    def __init__(
        self,
        *,
        idle_s: float = 8 * 3600,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle_s = idle_s
        self._max = max_sessions
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self, user: User, *, must_enrol: bool = False) -> Session:
        self._sweep()
        if len(self._sessions) >= self._max:
            oldest = min(self._sessions.values(), key=lambda s: s.expires_at)
            del self._sessions[oldest.id]
        session = Session(
            id=secrets.token_urlsafe(32),
            user=user,
            csrf=secrets.token_urlsafe(32),
            expires_at=self._clock() + self._idle_s,
            idle_s=self._idle_s,
            must_enrol=must_enrol,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session (its idle timer restarted), or None when absent or expired."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if session.expires_at <= now:
            del self._sessions[session_id]
            return None
        session.expires_at = now + self._idle_s
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def end_user(self, name: str, *, keep: str | None = None) -> int:
        """End every session of ``name`` (their two-factor sign-in was reset or removed,
        they were disabled) but ``keep`` (the admin's own, resetting their password)."""
        ids = [sid for sid, s in self._sessions.items() if s.user.name == name and sid != keep]
        for sid in ids:
            del self._sessions[sid]
        return len(ids)

    def expire_all(self) -> None:
        """End every session (tests; an admin's "sign everyone out")."""
        self._sessions.clear()

    def _sweep(self) -> None:
        now = self._clock()
        for sid in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[sid]


#: The cookie naming a sign-in between its password and its code (path ``/login``).
PENDING_COOKIE = "hotline_login_pending"


@dataclass(slots=True)
class PendingSignIn:
    """A password accepted for a user with two-factor sign-in, waiting for the code."""

    id: str
    user: User
    next: str
    expires_at: float
    #: Wrong codes typed on this sign-in: at ``PendingSignIns.max_codes`` the password is
    #: asked again (each round costs the guesser an argon2 check and a throttle slot).
    wrong_codes: int = 0


class PendingSignIns:
    """Password-checked sign-ins waiting for their second factor, in memory, for ``ttl_s``."""

    def __init__(
        self,
        *,
        ttl_s: float = 300.0,
        max_pending: int = 10_000,
        max_codes: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max = max_pending
        self.max_codes = max_codes
        self._clock = clock
        self._pending: dict[str, PendingSignIn] = {}

    def create(self, user: User, next_: str) -> PendingSignIn:
        now = self._clock()
        for key in [k for k, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[key]
        if len(self._pending) >= self._max:
            del self._pending[min(self._pending.values(), key=lambda p: p.expires_at).id]
        pending = PendingSignIn(secrets.token_urlsafe(32), user, next_, now + self._ttl_s)
        self._pending[pending.id] = pending
        return pending

    def get(self, pending_id: str | None) -> PendingSignIn | None:
        pending = self._pending.get(pending_id or "")
        if pending is None:
            return None
        if pending.expires_at <= self._clock():
            del self._pending[pending.id]
            return None
        return pending

    def end(self, pending_id: str) -> None:
        self._pending.pop(pending_id, None)

    def end_user(self, name: str) -> None:
        """Drop ``name``'s sign-ins waiting for a code (they were disabled meanwhile)."""
        for key in [k for k, p in self._pending.items() if p.user.name == name]:
            del self._pending[key]
