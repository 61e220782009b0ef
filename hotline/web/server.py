"""Serve a web application on a TCP port with an explicit start/close lifecycle.

Every connection passes the ``ConnectionGuard`` (``hotline.web.connections``): caps per
address and overall, a reserve of descriptors kept for calls, header and body timeouts.
With an ``ssl_context`` the port speaks HTTPS only: the TLS handshake must end within the
header timeout (a client that stalls it is cut like a slow header), and every answer
carries ``Strict-Transport-Security``.

Stopping closes every open page's WebSocket (1001 going away, so the page reconnects to the
next process) before aiohttp waits for the requests in progress: a live feed never ends
by itself, and aiohttp would wait its whole shutdown timeout for each. A request still
running after ``SHUTDOWN_GRACE_S`` is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref

from aiohttp import WSCloseCode, web

from hotline.web.connections import ConnectionGuard, WebLimits

log = logging.getLogger(__name__)


#: asyncio accepts up to ``backlog`` connections in one go before any is admitted: a small
#: backlog keeps one burst well inside the descriptor reserve.
BACKLOG = 32
#: How long a stop waits for requests in progress (aiohttp's default: 60 s).
SHUTDOWN_GRACE_S = 5.0


class _GuardedSite(web.BaseSite):
    """aiohttp's TCP site, with each connection admitted (or refused) by the guard first."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: ConnectionGuard,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, backlog=BACKLOG, ssl_context=ssl_context)
        self._host, self._port, self._guard = host, port, guard

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        tls = self._ssl_context
        self._server = await loop.create_server(
            self._guard.protocol_factory(server),
            self._host,
            self._port,
            backlog=self._backlog,
            ssl=tls,
            ssl_handshake_timeout=self._guard.limits.header_timeout_s if tls else None,
        )


class WebServer:
    def __init__(
        self,
        app: web.Application,
        *,
        host: str,
        port: int,
        limits: WebLimits | None = None,
        guard: ConnectionGuard | None = None,
        ssl_context: ssl.SSLContext | None = None,
        hsts_max_age_s: int = 31_536_000,
    ) -> None:
        """``limits`` for the guard this server makes (``guard``: one made by the caller);
        ``ssl_context``: serve HTTPS (``hotline.tls.server_context``)."""
        self._app = app
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._hsts = hsts_max_age_s
        self.guard = guard or ConnectionGuard(limits or WebLimits())
        self._runner: web.AppRunner | None = None
        #: The pages' open WebSockets (every handler's, whichever route made it).
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def start(self) -> None:
        # The guard's middleware first: it sees every request, the API's included.
        self._app.middlewares.insert(0, self.guard.middleware)
        if self._ssl is not None and self._hsts > 0:
            self._app.on_response_prepare.append(self._strict_transport)
        self._app.on_response_prepare.append(self._track_socket)
        self._app.on_shutdown.append(self._close_sockets)
        # No access log: probes hit /healthz every few seconds and would drown the log.
        # The guard closes idle connections itself (keepalive_timeout only backs it up).
        runner = web.AppRunner(
            self._app,
            access_log=None,
            keepalive_timeout=self.guard.limits.header_timeout_s,
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        await runner.setup()
        try:
            await _GuardedSite(runner, self._host, self._port, self.guard, self._ssl).start()
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

    async def _strict_transport(
        self, request: web.BaseRequest, response: web.StreamResponse
    ) -> None:
        """Browsers that saw this site over HTTPS never try it in clear again."""
        response.headers["Strict-Transport-Security"] = f"max-age={self._hsts}"

    async def _track_socket(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        if isinstance(response, web.WebSocketResponse):
            self._sockets.add(response)

    async def _close_sockets(self, app: web.Application) -> None:
        """Each open page is told the server is going away (its feed ends with it); a page
        that does not answer the close within the grace is cut."""
        sockets = [ws for ws in self._sockets if not ws.closed]
        if not sockets:
            return
        log.info("closing %d open page connection(s)", len(sockets))
        closing = [
            asyncio.ensure_future(ws.close(code=WSCloseCode.GOING_AWAY, message=b"stopping"))
            for ws in sockets
        ]
        _, late = await asyncio.wait(closing, timeout=SHUTDOWN_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*closing, return_exceptions=True)

    @property
    def tls(self) -> bool:
        return self._ssl is not None

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://{host}:{self.port}/"

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
