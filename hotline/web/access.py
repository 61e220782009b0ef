"""The web's side of the access log (``history.access_log``): record who read which
customer's data, without making the read wait.

The API's gateway records every read a handler names (``Reply.customers``) with the token's
name and scopes; a page handler that shows a customer's data calls :func:`note_read` with
the signed-in user's name and role. Records go through the history writer (queued at once,
group-committed, spooled while the store is down); without a writer (tests, a bare API)
they are written in the background, in batches. Records older than the retention period
are purged when the web starts and once a day after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from history.access_log import AccessLog, ActorKind, NewAccess
from history.context import Clock, utc_now
from history.writer import HistoryWriter

log = logging.getLogger(__name__)

PURGE_EVERY_S = 24 * 3600.0


class AccessTrail:
    def __init__(
        self,
        access_log: AccessLog,
        writer: HistoryWriter | None = None,
        *,
        retention_days: float | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.log = access_log
        self._writer = writer
        self._retention = None if retention_days is None else timedelta(days=retention_days)
        self._clock = clock
        self._waiting: list[NewAccess] = []
        self._flusher: asyncio.Task[None] | None = None

    def record(
        self,
        *,
        actor: str,
        actor_kind: ActorKind,
        role: str,
        customer_ids: Iterable[int | None],
        what: str,
        route: str,
        address: str | None,
    ) -> None:
        """One record per customer read (at once: nothing here waits)."""
        for customer_id in dict.fromkeys(c for c in customer_ids if c):
            try:
                new = NewAccess(
                    actor=actor[:64] or "?",
                    actor_kind=actor_kind,
                    role=role[:64] or "?",
                    customer_id=customer_id,
                    what=what[:64],
                    route=route[:256],
                    address=(address or "")[:64] or None,
                    at=self._clock(),
                )
            except ValidationError as error:  # a bug of the caller's: say so, never fail a read
                log.error("access record not made: %s", error)
                continue
            if self._writer is not None:
                self._writer.record_access(new)
            else:
                self._waiting.append(new)
        if self._waiting and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush_waiting())

    async def flush(self) -> None:
        """Wait until every record made so far is written (or spooled)."""
        if self._writer is not None:
            await self._writer.flush()
        while self._flusher is not None and not self._flusher.done():
            await self._flusher

    async def _flush_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self.log.record(batch)
            except (OSError, SQLAlchemyError) as error:
                log.error("access log unavailable (%s): %d records not written", error, len(batch))

    async def purge(self) -> int:
        if self._retention is None:
            return 0
        removed = await self.log.purge(self._clock() - self._retention)
        if removed:
            log.info("access log: %d records older than the retention period purged", removed)
        return removed

    async def keep_purging(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: purge at start, then once a day, until the web stops."""
        task = asyncio.get_running_loop().create_task(self._purge_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.flush()

    async def _purge_forever(self) -> None:
        while True:
            try:
                await self.purge()
            except (OSError, SQLAlchemyError) as error:
                log.warning("access log purge failed (%s); trying again tomorrow", error)
            await asyncio.sleep(PURGE_EVERY_S)


ACCESS = web.AppKey("hotline_access_trail", AccessTrail)


def route_of(request: web.Request) -> str:
    """The route's template (``/customers/{customer_id}``): never the query string."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else request.path


def note_read(request: web.Request, customer_ids: Iterable[int | None], what: str) -> None:
    """Record that the signed-in user of ``request`` read these customers' data (a page
    handler's call; nothing when the application keeps no access log)."""
    from hotline.web.auth.guard import current_session  # the pages' guard, not the API's

    trail = request.app.get(ACCESS)
    if trail is None:
        return
    user = current_session(request).user
    trail.record(
        actor=user.name,
        actor_kind="user",
        role=user.role.value,
        customer_ids=customer_ids,
        what=what,
        route=route_of(request),
        address=request.remote,
    )
