"""AMI client: one logged-in manager session that survives Asterisk restarts.

Built on `ami_codec` rather than panoramisk's `Manager` (see the README): we need fail-fast
actions while down, pending actions failed on a drop, capped back-off with jitter, a reconnect
signal for resync, size-capped framing and owned tasks. Callers see a small interface: `action`,
`list_action`, `on_event`, `on_connected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from telephony.ami_codec import (
    ACTION_LOGIN,
    ACTION_LOGOFF,
    ACTION_PING,
    EVENT_SHUTDOWN,
    EVENTS_OFF,
    EVENTS_ON,
    HEADER_ACTION,
    HEADER_ACTION_ID,
    HEADER_EVENTS,
    HEADER_SECRET,
    HEADER_USERNAME,
    RESPONSE_ERROR,
    RESPONSE_FAILURE,
    AmiDecoder,
    AmiMessage,
    encode_message,
)
from telephony.ami_connection import EOF, AmiConnection

log = logging.getLogger(__name__)

EventCallback = Callable[[AmiMessage], None]
ConnectedCallback = Callable[[bool], Awaitable[None] | None]
FieldValue = str | int | Sequence[str]  # a sequence repeats the header (Originate `Variable:`)

_ERROR_RESPONSES = frozenset({RESPONSE_ERROR.lower(), RESPONSE_FAILURE.lower()})
_JITTER = 0.25  # delays are drawn from [(1 - _JITTER) * d, d]: spread out, never above the cap
_STABLE_S = 1.0  # a session this long resets the back-off; shorter ones count as flapping
_SHUTDOWN_GRACE_S = 2.0  # after `Event: Shutdown`, how long to wait for Asterisk's EOF


class AmiError(Exception):
    """Base of the errors `AmiClient` raises to callers."""


class AmiLoginError(AmiError):
    """Asterisk refused the login (wrong user or secret, or an ACL)."""


class AmiNotConnected(AmiError):
    """No logged-in AMI session right now, or it dropped while the action was pending."""


class AmiActionTimeout(AmiError, TimeoutError):
    """The action got no (complete) answer in time; the session itself may still be fine."""


class AmiActionError(AmiError):
    """Asterisk answered `Response: Error`; `response` is that message (reason in .message)."""

    def __init__(self, action: str, response: AmiMessage) -> None:
        super().__init__(f"AMI {action} failed: {response.message or response.response}")
        self.action = action
        self.response = response


def reconnect_delay(
    failures: int,
    min_s: float,
    max_s: float,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Capped exponential back-off with jitter: `min_s * 2**failures`, at most `max_s`, drawn
    from the top `_JITTER` of that so many clients restarted together do not reconnect in step."""
    ceiling = min(max_s, min_s * 2.0 ** min(failures, 32))
    return ceiling * uniform(1 - _JITTER, 1)


@dataclass(frozen=True)
class AmiList:
    """An EventList answer: the `Response`, the item events, and the `...Complete` event."""

    response: AmiMessage
    events: tuple[AmiMessage, ...]
    complete: AmiMessage


@dataclass
class _Pending:
    action: str
    future: asyncio.Future[AmiMessage | AmiList]
    is_list: bool
    response: AmiMessage | None = None
    events: list[AmiMessage] = field(default_factory=list)


@dataclass
class _Link:
    """One TCP connection; dies with it."""

    connection: AmiConnection | None = None  # set by the protocol factory, before any read
    reason: str = "connection closed"
    alive: bool = True
    received: int = 0  # messages read, so the keepalive can tell "busy" from "dead"
    shutting_down: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the connection is gone

    @property
    def transport(self) -> asyncio.Transport | None:
        return None if self.connection is None else self.connection.transport


class AmiClient:
    """A self-healing AMI session. `start()` returns at once; actions fail fast while down."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        events: bool = True,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        action_timeout_s: float = 10.0,
        ping_interval_s: float = 20.0,
        max_message_bytes: int = 262144,
        max_list_items: int = 100_000,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        """``ssl``: speak TLS (Asterisk's ``tlsenable`` manager port, 5039), verifying the
        certificate as the context says, for ``server_hostname`` (default: ``host``)."""
        self._ssl = ssl
        self._server_hostname = server_hostname if ssl is not None else None
        self._host = host
        self._port = port
        self._username = username
        self._secret = secret
        self._events = events
        self._min_s = reconnect_min_s
        self._max_s = max(reconnect_max_s, reconnect_min_s)
        self._action_timeout_s = action_timeout_s
        self._ping_interval_s = ping_interval_s
        self._max_message_bytes = max_message_bytes
        self._max_list_items = max_list_items
        self._subscribers: dict[str, list[EventCallback]] = {}
        self._connected_callbacks: list[ConnectedCallback] = []
        self._failed_callbacks: set[int] = set()
        self._pending: dict[str, _Pending] = {}
        self._next_id = 0
        self._link: _Link | None = None
        self._connected = asyncio.Event()
        self._ever_connected = False
        self._runner: asyncio.Task[None] | None = None
        self._callback_tasks: set[asyncio.Future[None]] = set()
        self._closing = False
        self._state = "starting"
        self.last_error: str | None = None  # why the last attempt or session failed

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is None:
            self._closing = False
            self._runner = asyncio.create_task(self._run(), name=f"ami-client {self.address}")

    async def close(self) -> None:
        """Log off if connected, then cancel every task this client owns."""
        self._closing = True
        link = self._link
        if link is not None and self.connected:
            with contextlib.suppress(AmiError):
                await self._request(link, ACTION_LOGOFF, {}, is_list=False, timeout_s=2.0)
        tasks = [t for t in (self._runner, *self._callback_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._runner = None
        self._callback_tasks.clear()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Until logged in; `TimeoutError` after `timeout_s`."""
        async with asyncio.timeout(timeout_s):
            await self._connected.wait()

    # -- subscriptions ---------------------------------------------------------------------

    def on_event(self, name: str, callback: EventCallback) -> Callable[[], None]:
        """Call `callback` for each event `name` (case-insensitive; "*" = all). Callbacks run
        inline in the reader, so they must be quick; returns the unsubscribe function."""
        callbacks = self._subscribers.setdefault(name.lower(), [])
        callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                callbacks.remove(callback)

        return unsubscribe

    def on_connected(self, callback: ConnectedCallback) -> None:
        """Called after each login; the argument is True on a RE-connection, when events may
        have been missed and the caller should resync (CoreShowChannels, QueueStatus...)."""
        self._connected_callbacks.append(callback)

    # -- actions ---------------------------------------------------------------------------

    async def action(
        self, name: str, /, *, timeout_s: float | None = None, **fields: FieldValue
    ) -> AmiMessage:
        """Send one action and return its `Response`; `AmiActionError` on `Response: Error`."""
        result = await self._request(self._require_link(), name, fields, False, timeout_s)
        assert isinstance(result, AmiMessage)
        return result

    async def list_action(
        self, name: str, /, *, timeout_s: float | None = None, **fields: FieldValue
    ) -> AmiList:
        """Send an EventList action (CoreShowChannels, Status, QueueStatus, ...) and collect
        its items up to the `...Complete` event, matched by ActionID wherever it sits."""
        result = await self._request(self._require_link(), name, fields, True, timeout_s)
        assert isinstance(result, AmiList)
        return result

    def _require_link(self) -> _Link:
        link = self._link
        if link is None or not self.connected:
            raise AmiNotConnected(f"AMI at {self.address} is not connected")
        return link

    async def _request(
        self,
        link: _Link,
        name: str,
        fields: Mapping[str, FieldValue],
        is_list: bool,
        timeout_s: float | None,
    ) -> AmiMessage | AmiList:
        if any(k.lower() in (HEADER_ACTION.lower(), HEADER_ACTION_ID.lower()) for k in fields):
            raise ValueError("Action and ActionID are set by the client")
        self._next_id += 1
        action_id = f"hotline-{self._next_id}"
        pairs = [(HEADER_ACTION, name), (HEADER_ACTION_ID, action_id)]
        for key, value in fields.items():
            values = [str(value)] if isinstance(value, str | int) else list(value)
            pairs.extend((key, v) for v in values)
        data = encode_message(pairs)  # ValueError on CR/LF before anything is registered
        connection = link.connection
        if not link.alive or connection is None or connection.is_closing():
            raise AmiNotConnected(f"AMI at {self.address} is not connected")
        timeout = self._action_timeout_s if timeout_s is None else timeout_s
        future: asyncio.Future[AmiMessage | AmiList] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(name, future, is_list)
        try:
            async with asyncio.timeout(timeout):
                connection.write(data)
                await connection.drain()
                return await future
        except TimeoutError:
            raise AmiActionTimeout(f"AMI {name} got no answer within {timeout:g}s") from None
        except OSError as exc:
            raise AmiNotConnected(f"AMI at {self.address}: {exc}") from None
        finally:
            self._pending.pop(action_id, None)

    # -- connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                state, detail, was_up = await self._session()
            except Exception as exc:  # task boundary: a bug must not end the reconnects
                log.exception("AMI session to %s failed unexpectedly", self.address)
                state, detail, was_up = "lost", f"internal error: {exc!r}", False
            if self._closing:  # close() logged off; that EOF is not an outage
                return
            if was_up and loop.time() - started >= _STABLE_S:
                failures = 0
            delay = reconnect_delay(failures, self._min_s, self._max_s)
            failures = min(failures + 1, 32)
            self.last_error = detail
            self._report(state, detail, delay)
            await asyncio.sleep(delay)

    def _report(self, state: str, detail: str, delay: float) -> None:
        """Log once per state change; repeats of the same state only at debug level."""
        if state == "refused":
            text = f"AMI login refused for user {self._username} at {self.address}: {detail}"
        elif state == "unreachable":
            text = f"AMI at {self.address} unreachable ({detail})"
        else:
            text = f"AMI connection to {self.address} lost ({detail})"
        level = logging.DEBUG if state == self._state else logging.WARNING
        log.log(level, "%s, retrying in %.1fs", text, delay)
        self._state = state

    async def _session(self) -> tuple[str, str, bool]:
        """One connection: connect, log in, serve until it ends. Returns (state, detail, up)."""
        link = _Link()
        decoder = AmiDecoder(max_message_bytes=self._max_message_bytes)

        def connection() -> AmiConnection:
            link.connection = AmiConnection(
                decoder, lambda message: self._handle(link, message), lambda r: self._lost(link, r)
            )
            return link.connection

        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._action_timeout_s):
                await loop.create_connection(
                    connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname,
                    ssl_handshake_timeout=self._action_timeout_s if self._ssl else None,
                )
        except (OSError, TimeoutError) as exc:
            if link.connection is not None:  # connected, then timed out (TLS handshake)
                link.connection.abort("connect timed out")
            return "unreachable", str(exc) or type(exc).__name__, False
        self._link = link
        keepalive: asyncio.Task[None] | None = None
        ended = asyncio.create_task(link.ended.wait(), name=f"ami-link {self.address}")
        try:
            try:
                await self._login(link)
            except AmiLoginError as exc:
                return "refused", str(exc), False
            except AmiError as exc:
                return "lost", link.reason if not link.alive else str(exc), False
            self._connected.set()
            reconnected, self._ever_connected = self._ever_connected, True
            self._state = "connected"
            log.info(
                "AMI %s to %s as %s (events %s)",
                "reconnected" if reconnected else "connected",
                self.address,
                self._username,
                "on" if self._events else "off",
            )
            self._fire_connected(reconnected)
            keepalive = asyncio.create_task(self._keepalive(link), name="ami-keepalive")
            await asyncio.wait({ended, keepalive}, return_when=asyncio.FIRST_COMPLETED)
            return "lost", link.reason, True
        finally:
            self._drop(link, link.reason)
            assert link.connection is not None
            link.connection.abort(link.reason)
            tasks = [t for t in (ended, keepalive) if t is not None]
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)

    async def _login(self, link: _Link) -> None:
        fields = {
            HEADER_USERNAME: self._username,
            HEADER_SECRET: self._secret,
            HEADER_EVENTS: EVENTS_ON if self._events else EVENTS_OFF,
        }
        try:
            await self._request(link, ACTION_LOGIN, fields, False, self._action_timeout_s)
        except AmiActionError as exc:
            raise AmiLoginError(exc.response.message or "login refused") from None

    async def _keepalive(self, link: _Link) -> None:
        """Ping every interval; a Ping unanswered with nothing else received means a dead peer
        (a half-open TCP connection never reports EOF)."""
        while link.alive:
            await asyncio.sleep(self._ping_interval_s)
            before = link.received
            try:
                await self._request(link, ACTION_PING, {}, False, self._action_timeout_s)
            except AmiActionTimeout:
                if link.received == before:
                    link.reason = f"no answer to Ping within {self._action_timeout_s:g}s"
                    return
            except AmiError:
                return

    def _drop(self, link: _Link, reason: str) -> None:
        """Mark the link dead and fail everything waiting on it, at once."""
        link.alive = False
        if self._link is link:
            self._link = None
        self._connected.clear()
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.future.done():
                entry.future.set_exception(
                    AmiNotConnected(f"AMI connection to {self.address} lost ({reason})")
                )

    # -- reading ---------------------------------------------------------------------------

    def _lost(self, link: _Link, reason: str) -> None:
        """The connection ended: everything waiting on it fails now, not at the next Ping."""
        if reason == EOF:
            reason = "Asterisk shut down" if link.shutting_down else "EOF"
        elif reason == "no EOF":
            reason = "Asterisk shut down (no EOF)"
        if link.alive or link.shutting_down:  # else the session or keepalive said why first
            link.reason = reason
        self._drop(link, link.reason)
        link.ended.set()

    def _handle(self, link: _Link, message: AmiMessage) -> None:
        link.received += 1
        # With nothing pending (most events) the ActionID, absent from most messages and so
        # a scan of every header, is not looked up at all.
        action_id = message.action_id if self._pending else None
        pending = self._pending.get(action_id) if action_id is not None else None
        event = message.event
        if event is not None:
            if pending is not None and pending.is_list:
                self._collect(action_id or "", pending, message)
                return
            self._dispatch(event, message)
            if event.lower() == EVENT_SHUTDOWN.lower():
                log.warning("Asterisk at %s is shutting down", self.address)
                link.shutting_down = True
                self._drop(link, "Asterisk is shutting down")
                if link.connection is not None:
                    link.connection.expect_eof_within(_SHUTDOWN_GRACE_S)
            return
        if message.response is None or pending is None or action_id is None:
            log.debug("AMI: dropping unsolicited %r", message.response or "message")
            return
        if message.response.lower() in _ERROR_RESPONSES:
            self._finish(action_id, pending, AmiActionError(pending.action, message))
        elif pending.is_list and (message.starts_list or "will follow" in (message.message or "")):
            pending.response = message
        elif pending.is_list:  # a list action answered without a list: an empty list
            self._finish(action_id, pending, AmiList(message, (), message))
        else:
            self._finish(action_id, pending, message)

    def _collect(self, action_id: str, pending: _Pending, message: AmiMessage) -> None:
        if message.completes_list or (message.event or "").lower().endswith("complete"):
            response = pending.response or message
            self._finish(action_id, pending, AmiList(response, tuple(pending.events), message))
        elif len(pending.events) >= self._max_list_items:
            self._finish(action_id, pending, AmiActionError(pending.action, message))
            log.warning("AMI %s list exceeded %d items", pending.action, self._max_list_items)
        else:
            pending.events.append(message)

    def _finish(
        self, action_id: str, pending: _Pending, outcome: AmiMessage | AmiList | AmiError
    ) -> None:
        self._pending.pop(action_id, None)
        if pending.future.done():
            return
        if isinstance(outcome, AmiError):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)

    def _dispatch(self, event: str, message: AmiMessage) -> None:
        callbacks = [*self._subscribers.get(event.lower(), ()), *self._subscribers.get("*", ())]
        for callback in callbacks:
            try:
                callback(message)
            except Exception:  # noqa: BLE001 -- callback boundary: logged, reader survives
                self._callback_failed(callback, f"AMI {event} callback")

    def _fire_connected(self, reconnected: bool) -> None:
        for callback in list(self._connected_callbacks):
            try:
                result = callback(reconnected)
            except Exception:  # noqa: BLE001 -- callback boundary, logged once
                self._callback_failed(callback, "AMI on_connected callback")
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(self._await_callback(callback, result))
                self._callback_tasks.add(task)
                task.add_done_callback(self._callback_tasks.discard)

    async def _await_callback(self, callback: object, result: Awaitable[None]) -> None:
        try:
            await result
        except AmiError as exc:  # usually the link dropped during the resync
            log.warning("AMI on_connected callback gave up: %s", exc)
        except Exception:  # noqa: BLE001 -- task boundary, logged once
            self._callback_failed(callback, "AMI on_connected callback")

    def _callback_failed(self, callback: object, what: str) -> None:
        """Full traceback on a callback's first failure; one line after that (no log flood)."""
        if id(callback) in self._failed_callbacks:
            log.error("%s %r failed again", what, callback)
        else:
            self._failed_callbacks.add(id(callback))
            log.exception("%s %r failed", what, callback)
