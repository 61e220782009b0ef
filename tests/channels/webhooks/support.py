"""A webhook receiver on 127.0.0.1 that checks every request as a module author would, a
clock that runs faster than real time, and a dispatcher factory for the tests."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

from channels.webhooks.delivery import ATTEMPT_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER
from channels.webhooks.events import Event, parse_event
from channels.webhooks.policy import Backoff, Limits
from channels.webhooks.settings import Subscription
from channels.webhooks.signing import SIGNATURE_HEADER, SignatureError, verify

SECRET = b"whsec-test-0123456789abcdef"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FastClock:
    """``speed`` seconds of this clock pass in one real second (back-offs of seconds take
    milliseconds); it never goes backwards."""

    def __init__(self, speed: float = 200.0, start: datetime = T0) -> None:
        self.speed = speed
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def loop_seconds(self, seconds: float) -> float:
        return seconds / self.speed


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Real seconds to wait before answering.
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    event: Event
    attempt: int
    at: datetime
    signature_ok: bool
    headers_ok: bool


class Receiver:
    """Answers each request with the next scripted ``Answer`` (then ``default``); records
    every request it answered 2xx in ``delivered`` and all of them in ``requests``."""

    def __init__(self, clock: FastClock, secrets: Iterable[bytes] = (SECRET,)) -> None:
        self.clock = clock
        self.secrets = tuple(secrets)
        self.script: deque[Answer] = deque()
        self.default = Answer()
        self.requests: list[Received] = []
        self.delivered: list[Received] = []
        #: While cleared, requests wait (a receiver that hangs).
        self.open = asyncio.Event()
        self.open.set()
        self.in_flight = self.most_in_flight = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        if not self.port:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def ids(self) -> Counter[str]:
        return Counter(r.event.id for r in self.delivered)

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            body = await request.read()
            event = parse_event(body)
            try:
                verify(
                    request.headers.get(SIGNATURE_HEADER, ""),
                    body,
                    self.secrets,
                    now=self.clock.now().timestamp(),
                    tolerance_s=3600,  # 18 s of real time on a busy machine
                )
                signature_ok = True
            except SignatureError:
                signature_ok = False
            headers_ok = (
                request.headers.get(EVENT_ID_HEADER) == event.id
                and request.headers.get(EVENT_TYPE_HEADER) == event.type
                and request.content_type == "application/json"
            )
            received = Received(
                event,
                int(request.headers.get(ATTEMPT_HEADER, "0")),
                self.clock.now(),
                signature_ok,
                headers_ok,
            )
            self.requests.append(received)
            await self.open.wait()
            answer = self.script.popleft() if self.script else self.default
            if answer.delay_s:
                await asyncio.sleep(answer.delay_s)
            if 200 <= answer.status < 300:
                self.delivered.append(received)
            return web.Response(status=answer.status, headers=answer.headers)
        finally:
            self.in_flight -= 1


def subscription(
    name: str,
    url: str,
    *,
    events: tuple[str, ...] = ("*",),
    secrets: tuple[bytes, ...] = (SECRET,),
    max_attempts: int = 5,
    max_age_s: float = 86400.0,
    timeout_s: float = 5.0,
) -> Subscription:
    """Back-off from 1 s doubling to 8 s: milliseconds on a ``FastClock``."""
    limits = Limits(max_attempts, max_age_s, Backoff(initial_s=1.0, max_s=8.0))
    return Subscription(name, url, secrets, events, limits, timeout_s)


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, within_s: float = 20.0, what: str = ""
) -> None:
    """Wait until ``check()`` holds (a generous bound against hanging, not a speed claim)."""
    deadline = time.monotonic() + within_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what or check}")
        await asyncio.sleep(0.005)
