"""The FastAGI server: accepts Asterisk's AGI connections and runs one handler per call.

Per connection: the peer must be in the allow-list (IPs/CIDRs), the environment block must
arrive within `header_timeout_s` and `max_header_bytes`, lines are capped, and a handler that
sends nothing to Asterisk for `idle_timeout_s` is stopped. The caller is never left in silence:
an unknown script, a handler's unhandled exception, an idle handler, a full server
(`max_sessions`) or a server shutdown sends a live call to the `Fallback` (SET CONTEXT,
EXTENSION, PRIORITY, then close: Asterisk continues the dialplan there).

A crash cannot do that, and Asterisk ends `AGI()` with `AGISTATUS=SUCCESS` whenever the
socket closes, crash or not. So the server says it is done: before it closes a session on
purpose it sets `HOTLINE_DONE=1` on the channel, and the dialplan after `AGI()` sends any
call without it to the fallback (docker/asterisk/extensions.conf). A killed service, a
connection dropped by the command watchdog or a lost network all land there.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from telephony.agi_codec import AgiProtocolError, EnvironmentDecoder, ResponseDecoder
from telephony.agi_session import AgiCommandError, AgiProtocolFault, AgiSession, CallerHangup

log = logging.getLogger("telephony.agi")

Handler = Callable[[AgiSession], Awaitable[None]]
#: The channel variable that tells the dialplan hotline ended the session on purpose.
DONE_VARIABLE = "HOTLINE_DONE"
#: The AGI argument of the dialplan's `h` session for a caller gone before `AGI()` ran
#: (center/before_service.py records it).
ENDED_BEFORE_SERVICE = "ended-before-service"
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_REMEMBERED_REFUSALS = 1024
_READ_BUFFER_BYTES = 65536  # one read of the shared buffer; a longer burst takes more reads
_BACKLOG = 1024  # a burst of calls (e.g. after an Asterisk restart) must not overflow the queue


@dataclass(frozen=True)
class AgiLimits:
    max_header_bytes: int = 16384  # the environment block (Asterisk sends ~600 bytes)
    max_line: int = 8192  # one line from Asterisk
    header_timeout_s: float = 5.0  # Asterisk sends the block within ~1 ms of the accept
    idle_timeout_s: float = 300.0  # a handler sending nothing this long is stopped
    command_timeout_s: float = 10.0  # commands that return at once (not prompts/dials)
    media_timeout_s: float = 600.0  # the watchdog on a prompt, GET DATA or application
    hangup_grace_s: float = 0.25  # how long to wait for HANGUP after a -1 (recorded: ~45 ms)
    max_sessions: int = 1000  # calls beyond this go straight to the fallback


@dataclass(frozen=True)
class Fallback:
    context: str
    extension: str = "s"
    priority: int = 1


def parse_allowed_hosts(hosts: Collection[str]) -> tuple[_Network, ...]:
    """IP addresses or CIDRs; anything else is a configuration error (ValueError)."""
    networks = []
    for host in hosts:
        try:
            networks.append(ipaddress.ip_network(host.strip(), strict=False))
        except ValueError:
            raise ValueError(f"allowed AGI host {host!r} is not an IP address or CIDR") from None
    return tuple(networks)


class _Connection(asyncio.BufferedProtocol):
    """Wire side of one AGI connection: decodes and feeds the session; no call logic.

    A buffered protocol: the loop reads into the server's one buffer (`recv_into`) and hands
    the bytes over at once. A plain `Protocol` gets `recv(256 KiB)` per read, a fresh 256 KiB
    allocation cut down to the ~15 bytes of a reply: measured ~20 µs of CPU per read, more
    than the rest of a command's cost, where `recv_into` costs ~1 µs.
    """

    def __init__(self, server: FastAgiServer) -> None:
        self._server = server
        self._limits = server.limits
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._env = EnvironmentDecoder(self._limits.max_header_bytes, self._limits.max_line)
        self._replies = ResponseDecoder(self._limits.max_line)
        self.session: AgiSession | None = None
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peername = transport.get_extra_info("peername")
        self.peer = str(peername[0]) if peername else "?"
        if not self._server.is_allowed(self.peer):
            self._server.log_refusal(self.peer)
            transport.close()
            return
        self._server.connections.add(self)
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(self._limits.header_timeout_s, self._header_late)

    def _header_late(self) -> None:
        log.warning("AGI from %s: no environment block within %.1f s; closing",
                    self.peer, self._limits.header_timeout_s)  # fmt: skip
        self.close()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._server.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        # The buffer is shared by every connection: its bytes are copied out before the
        # loop reads the next socket into it (the two calls run back to back).
        self.data_received(self._server.read_buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        try:
            if self.session is None:
                env = self._env.feed(data)
                if env is None:
                    return
                self._cancel_timer()
                assert self.transport is not None
                self.session = AgiSession(
                    env,
                    self.transport,
                    command_timeout_s=self._limits.command_timeout_s,
                    media_timeout_s=self._limits.media_timeout_s,
                    hangup_grace_s=self._limits.hangup_grace_s,
                    peer=self.peer,
                )
                self._server.start_call(self, self.session)
                data = self._env.rest
                if not data:
                    return
            for item in self._replies.feed(data):
                self.session.feed(item)
        except AgiProtocolError as exc:
            if self.session is not None:
                self._replies.resync()
                self.session.fault(f"protocol error: {exc}")
            else:
                log.warning("AGI from %s: %s; closing", self.peer, exc)
                self.close()

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._server.connections.discard(self)
        if self.session is not None:
            self.session.connection_lost()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _cancel_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None


class _IdleWatch:
    """Cancels a handler that sent no command for `idle_s`: one lazy timer per session that
    reads when the session's last command ended, nothing done per command."""

    def __init__(self, task: asyncio.Task[None], session: AgiSession, idle_s: float) -> None:
        self._task = task
        self._session = session
        self._idle_s = idle_s
        self._loop = task.get_loop()
        self._started = self._loop.time()
        self.expired = False
        self._timer = self._loop.call_at(self._started + idle_s, self._check)

    def _check(self) -> None:
        now = self._loop.time()
        last = max(self._started, self._session.last_active)
        if not self._session.busy and now - last >= self._idle_s:
            self.expired = True
            self._task.cancel()
        else:
            self._timer = self._loop.call_at(max(now, last) + self._idle_s, self._check)

    def stop(self) -> None:
        self._timer.cancel()


class FastAgiServer:
    """Routes each call by `agi_network_script` (the agi:// URL path) to a handler."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        routes: Mapping[str, Handler],
        allowed_hosts: Collection[str],
        fallback: Fallback,
        limits: AgiLimits = AgiLimits(),  # frozen, so one shared default is safe
    ) -> None:
        self.host = host
        self.port = port
        self.routes = {name.strip("/"): handler for name, handler in routes.items()}
        self.fallback = fallback
        self.limits = limits
        self._allowed = parse_allowed_hosts(allowed_hosts)
        self._refused: set[str] = set()
        self._server: asyncio.Server | None = None
        self.connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.active_sessions = 0
        #: What every connection's socket is read into (see `_Connection`).
        self.read_buffer = memoryview(bytearray(_READ_BUFFER_BYTES))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, backlog=_BACKLOG
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("FastAGI server listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        """Stops accepting, sends live calls to the fallback, closes every connection."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for connection in list(self.connections):
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- used by connections -----------------------------------------------------------------

    def is_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.partition("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._allowed)

    def log_refusal(self, address: str) -> None:
        if address in self._refused:
            log.debug("AGI connection from %s refused (not in allowed hosts)", address)
            return
        if len(self._refused) < _MAX_REMEMBERED_REFUSALS:
            self._refused.add(address)
        log.warning("AGI connection from %s refused: not in allowed hosts", address)

    def start_call(self, connection: _Connection, session: AgiSession) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(connection, session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one call ------------------------------------------------------------------------------

    async def _serve(self, connection: _Connection, session: AgiSession) -> None:
        script = session.env.script
        handler = self.routes.get(script)
        try:
            if handler is None:
                log.warning("AGI %s: no handler for script %r; sending the call to the fallback",
                            session.env.channel, script)  # fmt: skip
                await self._to_fallback(session)
            elif self.active_sessions >= self.limits.max_sessions:
                log.warning("AGI %s: %d sessions active (the maximum); sending the call to "
                            "the fallback", session.env.channel, self.active_sessions)  # fmt: skip
                await self._to_fallback(session)
            else:
                self.active_sessions += 1
                try:
                    await self._run_handler(handler, session, script)
                finally:
                    self.active_sessions -= 1
            await self._done(session)
        except asyncio.CancelledError:
            with contextlib.suppress(asyncio.CancelledError):
                await self._to_fallback(session, timeout_s=1.0)  # server shutdown
                await self._done(session, timeout_s=1.0)
            raise
        finally:
            connection.close()

    @staticmethod
    async def _done(session: AgiSession, timeout_s: float | None = None) -> None:
        """Tell the dialplan this end is on purpose (a dead channel runs only its `h`)."""
        if session.dead:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await session.set_variable(DONE_VARIABLE, "1")
        except (TimeoutError, CallerHangup, AgiCommandError) as exc:
            log.info("AGI %s: could not mark the session done: %s", session.env.channel, exc)

    async def _run_handler(self, handler: Handler, session: AgiSession, script: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        watch = _IdleWatch(task, session, self.limits.idle_timeout_s)
        try:
            await handler(session)
        except CallerHangup as exc:
            log.debug("AGI %s: caller gone (%s)", session.env.channel, exc.reason)
        except asyncio.CancelledError:
            if not watch.expired or task.uncancel() > 0:
                raise
            log.warning("AGI %s: handler %r sent nothing for %.0f s; stopping it",
                        session.env.channel, script, self.limits.idle_timeout_s)  # fmt: skip
            await self._to_fallback(session)
        except AgiProtocolFault:  # logged by the session when it happened
            await self._to_fallback(session)
        except Exception:
            log.exception("AGI %s: handler %r failed", session.env.channel, script)
            await self._to_fallback(session)
        finally:
            watch.stop()

    async def _to_fallback(self, session: AgiSession, timeout_s: float | None = None) -> None:
        if session.dead:
            return
        fb = self.fallback
        try:
            async with asyncio.timeout(timeout_s):
                await session.continue_at(fb.context, fb.extension, fb.priority)
        except TimeoutError:
            log.info(
                "AGI %s: Asterisk was still busy with the last command after %ss; the "
                "dialplan continues at its next priority instead of the fallback",
                session.env.channel,
                timeout_s,
            )
        except (CallerHangup, AgiCommandError) as exc:
            log.info(
                "AGI %s: could not send the call to the fallback: %s", session.env.channel, exc
            )
