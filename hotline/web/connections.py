"""The web port cannot starve calls: timeouts, connection caps, descriptor headroom.

``ConnectionGuard`` sits between the listening socket and aiohttp's request handler:

- **caps**: at most ``max_connections`` clients at once, ``max_connections_per_address``
  from one address; one more is answered ``503`` with ``Retry-After`` and closed at once;
- **descriptor reserve**: while fewer than ``descriptor_reserve`` descriptors are free in
  the process, new web clients are refused the same way, so FastAGI and AMI always find
  descriptors (at the limit ``accept()`` would fail for every socket: calls too);
- **header timeout**: a client must send a request's line and headers within
  ``header_timeout_s`` of connecting (or of the end of its previous request: an idle
  keep-alive connection is closed then too), so a slowloris dripping header lines is cut;
- **body timeout**: a request's body must arrive within ``body_timeout_s`` of its headers,
  else it is refused with ``408`` and the connection closed.

A request being handled (a WebSocket, a long export) is never cut by these timers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from hotline.descriptors import free_descriptors

log = logging.getLogger(__name__)

REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 22\r\n\r\ntoo many connections\r\n"
)


@dataclass(frozen=True)
class WebLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000
    max_connections_per_address: int = 100
    descriptor_reserve: int = 256


class BodyTimeout(web.HTTPRequestTimeout):
    """The request's body did not arrive in time (set on its stream: the reader raises)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(text=f"the request body did not arrive within {seconds:g} s")


class _Connection:
    """One client's connection as the guard sees it."""

    def __init__(self, guard: ConnectionGuard, transport: asyncio.Transport, address: str):
        self.guard, self.transport, self.address = guard, transport, address
        self.busy = 0  # requests being handled now
        self.body_late = False
        self.timer: asyncio.TimerHandle | None = None

    def await_request(self) -> None:
        """From now, the next request's headers must arrive within the header timeout."""
        self.cancel_timer()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.guard.limits.header_timeout_s, self._header_late)

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _header_late(self) -> None:
        self.timer = None
        if self.busy or self.transport.is_closing():
            return
        self.guard.timed_out += 1
        log.debug("web client %s sent no complete request in time; closing", self.address)
        self.transport.abort()


class _GuardedProtocol(asyncio.Protocol):
    """Admits or refuses a connection, then hands every event to aiohttp's handler."""

    def __init__(self, guard: ConnectionGuard, make_inner: Callable[[], asyncio.Protocol]):
        self._guard, self._make_inner = guard, make_inner
        self._inner: asyncio.Protocol | None = None
        self._connection: _Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._connection = self._guard.admit(transport)
        if self._connection is None:
            transport.write(REFUSAL)
            transport.close()
            return
        self._inner = self._make_inner()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connection is not None:
            self._guard.release(self._connection)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


class ConnectionGuard:
    def __init__(
        self,
        limits: WebLimits,
        *,
        free: Callable[[], int | None] = free_descriptors,
    ) -> None:
        self.limits = limits
        self._free = free
        self._connections: dict[asyncio.Transport, _Connection] = {}
        self._per_address: dict[str, int] = {}
        self.refused = 0
        self.timed_out = 0
        self._warned = False

    @property
    def open(self) -> int:
        return len(self._connections)

    def protocol_factory(self, make_inner: Callable[[], asyncio.Protocol]) -> Callable[[], Any]:
        return lambda: _GuardedProtocol(self, make_inner)

    def admit(self, transport: asyncio.Transport) -> _Connection | None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        reason = self._refusal(address)
        if reason is not None:
            self.refused += 1
            if not self._warned:  # once per burst: a flood must not flood the log too
                self._warned = True
                log.warning("web clients refused: %s (latest from %s)", reason, address)
            return None
        self._warned = False
        connection = _Connection(self, transport, address)
        self._connections[transport] = connection
        self._per_address[address] = self._per_address.get(address, 0) + 1
        connection.await_request()
        return connection

    def _refusal(self, address: str) -> str | None:
        limits = self.limits
        if len(self._connections) >= limits.max_connections:
            return f"{limits.max_connections} connections open (web.limits.max_connections)"
        if self._per_address.get(address, 0) >= limits.max_connections_per_address:
            return (
                f"{limits.max_connections_per_address} connections from one address "
                "(web.limits.max_connections_per_address)"
            )
        free = self._free()
        if free is not None and free < limits.descriptor_reserve:
            return (
                f"{free} file descriptors free, fewer than the {limits.descriptor_reserve} "
                "kept for calls (web.limits.descriptor_reserve)"
            )
        return None

    def release(self, connection: _Connection) -> None:
        connection.cancel_timer()
        if self._connections.pop(connection.transport, None) is None:
            return
        left = self._per_address.get(connection.address, 1) - 1
        if left > 0:
            self._per_address[connection.address] = left
        else:
            self._per_address.pop(connection.address, None)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Marks the connection busy while a request is handled; times its body."""
        transport = request.transport
        connection = self._connections.get(transport) if transport is not None else None
        if connection is None:
            return await handler(request)
        connection.busy += 1
        connection.cancel_timer()
        body_timer = None
        if request.body_exists and not request.content.is_eof():
            seconds = self.limits.body_timeout_s
            body_timer = asyncio.get_running_loop().call_later(
                seconds, self._body_late, request, seconds
            )
        try:
            response = await handler(request)
        except BodyTimeout:
            response = web.Response(status=408, text="the request body did not arrive in time")
        finally:
            if body_timer is not None:
                body_timer.cancel()
            connection.busy -= 1
            if not connection.busy:
                connection.await_request()
        if connection.body_late and not response.prepared:
            response.force_close()  # the rest of the body is not worth waiting for
        return response

    def _body_late(self, request: web.Request, seconds: float) -> None:
        connection = self._connections.get(request.transport)  # type: ignore[arg-type]
        if not request.content.is_eof():
            self.timed_out += 1
            if connection is not None:
                connection.body_late = True
            log.debug("web client %s: request body not in within %g s", request.remote, seconds)
            request.content.set_exception(BodyTimeout(seconds))
