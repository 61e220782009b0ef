"""Liveness and readiness probes for orchestrators and load balancers.

``/healthz`` answers while the process can serve HTTP at all. ``/readyz`` answers 200 only
when every dependency check passes, and otherwise 503 naming what is missing, so an
operator sees "ami: not connected to 10.0.0.5:5038" rather than a bare failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

#: Returns None when the dependency is ready, else the reason it is not.
ReadinessCheck = Callable[[], str | None]


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
        body = {
            "status": "ready" if ready else "not ready",
            "checks": {name: reason or "ok" for name, reason in results.items()},
        }
        return web.json_response(body, status=200 if ready else 503)
