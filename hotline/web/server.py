"""Serve a web application on a TCP port with an explicit start/close lifecycle."""

from __future__ import annotations

import logging

from aiohttp import web

log = logging.getLogger(__name__)


class WebServer:
    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        # No access log: probes hit /healthz every few seconds and would drown the log.
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("web server listening on %s", self.url)

    @property
    def port(self) -> int:
        """The bound port (useful when configured with port 0)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("web server is not started")
        address = self._runner.addresses[0]
        return int(address[1])

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/"

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
