"""The emulated Asterisk Manager Interface: TCP server, sessions, login, event fan-out.

Actions other than Login/Logoff go to `ami_actions`. A session handles one action at a time
(a synchronous Originate blocks it, and events that happen meanwhile are held and sent after
the response, as Asterisk does). List items reach a session even with events off. A user's
`eventfilter=` lines (`ami_filter`) decide which events reach that user's sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

from telephony import ami_codec as ami
from telephony.emulator import events
from telephony.emulator.ami_filter import EventFilter
from telephony.emulator.events import Pairs

log = logging.getLogger(__name__)

READ_CHUNK: Final = 4096
_EPOCH_TV: Final = "1970-01-01T00:00:00.000+0000"


def event_tv(at: float | None = None) -> str:
    at = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}+0000"


def response(msg: ami.AmiMessage, status: str, *pairs: tuple[str, str]) -> Pairs:
    """`Response:` first, the ActionID echoed second when one was sent."""
    aid = msg.action_id
    return [
        (ami.HEADER_RESPONSE, status),
        *([(ami.HEADER_ACTION_ID, aid)] if aid is not None else []),
        *pairs,
    ]


def error(msg: ami.AmiMessage, message: str) -> Pairs:
    return response(msg, ami.RESPONSE_ERROR, (ami.HEADER_MESSAGE, message))


def item_head(name: str, msg: ami.AmiMessage) -> Pairs:
    aid = msg.action_id
    return [(ami.HEADER_EVENT, name), *([(ami.HEADER_ACTION_ID, aid)] if aid is not None else [])]


def aid_tail(msg: ami.AmiMessage) -> Pairs:
    aid = msg.action_id
    return [(ami.HEADER_ACTION_ID, aid)] if aid is not None else []


def send_list(
    session: AmiSession,
    msg: ami.AmiMessage,
    message: str,
    items: list[Pairs],
    complete: str,
    extra: Pairs | None = None,
) -> None:
    """`EventList: start`, the items, then the `...Complete` event with ListItems."""
    session.send(
        response(
            msg,
            ami.RESPONSE_SUCCESS,
            (ami.HEADER_EVENT_LIST, ami.EVENT_LIST_START),
            (ami.HEADER_MESSAGE, message),
        )
    )
    for item in items:
        session.send(item)
    session.send(
        [
            *item_head(complete, msg),
            (ami.HEADER_EVENT_LIST, ami.EVENT_LIST_COMPLETE),
            (ami.HEADER_LIST_ITEMS, str(len(items))),
            *(extra or []),
        ]
    )


def parse_event_mask(value: str | None) -> frozenset[str] | None:
    """None: all classes; empty: events off."""
    text = (value or "on").strip().lower()
    if text in ("on", "yes", "true", "all", "1"):
        return None
    if text in ("off", "no", "false", "0", ""):
        return frozenset()
    return frozenset(p.strip() for p in text.split(",") if p.strip())


class AmiSession:
    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self._reader = reader
        self._writer = writer
        self.authenticated = False
        self.username = ""
        self.mask: frozenset[str] | None = frozenset()
        self.event_filter = EventFilter()
        self.session_id = f"0x{id(self):x}"
        self.session_tv = _EPOCH_TV
        self.closed = False
        self._held: list[bytes] | None = None
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        local = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.local = f"IPV4/TCP/{local[0]}/{local[1]}"

    # -- output ----------------------------------------------------------------------------
    def send(self, pairs: Pairs) -> None:
        self._write(ami.encode_message(pairs))

    def _write(self, data: bytes) -> None:
        if not self.closed and not self._writer.is_closing():
            self._writer.write(data)

    def deliver(self, pairs: Pairs, *, filtered: bool = True) -> None:
        """An event from the bus, if this session wants its class and the user's event
        filters let it through (`filtered=False`: written directly, as Asterisk's
        `astman_append` does, e.g. the FullyBooted of a login)."""
        if not self.authenticated or (self.mask is not None and not self.mask):
            return
        privilege = next((v for k, v in pairs if k == ami.HEADER_PRIVILEGE), "")
        klass = privilege.split(",")[0]
        if self.mask is not None and klass not in self.mask:
            return
        data = ami.encode_message(pairs)
        if filtered and self.event_filter and not self.event_filter.allows(data.decode()):
            return
        if self._held is not None:
            self._held.append(data)
        else:
            self._write(data)

    def hold_events(self) -> None:
        self._held = []

    def release_events(self) -> None:
        held, self._held = self._held or [], None
        for data in held:
            self._write(data)

    def is_closed(self) -> bool:
        return self.closed

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.drain()
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()

    # -- input -----------------------------------------------------------------------------
    async def run(self) -> None:
        decoder = ami.AmiDecoder(expect_banner=False)
        self._write(ami.encode_banner())
        try:
            while not self.closed and (data := await self._reader.read(READ_CHUNK)):
                for msg in decoder.feed(data):
                    await self.server.handle(self, msg)
                    if self.is_closed():
                        return
                await self._writer.drain()
        except ami.AmiProtocolError as exc:
            log.warning("AMI: bad input from %s, closing: %s", self.remote, exc)
        except (ConnectionError, OSError):
            pass
        finally:
            await self.close()


Dispatch = Callable[[AmiSession, ami.AmiMessage], Awaitable[None]]


class AmiServer:
    """Listens on host:port (0: ephemeral, the bound port is kept for restarts)."""

    def __init__(
        self,
        host: str,
        port: int,
        users: Mapping[str, str],
        *,
        event_filters: Mapping[str, Sequence[str]] | None = None,
        login_failure_delay_s: float,
        dispatch: Dispatch,
        uptime: Callable[[], int],
    ) -> None:
        self.host = host
        self.port = port
        self._users = dict(users)
        filters = dict(event_filters or {})
        if unknown := set(filters) - set(users):
            raise ValueError(f"event filters for unknown AMI users: {sorted(unknown)}")
        self._filters = {user: EventFilter(filters.get(user, ())) for user in users}
        self._delay = login_failure_delay_s
        self._dispatch = dispatch
        self._uptime = uptime
        self.sessions: set[AmiSession] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.booting = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for session in list(self.sessions):
            await session.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def broadcast(self, pairs: Pairs) -> None:
        for session in list(self.sessions):
            session.deliver(pairs)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        except Exception:  # task boundary: one broken session must not affect the others
            log.exception("AMI session %s failed", session.remote)
        finally:
            self.sessions.discard(session)
            if task is not None:
                self._tasks.discard(task)

    async def handle(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        action = (msg.action or "").strip()
        lowered = action.lower()
        if not action:
            session.send(error(msg, ami.MESSAGE_MISSING_ACTION))
        elif lowered == ami.ACTION_LOGIN.lower():
            await self._login(session, msg)
        elif lowered == ami.ACTION_LOGOFF.lower():
            session.send(
                response(msg, ami.RESPONSE_GOODBYE, (ami.HEADER_MESSAGE, ami.MESSAGE_GOODBYE))
            )
            await session.close()
        elif not session.authenticated:
            session.send(error(msg, ami.MESSAGE_PERMISSION_DENIED))
        else:
            await self._dispatch(session, msg)

    async def _login(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        user = msg.get(ami.HEADER_USERNAME) or ""
        secret = msg.get(ami.HEADER_SECRET)
        if user in self._users and secret == self._users[user]:
            session.authenticated, session.username = True, user
            session.event_filter = self._filters[user]
            session.mask = parse_event_mask(msg.get(ami.HEADER_EVENTS))
            session.session_tv = event_tv()
            session.send(
                response(msg, ami.RESPONSE_SUCCESS, (ami.HEADER_MESSAGE, ami.MESSAGE_AUTH_ACCEPTED))
            )
            if session.mask is None or session.mask:
                booted = events.fully_booted(self._uptime(), booting=self.booting)
                session.deliver(booted, filtered=False)
            self.broadcast(self._security(session, ami.EVENT_SUCCESSFUL_AUTH, user))
            return
        name = ami.EVENT_INVALID_PASSWORD if user in self._users else ami.EVENT_INVALID_ACCOUNT_ID
        self.broadcast(self._security(session, name, user))
        log.info("AMI login refused for user %r", user)
        await asyncio.sleep(self._delay)
        session.send(error(msg, ami.MESSAGE_AUTH_FAILED))
        await session.close()

    def _security(self, session: AmiSession, name: str, user: str) -> Pairs:
        ok = name == ami.EVENT_SUCCESSFUL_AUTH
        head = [
            *events.head(name, events.SECURITY),
            ("EventTV", event_tv()),
            ("Severity", "Informational" if ok else "Error"),
            ("Service", "AMI"),
            ("EventVersion", "2" if name == ami.EVENT_INVALID_PASSWORD else "1"),
            ("AccountID", user),
            ("SessionID", session.session_id),
            ("LocalAddress", session.local),
            ("RemoteAddress", session.remote),
        ]
        if ok:
            return [*head, ("UsingPassword", "0"), ("SessionTV", session.session_tv)]
        return [*head, ("SessionTV", _EPOCH_TV)]

    def bad_request(self, session: AmiSession, action: str) -> Pairs:
        return [
            *events.head(ami.EVENT_REQUEST_BAD_FORMAT, events.SECURITY),
            ("EventTV", event_tv()),
            ("Severity", "Error"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("SessionID", session.session_id),
            ("LocalAddress", session.local),
            ("RemoteAddress", session.remote),
            ("RequestType", f"Action: {action}"),
            ("SessionTV", session.session_tv),
            ("AccountID", session.username),
        ]
