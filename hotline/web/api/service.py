"""The history API as one aiohttp sub-application under ``/api/v1/``.

What a write's status promises:

- **201** the store recorded it; **200** a retry, answered with what the first request
  recorded (nothing was written twice).
- **202** (interaction appends only, when a ``HistoryWriter`` is given) the store is down
  or catching up, and the interaction is in the writer's durable on-disk spool (fsync'd
  before the answer). It is applied in order when the store returns, and read back at the
  ``Location`` given (``/interactions/by-ref``; 503 there until then). A retry with the
  same key is safe at any time. A spooled write the store refuses on replay (an unknown
  ``customer_id``, say) cannot be answered any more: it is set aside in the spool's
  ``.rejected`` file and logged, never silently dropped. A spooled request's body could
  not be fingerprinted, so a retry of it (while down: spooled again; once replayed: 200
  with what the spool wrote) is not compared with it: it collapses into the first.
- **503** with ``Retry-After`` for every other request while the store is down: the
  client knows the write did not happen and retries, so nothing is lost either way.
- **429** with ``Retry-After`` when the token or the client's address has made more
  requests than its rate limit allows (``hotline.web.api.rate_limit``): nothing was done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import cached_property
from typing import Any

from aiohttp import web

from history.conversations import ConversationIntake, Conversations
from history.repository import HistoryRepository
from history.writer import HistoryWriter
from hotline.web.access import AccessTrail
from hotline.web.api import errors
from hotline.web.api.admin import AdminEndpoints
from hotline.web.api.auth import Authenticator
from hotline.web.api.context import ApiServices, ApiSettings
from hotline.web.api.conversations import ConversationEndpoints
from hotline.web.api.customers import CustomerEndpoints
from hotline.web.api.endpoints import PREFIX, Answer, Call, Gateway, Operation, Reply
from hotline.web.api.idempotency import IdempotencyStore
from hotline.web.api.interactions import InteractionEndpoints
from hotline.web.api.openapi import build_document
from hotline.web.api.rate_limit import RateLimiter
from hotline.web.api.timeline import TimelineEndpoints
from hotline.web.tokens import TokenStore

TITLE = "hotline customer history API"
VERSION = "1.0.0"


class HistoryApi:
    def __init__(
        self,
        repository: HistoryRepository,
        *,
        writer: HistoryWriter | None = None,
        settings: ApiSettings | None = None,
        tokens: TokenStore | None = None,
        conversations: Conversations | None = None,
        intake: ConversationIntake | None = None,
        access: AccessTrail | None = None,
    ) -> None:
        """``conversations`` carries the configured message caps (default ones otherwise);
        attachments are served when ``repository`` has an attachment store. ``intake``
        routes what the conversation endpoints store (none: nothing is routed). ``access``
        records every read of a customer's data with the token that made it."""
        self.access = access
        self.settings = settings or ApiSettings()
        clock = repository.context.clock
        self.tokens = tokens or TokenStore(repository.engine, clock=clock)
        self.authenticator = Authenticator(
            self.tokens,
            fresh_s=self.settings.token_fresh_s,
            stale_s=self.settings.token_stale_s,
            retry_after_s=self.settings.retry_after_s,
            snapshot=self.settings.token_snapshot,
        )
        limits = self.settings.rate_limits
        self.rate_limiter = (
            None if limits is None else RateLimiter(limits, clock=self.settings.rate_clock)
        )
        services = ApiServices(
            repository=repository,
            writer=writer,
            idempotency=IdempotencyStore(repository.engine, clock=clock),
            settings=self.settings,
            conversations=conversations or Conversations(repository),
            intake=intake,
        )
        groups = (
            CustomerEndpoints(services),
            TimelineEndpoints(services),
            InteractionEndpoints(services),
            ConversationEndpoints(services),
            AdminEndpoints(services),
        )
        self.operations: list[Operation] = [op for g in groups for op in g.operations()]
        self.operations.append(
            Operation(
                "GET",
                "/openapi.json",
                "openapi",
                "This document",
                self._openapi,
                (Answer(200, "The OpenAPI 3.1 document.", dict[str, Any]),),
                public=True,
            )
        )

    @cached_property
    def document(self) -> dict[str, Any]:
        """Built on first use (tens of milliseconds), then served as is."""
        return build_document(self.operations, title=TITLE, version=VERSION)

    async def _openapi(self, call: Call) -> Reply:
        return Reply(200, self.document)

    def application(self) -> web.Application:
        """The sub-application (its paths relative to ``PREFIX``)."""
        middlewares = [errors.middleware(self.settings.retry_after_s)]
        if self.rate_limiter is not None:  # inside the error shape: a 429 is JSON too
            middlewares.append(self.rate_limiter.middleware())
        app = web.Application(
            middlewares=middlewares,
            client_max_size=self.settings.max_body_bytes + 1,
        )
        gateway = Gateway(
            self.authenticator, max_body_bytes=self.settings.max_body_bytes, access=self.access
        )
        # Literal paths first: /interactions/by-ref must not be taken for an id.
        for op in sorted(self.operations, key=lambda o: (o.path.count("{"), o.path)):
            app.router.add_route(op.method, op.path, gateway.bind(op), name=op.name)
        return app

    def mount(self, app: web.Application) -> None:
        app.add_subapp(PREFIX, self.application())
        if self.settings.token_snapshot is not None:
            app.cleanup_ctx.append(self._snapshot_at_start)

    async def _snapshot_at_start(self, app: web.Application) -> AsyncIterator[None]:
        """The tokens on disk as soon as the store answers (in the background: a store that
        is down must not hold the web server's start)."""
        task = asyncio.get_running_loop().create_task(self._save_snapshot_when_up())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _save_snapshot_when_up(self) -> None:
        delay = 1.0
        while not await self.authenticator.save_snapshot():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
