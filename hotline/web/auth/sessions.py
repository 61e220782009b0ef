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

    def create(self, user: User) -> Session:
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

    def expire_all(self) -> None:
        """End every session (tests; an admin's "sign everyone out")."""
        self._sessions.clear()

    def _sweep(self) -> None:
        now = self._clock()
        for sid in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[sid]
