"""Liveness and readiness probes for orchestrators and load balancers.

``/healthz`` answers while the process can serve HTTP at all. ``/readyz`` answers 200 only
when every dependency check passes, and otherwise 503 naming what is missing. Why it is
missing ("ami: not connected to 10.0.0.5:5038: connection refused") describes the network
behind the service, so only a signed-in supervisor or admin reads it there; anyone else
(a probe needs only the status) reads "not ready", and the reasons are in the log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from hotline.web.auth.guard import AUTH
from hotline.web.auth.sessions import COOKIE
from hotline.web.auth.users import Role

#: Returns None when the dependency is ready, else the reason it is not.
ReadinessCheck = Callable[[], str | None]
NOT_READY = "not ready"
_TOLD = frozenset({Role.SUPERVISOR, Role.ADMIN})


def _may_read_reasons(request: web.Request) -> bool:
    if AUTH not in request.app:
        return False
    session = request.app[AUTH].sessions.get(request.cookies.get(COOKIE))
    return session is not None and session.user.role in _TOLD


class Health:
    def __init__(self, checks: Mapping[str, ReadinessCheck]) -> None:
        self._checks = dict(checks)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        results = {name: check() for name, check in self._checks.items()}
        ready = all(reason is None for reason in results.values())
        told = _may_read_reasons(request)
        body = {
            "status": "ready" if ready else NOT_READY,
            "checks": {
                name: "ok" if reason is None else (reason if told else NOT_READY)
                for name, reason in results.items()
            },
        }
        response = web.json_response(body, status=200 if ready else 503)
        response.headers["Cache-Control"] = "no-store"
        return response
